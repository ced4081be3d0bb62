"""Reading an export's text into typed columns, for `importer.py`: decoding, CSV tokenising with line
numbers, header recognition, and the per-value clean-ups (ids, numbers, dates).

Why apart: these are the parts that meet the retailer's file as it is (encodings, separators,
decimal marks, date spellings); they know nothing of the shop's tables. Every conversion runs on the
distinct values only (`_on_uniques`), so a 500k-line file costs what its few thousand distinct
strings cost.
"""
from __future__ import annotations

import bz2
import codecs
import contextlib
import gzip
import lzma
import re
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from .importer import ImportOptions

# Header names other exports use, accepted without --map. Keys are compared after `_header_key`
# (lower case, only letters and digits), so "Customer ID", "CustomerID" and "customer_id" are one name.
# They cover the RFM + K-means peer system's orders.csv and the common online-retail exports (the UCI
# Online Retail files: InvoiceNo/Invoice, StockCode, Description, Quantity, InvoiceDate, UnitPrice/Price,
# CustomerID/Customer ID, Country), whose users should not need a --map for a standard file.
ALIASES = {
    "orderdate": "ordered_at", "orderamount": "line_total",
    "invoiceno": "order_id", "invoice": "order_id", "invoiceid": "order_id", "invoicenumber": "order_id",
    "orderno": "order_id", "ordernumber": "order_id",
    "invoicedate": "ordered_at", "orderdatetime": "ordered_at", "orderedat": "ordered_at",
    "stockcode": "product_id", "sku": "product_id", "itemid": "product_id",
    "description": "product_name", "productname": "product_name", "itemname": "product_name",
    "unitprice": "unit_price", "price": "unit_price", "linetotal": "line_total",
    "sales": "line_total", "amount": "line_total", "lineamount": "line_total", "revenue": "line_total",
    "customerid": "customer_id", "customer": "customer_id", "clientid": "customer_id",
    "qty": "quantity", "productid": "product_id", "orderid": "order_id",
}


def _header_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())

_BAD_LINE = re.compile(r"Skipping line (\d+): ([^\n]+)")


def _check_text(path: Path, encoding: str) -> None:
    """Refuse, naming the line, a file that does not decode or holds a NUL character: PostgreSQL cannot
    store NUL in text at all and SQLite would keep it silently, so every database gets the same clear
    error before anything is written. Read in blocks: a large export never sits in memory twice."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    line = 1
    with _open_bytes(path) as fh:
        while True:
            block = fh.read(1 << 20)
            final = not block
            try:
                text = decoder.decode(block, final=final)
            except UnicodeDecodeError as exc:
                bad_line = line + exc.object[: exc.start].count(b"\n")
                raise ValueError(f"{path.name}:{bad_line}: not valid {encoding.removesuffix('-sig')} "
                                 f"(byte {exc.object[exc.start]:#04x}); pass --encoding") from exc
            nul = text.find("\x00")
            if nul >= 0:
                raise ValueError(f"{path.name}:{line + text.count(chr(10), 0, nul)}: NUL character in the "
                                 "file; remove it (binary or truncated export?)")
            line += text.count("\n")
            if final:
                return


# Compressed exports are read as they are (pandas infers the same compression from the suffix).
_OPENERS: dict[str, Callable] = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
WORKBOOK_SUFFIXES = {".xlsx", ".xlsm"}
# a workbook's rows are numbered per sheet; several sheets share one line space by this stride
SHEET_STRIDE = 10_000_000


@contextlib.contextmanager
def _open_bytes(path: Path) -> Iterator[IO[bytes]]:
    """The file's decompressed bytes: .gz, .bz2, .xz, or a .zip holding exactly one file."""
    suffix = path.suffix.lower()
    if suffix != ".zip":
        with _OPENERS.get(suffix, open)(path, "rb") as fh:
            yield fh
        return
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
        if len(names) != 1:
            raise ValueError(f"{path.name} holds {len(names)} files; a zipped export must hold exactly one")
        if Path(names[0]).suffix.lower() in WORKBOOK_SUFFIXES:
            raise ValueError(f"{path.name} holds the workbook {names[0]}; unzip it and import the workbook")
        with archive.open(names[0]) as fh:
            yield fh


