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
    for lo in range(0, n, chunk_size):
        chunk = frame.iloc[lo:lo + chunk_size]
        if vendor == "postgresql":
            buffer = io.StringIO()
            chunk.to_csv(buffer, header=False, index=False, na_rep=_PG_NULL)
            sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT csv, NULL '{_PG_NULL}')"
            with cursor.cursor.copy(sql) as copy:
                copy.write(buffer.getvalue())
        else:
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
            cursor.executemany(sql, _python_rows(chunk))
        if progress:
            progress(len(chunk))
    return n


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
