"""Set-based writes of whole DataFrames into a table, shared by the generator and the CSV import.

Why not bulk_create: building a million model instances costs more than the database work. Here
PostgreSQL gets one COPY stream of CSV text rendered by pandas (C code, no per-row Python), SQLite one
executemany per chunk. Callers pass values already in the database's text form (ids as 32-hex or dashed
UUIDs, timestamps as 'YYYY-MM-DD HH:MM:SS' on SQLite and with '+00:00' on PostgreSQL).
"""
from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pandas as pd

# In COPY's CSV format an unquoted empty field is NULL; this marker keeps '' and NULL apart.
_PG_NULL = "\\N"


def insert_frame(cursor, table: str, columns: list[str], frame: pd.DataFrame, *, chunk_size: int = 100_000,
                 progress: Callable[[int], None] | None = None) -> int:
    """Insert `frame[columns]` into `table` with the connection behind a Django cursor; returns rows."""
    vendor = cursor.db.vendor
    frame = frame[columns]
    n = len(frame)
    if vendor == "postgresql":
        # one COPY per table, fed chunk by chunk: the server parses a chunk while the next is rendered
        # (a COPY per chunk made each side wait for the other at every statement's end)
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT csv, NULL '{_PG_NULL}')"
        with cursor.cursor.copy(sql) as copy:
            for lo in range(0, n, chunk_size):
                chunk = frame.iloc[lo:lo + chunk_size]
                copy.write(_csv_text(chunk))
                if progress:
                    progress(len(chunk))
        return n
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
    for lo in range(0, n, chunk_size):
        chunk = frame.iloc[lo:lo + chunk_size]
        cursor.executemany(sql, _python_rows(chunk))
        if progress:
            progress(len(chunk))
    return n


def _csv_text(frame: pd.DataFrame) -> str:
    text = _plain_csv(frame)
    if text is None:
        buffer = io.StringIO()
        frame.to_csv(buffer, header=False, index=False, na_rep=_PG_NULL)
        text = buffer.getvalue()
    return text


def _plain_csv(frame: pd.DataFrame) -> str | None:
    """The same text as `to_csv` for a frame that needs no CSV quoting, in a third of its time (to_csv
    was half of the generator's PostgreSQL write); None when some field would need quoting (a comma,
    quote or line break in a string) or a column is not plain strings, integers, floats or booleans,
    so the caller falls back to pandas."""
    if len(frame.columns) < 2 or len(frame) == 0:
        return None  # a lone empty field is quoted by to_csv
    cols = []
    for name in frame.columns:
        series = frame[name]
        kind = series.dtype.kind
        if kind in "iub" and not series.hasnans:
            cols.append(list(map(str, series.tolist())))
        elif series.dtype == np.float64:  # float32 and nullable floats print differently: pandas
            values = series.tolist()
            cols.append([_PG_NULL if v != v else repr(v) for v in values])
        elif kind in "OU" or isinstance(series.dtype, pd.StringDtype):
            values = series.to_numpy(dtype=object, na_value=_PG_NULL).tolist()
            if not all(type(v) is str for v in values):
                return None
            joined = "".join(values)
            if any(ch in joined for ch in _CSV_SPECIAL):
                return None
            cols.append(values)
        else:
            return None
    return "\n".join(map(",".join, zip(*cols, strict=True))) + "\n"


_CSV_SPECIAL = (",", '"', "\n", "\r")


def _python_rows(frame: pd.DataFrame) -> list[tuple]:
    """Plain Python tuples with None for missing values (sqlite3 cannot bind numpy scalars or NA)."""
    cols = []
    for name in frame.columns:
        series = frame[name]
        if series.dtype.kind in "iub":
            cols.append(series.tolist())
        elif series.dtype.kind == "f":
            values = series.to_numpy()
            cols.append([None if v != v else v for v in values.tolist()] if np.isnan(values).any() else values.tolist())
        else:
            values = series.to_numpy(dtype=object, na_value=None)
            cols.append(values.tolist())
    return list(zip(*cols, strict=True))