def read_table(path: Path, opts: ImportOptions) -> tuple[pd.DataFrame, np.ndarray, list[tuple[int, str]]]:
    """Every column of a CSV (plain or compressed) or an Excel workbook as text; see `_read_csv`."""
    suffix = path.suffix.lower()
    if suffix in WORKBOOK_SUFFIXES:
        return _read_workbook(path, opts.sheet)
    if suffix in {".xls", ".ods", ".numbers"}:
        raise ValueError(f"{path.name}: {suffix} files are not read; save it as .xlsx or CSV")
    return _read_csv(path, opts)


def _read_workbook(path: Path, sheet: str | None) -> tuple[pd.DataFrame, np.ndarray, list[tuple[int, str]]]:
    """The sheets of an Excel workbook that share the first sheet's header, stacked (or the one `sheet`).

    Why every sheet: the commonest public retail export (UCI Online Retail II) splits its two years
    over two sheets with one header, and importing only the first would silently lose a year. A line
    is `sheet index x SHEET_STRIDE + Excel row`; `_Errors` names it as file[Sheet] and the row.
    """
    try:
        import python_calamine  # noqa: F401  (pandas' Rust reader: 9x openpyxl's speed, same cells)
    except ImportError as exc:
        raise ValueError(f"{path.name}: reading Excel files needs python-calamine (pip install python-calamine)") from exc
    sheets = pd.read_excel(path, sheet_name=None if sheet is None else sheet, dtype=str, keep_default_na=False,
                           na_values=[""], engine="calamine")
    if isinstance(sheets, pd.DataFrame):
        sheets = {sheet: sheets}
    named = [(name, frame) for name, frame in sheets.items() if len(frame.columns)]
    if not named:
        raise ValueError(f"{path.name}: the workbook has no sheet with a header row")
    header = [str(c).strip() for c in named[0][1].columns]
    frames, lines, names = [], [], []
    for index, (name, frame) in enumerate(named):
        frame.columns = [str(c).strip() for c in frame.columns]
        if frame.columns.tolist() != header:
            raise ValueError(f"{path.name}: sheet {name!r} has other columns than sheet {named[0][0]!r}; "
                             "pass --sheet NAME to import one sheet")
        frames.append(frame)
        lines.append(index * SHEET_STRIDE + np.arange(2, 2 + len(frame)))
        names.append(str(name))
    frame = pd.concat(frames, ignore_index=True)
    line_numbers = np.concatenate(lines)
    blank = frame.isna().all(axis=1).to_numpy()
    frame = frame[~blank].reset_index(drop=True)
    frame.attrs["encoding"] = "xlsx"
    frame.attrs["sheets"] = names
    return frame, line_numbers[~blank], []


def _read_csv(path: Path, opts: ImportOptions) -> tuple[pd.DataFrame, np.ndarray, list[tuple[int, str]]]:
    """Read every column as text. Returns the frame, each row's physical line number (header = 1) and
    the lines the tokenizer rejected (wrong field count)."""
    kwargs = {"sep": r"\s+"} if opts.sep in {"whitespace", r"\s+"} else {"sep": opts.sep}
    encoding = _encoding(path, opts.encoding)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding=encoding,
                            on_bad_lines="warn", skip_blank_lines=False, **kwargs)
    rejected = []
    for w in caught:
        text = str(w.message)
        for match in _BAD_LINE.finditer(text):  # the C parser's "Skipping line 4: expected 8 fields, saw 9"
            rejected.append((int(match.group(1)), f"malformed row: {match.group(2).strip()}"))
    frame.columns = [str(c).strip() for c in frame.columns]
    bad = {line for line, _ in rejected}
    candidates = np.arange(2, 2 + len(frame) + len(bad))
    lines = candidates[~np.isin(candidates, list(bad))][: len(frame)]
    blank = frame.isna().all(axis=1).to_numpy()
    frame = frame[~blank].reset_index(drop=True)
    frame.attrs["encoding"] = encoding
    return frame, lines[~blank], rejected


def _encoding(path: Path, requested: str) -> str:
    """The encoding to read with. "auto" tries UTF-8, then Windows-1252: a retailer's export saved by
    Excel as "CSV" is Windows-1252 in Western locales ("£", "é"), and refusing it would make the
    default command fail on the commonest real file. A named encoding is strict, and a file neither
    reading decodes is refused with the UTF-8 error (line and byte)."""
    if requested != "auto":
        _check_text(path, requested)
        return requested
    try:
        _check_text(path, "utf-8-sig")
        return "utf-8-sig"
    except ValueError as first:
        try:
            _check_text(path, "cp1252")
        except ValueError:
            raise first from None
        return "cp1252"


def _apply_mapping(frame: pd.DataFrame, mapping: dict[str, str], known: set[str]) -> pd.DataFrame:
    out = pd.DataFrame(index=frame.index)
    missing = []
    for src, dst in mapping.items():
        parts = [p.strip() for p in src.split("+")]
        absent = [p for p in parts if p not in frame.columns]
        if absent:
            missing.extend(absent)
            continue
        if dst not in known:
            raise ValueError(f"--map target {dst!r} is not one of {sorted(known)}")
        value = frame[parts[0]]
        for p in parts[1:]:
            value = value.str.cat(frame[p], sep=" ")
        out[dst] = value
    if missing:
        raise ValueError(f"--map names columns the file does not have: {missing}; it has {list(frame.columns)}")
    mapped_sources = {p.strip() for src in mapping for p in src.split("+")}
    rest = [col for col in frame.columns if col not in mapped_sources]
    # Exact canonical names first, so a file with both `order_id` and `Invoice` keeps `order_id`.
    for col in rest:
        if col in known and col not in out.columns:
            out[col] = frame[col]
    for col in rest:
        key = _header_key(col)
        name = ALIASES.get(key) or next((k for k in known if _header_key(k) == key), None)
        if name in known and name not in out.columns:
            out[name] = frame[col]
    return out


def _on_uniques(series: pd.Series, fn: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Apply a (slow, per-string) transformation to the distinct values only: a 500k-line file has a
    few thousand products, prices and quantities and far fewer distinct ids than lines."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    converted = fn(pd.Series(uniques, dtype=object)).to_numpy(dtype=object)
    out = np.empty(len(codes), dtype=object)
    valid = codes >= 0
    out[valid] = converted[codes[valid]]
    out[~valid] = None
    return pd.Series(out, index=series.index, dtype=object)


def _stripped(series: pd.Series, case: str | None = None, width: int | None = None) -> pd.Series:
    def clean(s: pd.Series) -> pd.Series:
        s = s.str.strip()
        s = s.str.lower() if case == "lower" else s.str.upper() if case == "upper" else s
        return s.str.slice(0, width) if width else s
    return _on_uniques(series, clean)


def _clean_ids(series: pd.Series, prefix: str = "") -> pd.Series:
    """Trim, and turn '17850.0' (an integer id that went through a float column) back into '17850'."""
    def clean(s: pd.Series) -> pd.Series:
        s = s.str.strip().str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
        s = s.where(s != "", None)
        return (prefix + s) if prefix else s
    return _on_uniques(series, clean)


class _Errors:
    def __init__(self, path: Path, lines: np.ndarray, sheets: list[str] | None = None) -> None:
        self.path, self.lines, self.sheets = str(path), lines, sheets
        self.bad = np.zeros(len(lines), dtype=bool)
        self.items: list[tuple[str, np.ndarray, list[str]]] = []

    def add(self, mask: np.ndarray | pd.Series, message: str, values: pd.Series | None = None) -> None:
        """Flag rows; with `values` each message ends with the offending value (built for bad rows only)."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        msgs = ([f"{message} {v!r}" for v in values[mask].tolist()] if values is not None
                else [message] * int(mask.sum()))
        self.items.append((self.path, self.lines[mask], msgs))
        self.bad |= mask

    def collect(self) -> list[tuple[str, int, str]]:
        rows = [self._where(p, int(line)) + (m,) for p, lines, msgs in self.items
                for line, m in zip(lines, msgs, strict=True)]
        return sorted(rows, key=lambda r: (r[0], r[1]))

    def _where(self, path: str, line: int) -> tuple[str, int]:
        """(file, line); a row of a workbook of several sheets is (file[Sheet], Excel row)."""
        if self.sheets and len(self.sheets) > 1:
            return f"{path}[{self.sheets[line // SHEET_STRIDE]}]", line % SHEET_STRIDE
        return path, line


def _to_datetime(raw: pd.Series, fmt: str | None, tz: str, dayfirst: bool) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "could not infer format" -> per-value parsing
        if tz == "UTC":
            return pd.to_datetime(raw, format=fmt, errors="coerce", utc=True, dayfirst=dayfirst)
        parsed = pd.to_datetime(raw, format=fmt, errors="coerce", dayfirst=dayfirst)
        if parsed.dt.tz is None:
            parsed = parsed.dt.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
        return parsed.dt.tz_convert("UTC")


def _parse_dates(raw: pd.Series, fmt: str | None, tz: str) -> pd.Series:
    index = raw.index
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)  # parse each distinct string once
    raw = pd.Series(uniques, dtype=object)
    parsed = _to_datetime(raw, fmt, tz, dayfirst=False)
    if fmt is None and parsed.isna().any() and raw.astype(str).str.contains("/", regex=False).any():
        # The format is inferred from the first value, so a day-first file ("01/12/2010 08:26", the
        # UCI exports) whose first days are <= 12 is read month-first and every day above 12 fails.
        # Whichever reading parses more of the file wins; a tie keeps the month-first default.
        other = _to_datetime(raw, fmt, tz, dayfirst=True)
        if other.isna().sum() < parsed.isna().sum():
            parsed = other
    if fmt is None and parsed.isna().any():
        # files appended from two exports mix the inferred format with ISO 8601 ("2011-12-09 12:50:00");
        # those values are read as ISO rather than refused
        rest = parsed.isna().to_numpy()
        parsed = parsed.copy()
        parsed[rest] = _to_datetime(raw[rest], "ISO8601", tz, dayfirst=False)
    parsed = parsed.dt.floor("s").dt.tz_localize(None).to_numpy()
    out = np.full(len(codes), np.datetime64("NaT"), dtype=parsed.dtype)
    out[codes >= 0] = parsed[codes[codes >= 0]]
    return pd.Series(out, index=index).dt.tz_localize("UTC")


_DECIMAL_COMMA = r"[+-]?\d{1,3}(?:\.\d{3})*,\d+|[+-]?\d+,\d+"


def _to_number(s: pd.Series, decimal_comma: bool) -> pd.Series:
    s = s.str.strip().str.replace(r"^\$", "", regex=True)
    if decimal_comma:  # "1,25" and "1.234,50" from a spreadsheet in a European locale
        comma = s.str.fullmatch(_DECIMAL_COMMA).fillna(False)
        s = s.where(~comma, s.str.replace(".", "", regex=False).str.replace(",", ".", regex=False))
    return pd.to_numeric(s, errors="coerce").astype(object)


def _numeric(frame: pd.DataFrame, col: str, errors: _Errors, label: str, *, optional: bool = False,
             decimal_comma: bool = False) -> pd.Series:
    """The column as float; an empty cell is an error unless `optional` (then NaN = unknown)."""
    raw = frame[col]
    value = _on_uniques(raw, lambda s: _to_number(s, decimal_comma))
    value = pd.to_numeric(value, errors="coerce").astype("float64")
    if not optional:
        errors.add(raw.isna().to_numpy(), f"missing {label}")
    errors.add((raw.notna() & value.isna()).to_numpy(), f"invalid {label}", raw)
    return value


# --- command-line text ----------------------------------------------------------------------

def parse_mapping(text: str | None) -> dict[str, str]:
    """'InvoiceNo=order_id,StockCode=product_id' -> dict; 'Date+Time=ordered_at' joins two columns."""
    mapping: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise ValueError(f"mapping item {part!r} is not SRC=DST")
        src, dst = (s.strip() for s in part.split("=", 1))
        if not src or not dst:
            raise ValueError(f"mapping item {part!r} is not SRC=DST")
        mapping[src] = dst
    return mapping


def parse_values(text: str | None, *, multi: bool = False) -> dict:
    """'col=value,col=value' -> dict (with multi=True each column collects a list of values)."""
    out: dict = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise ValueError(f"{part!r} is not COLUMN=VALUE")
        key, value = (s.strip() for s in part.split("=", 1))
        if multi:
            out.setdefault(key, []).append(value)
        else:
            out[key] = value
    return out
