"""Import order histories from CSV files into the shop's own tables (`manage.py import_orders`).

Why it is built this way:
- Everything is vectorized with pandas (no Python loop over rows) and written set-based: the cleaned
  rows go into temporary tables with one COPY/executemany each (`bulk.insert_frame`), then a handful of
  INSERT … SELECT / UPDATE … FROM statements upsert them. 500k lines take seconds, not minutes.
- Upserts are keyed by the shop's external ids (Customer.external_id, Order.external_id, Product.sku,
  and (order, product) for lines) and only touch rows whose values differ, so importing the same file
  twice changes nothing.
- The whole import runs in one transaction: a bad file (with the default `on_error="abort"`) or any
  database error leaves the shop exactly as it was.
- One line-oriented model covers every supported shape: the RFM + K-means peer system's order totals (an order is a line of
  the synthetic product IMPORTED_TOTAL_SKU), item-level files (UCI Online Retail, Superstore, the bread
  basket) and CDNOW's per-customer-day amounts (no order id: one order per customer and timestamp).
"""
from __future__ import annotations

import codecs
import re
import sqlite3
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from django.db import connection, transaction

from .bulk import insert_frame

IMPORTED_TOTAL_SKU = "IMPORTED-ORDER-TOTAL"
IMPORTED_TOTAL_NAME = "Imported order total"
IMPORTED_CATEGORY = "Imported"
GUEST_CUSTOMER = "guest"

LINE_COLUMNS = {"order_id", "customer_id", "ordered_at", "product_id", "product_name", "category", "quantity",
                "unit_price", "line_total", "status", "currency", "email", "country", "stock"}
CUSTOMER_COLUMNS = {"customer_id", "email", "country", "created_at"}
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

STATUS_MAP = {
    "completed": "shipped", "complete": "shipped", "delivered": "shipped", "shipped": "shipped", "closed": "shipped",
    "fulfilled": "shipped", "paid": "paid", "processing": "paid", "pending": "pending", "new": "pending",
    "open": "pending", "cancelled": "cancelled", "canceled": "cancelled", "void": "cancelled",
    "refunded": "refunded", "returned": "refunded",
}
MAX_REPORTED_ERRORS = 20
# Stock codes online-retail exports use for what is not merchandise: postage (POST, DOT = dotcom
# postage, C2 = carriage), manual entries (M), discounts (D), samples (S), bank and marketplace charges,
# bad-debt adjustments (B), charity (CRUK), pads. As products they would be the most "bought together"
# item of every basket and a product to reorder; as demand they add fees to sales. Skipped and counted
# by default (--service-codes none keeps them, a list replaces this one). Compared without case.
SERVICE_CODES = ("POST", "DOT", "C2", "C3", "M", "D", "S", "B", "CRUK", "PADS", "BANK CHARGES", "AMAZONFEE",
                 "ADJUST", "ADJUST2")


class ImportAborted(Exception):
    """The file has bad rows and on_error is "abort"; nothing was written."""

    def __init__(self, report: ImportReport) -> None:
        self.report = report
        super().__init__(report.error_summary())


@dataclass
class ImportOptions:
    column_map: dict[str, str] = field(default_factory=dict)  # source column (or "A+B") -> canonical name
    date_format: str | None = None  # strftime format of ordered_at; None = inferred from the first value
    customers_date_format: str | None = None
    timezone: str = "UTC"  # zone of naive timestamps in the file
    sep: str = ","  # "whitespace" for fixed-width files such as CDNOW
    encoding: str = "auto"  # "auto": UTF-8 (BOM dropped), else Windows-1252 (Excel's "CSV" in Western locales)
    on_error: str = "abort"  # "abort" | "skip"
    missing_customer: str = "skip"  # "skip" | "guest"
    returns: str = "skip"  # "skip" | "refund"
    defaults: dict[str, str] = field(default_factory=dict)  # constant for an absent/empty column
    exclude: dict[str, list[str]] = field(default_factory=dict)  # drop rows whose column has one of the values
    id_prefix: str = ""
    default_status: str = "paid"
    default_currency: str = "EUR"
    channel: str = "web"
    service_codes: tuple[str, ...] = SERVICE_CODES  # product ids that are fees, postage, adjustments
    decimal: str = "auto"  # "." | "," | "auto" (a decimal comma is read when the separator is not a comma)

    def validate(self) -> None:
        choices = {"on_error": {"abort", "skip"}, "missing_customer": {"skip", "guest"},
                   "returns": {"skip", "refund"}, "decimal": {"auto", ".", ","}, "default_status": set(STATUS_MAP.values()),
                   "channel": {"web", "store", "mobile", "marketplace"}}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {sorted(allowed)}, not {getattr(self, name)!r}")
        if len(self.default_currency) != 3:
            raise ValueError("default_currency must be a 3-letter code")


@dataclass
class ImportReport:
    lines_read: int = 0
    lines_imported: int = 0
    excluded: int = 0
    skipped_no_customer: int = 0
    skipped_returns: int = 0
    encoding: str = ""  # what the order file was read as ("cp1252" when "auto" fell back)
    skipped_service: int = 0  # postage, fees, manual and adjustment codes (SERVICE_CODES)
    skipped_zero_quantity: int = 0
    skipped_negative_price: int = 0  # accounting adjustments ("Adjust bad debt"), not sales
    returns_imported: int = 0
    merged_duplicates: int = 0
    invalid: int = 0
    errors: list[tuple[str, int, str]] = field(default_factory=list)  # (file, line, message)
    customers_read: int = 0
    written: dict[str, dict[str, int]] = field(default_factory=dict)  # table -> created/updated/deleted
    seconds: float = 0.0
    dry_run: bool = False

    def error_summary(self, limit: int = MAX_REPORTED_ERRORS) -> str:
        head = [f"{Path(f).name}:{line}: {msg}" for f, line, msg in self.errors[:limit]]
        more = len(self.errors) - limit
        if more > 0:
            head.append(f"… and {more} more")
        return f"{self.invalid} invalid row(s):\n  " + "\n  ".join(head)

    def changed(self) -> int:
        return sum(sum(v.values()) for v in self.written.values())


# --- parsing ------------------------------------------------------------------------------------

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


_BAD_LINE = re.compile(r"Skipping line (\d+): ([^\n]+)")


def _check_text(path: Path, encoding: str) -> None:
    """Refuse, naming the line, a file that does not decode or holds a NUL character: PostgreSQL cannot
    store NUL in text at all and SQLite would keep it silently, so every database gets the same clear
    error before anything is written. Read in blocks: a large export never sits in memory twice."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    line = 1
    with open(path, "rb") as fh:
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
    def __init__(self, path: Path, lines: np.ndarray) -> None:
        self.path, self.lines = str(path), lines
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
        rows = [(p, int(line), m) for p, lines, msgs in self.items for line, m in zip(lines, msgs, strict=True)]
        return sorted(rows, key=lambda r: (r[0], r[1]))


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


def read_order_lines(path: Path, opts: ImportOptions, report: ImportReport) -> tuple[pd.DataFrame, list]:
    """Validated, rule-applied line frame: order_id, customer_id, ordered_at, product_id, product_name,
    category, quantity, unit_price, status, currency, email, country (+ line). Returns it with errors."""
    raw, lines, rejected = _read_csv(path, opts)
    report.lines_read += len(raw) + len(rejected)
    report.encoding = raw.attrs["encoding"]
    frame = _apply_mapping(raw, opts.column_map, LINE_COLUMNS)
    for col, value in opts.defaults.items():
        if col not in LINE_COLUMNS:
            raise ValueError(f"--default column {col!r} is not one of {sorted(LINE_COLUMNS)}")
        frame[col] = frame[col].fillna(value) if col in frame else value
    if "ordered_at" not in frame:
        raise ValueError(f"{path.name} has no ordered_at column (map one with --map SRC=ordered_at); "
                         f"it has {list(raw.columns)}")
    if "unit_price" not in frame and "line_total" not in frame:
        raise ValueError(f"{path.name} needs unit_price or line_total (order_amount); map one with --map, "
                         "or give --default unit_price=0")
    if "order_id" not in frame and "customer_id" not in frame:
        raise ValueError(f"{path.name} has neither order_id nor customer_id; map at least one")

    keep = np.ones(len(frame), dtype=bool)
    for col, values in opts.exclude.items():
        if col not in frame:
            raise ValueError(f"--exclude column {col!r} is not in the mapped file")
        drop = _stripped(frame[col]).isin(values).to_numpy()
        report.excluded += int(drop.sum())
        keep &= ~drop
    if opts.service_codes and "product_id" in frame:
        codes = {c.strip().upper() for c in opts.service_codes}
        service = _stripped(frame["product_id"], "upper").isin(codes).to_numpy() & keep
        report.skipped_service += int(service.sum())
        keep &= ~service
    frame, lines = frame[keep].reset_index(drop=True), lines[keep]

    errors = _Errors(path, lines)
    comma = opts.decimal == "," or (opts.decimal == "auto" and opts.sep != ",")
    out = pd.DataFrame(index=frame.index)
    out["ordered_at"] = _parse_dates(frame["ordered_at"], opts.date_format, opts.timezone)
    errors.add(frame["ordered_at"].isna().to_numpy(), "missing ordered_at")
    errors.add((frame["ordered_at"].notna() & out["ordered_at"].isna()).to_numpy(), "invalid ordered_at",
               frame["ordered_at"])

    if "quantity" in frame:
        qty = _numeric(frame, "quantity", errors, "quantity", decimal_comma=comma)
        errors.add((qty.notna() & (qty != qty.round())).to_numpy(), "quantity is not a whole number")
        qty = qty.fillna(1).round().astype("int64")
    else:
        qty = pd.Series(1, index=frame.index, dtype="int64")
    out["quantity"] = qty
    if "unit_price" in frame:
        unit = _numeric(frame, "unit_price", errors, "unit_price", decimal_comma=comma)
    else:
        total = _numeric(frame, "line_total", errors, "line_total", decimal_comma=comma)
        unit = total / qty
    out["unit_price"] = unit.fillna(0)

    customer = _clean_ids(frame["customer_id"], opts.id_prefix) if "customer_id" in frame else \
        pd.Series(None, index=frame.index, dtype=object)
    if "order_id" in frame:
        order = _clean_ids(frame["order_id"], opts.id_prefix)
        errors.add(order.isna().to_numpy(), "missing order_id")
    else:  # CDNOW-style: one order per customer and timestamp
        stamp = out["ordered_at"].dt.strftime("%Y-%m-%dT%H:%M:%S")
        order = customer + "@" + stamp
    if "product_id" in frame:
        product = _clean_ids(frame["product_id"], opts.id_prefix)
        errors.add(product.isna().to_numpy(), "missing product_id")
    else:
        product = pd.Series(IMPORTED_TOTAL_SKU, index=frame.index, dtype=object)
    for label, ids, width in (("order_id", order, 100), ("customer_id", customer, 100), ("product_id", product, 64)):
        errors.add((ids.str.len() > width).fillna(False).to_numpy(), f"{label} longer than {width} characters")
    out["order_id"], out["customer_id"], out["product_id"] = order, customer, product
    out["product_name"] = _stripped(frame["product_name"]) if "product_name" in frame else None
    if "product_name" not in frame and "product_id" in frame:
        out["product_name"] = _stripped(frame["product_id"])
    out["category"] = _stripped(frame["category"]) if "category" in frame else None
    if "status" in frame:
        key = _stripped(frame["status"], "lower")
        status = key.map(STATUS_MAP)
        errors.add((key.notna() & status.isna()).to_numpy(), "unknown status", frame["status"])
        out["status"] = status.fillna(opts.default_status)
    else:
        out["status"] = opts.default_status
    if "currency" in frame:
        currency = _stripped(frame["currency"], "upper")
        errors.add((currency.notna() & (currency.str.len() != 3)).to_numpy(), "currency is not a 3-letter code")
        out["currency"] = currency.fillna(opts.default_currency)
    else:
        out["currency"] = opts.default_currency
    # units on hand now (optional): a file without it leaves stock unknown, never 0 = "sold out"
    if "stock" in frame:
        stock = _numeric(frame, "stock", errors, "stock", optional=True, decimal_comma=comma)  # an empty cell: unknown
        errors.add((stock.notna() & (stock != stock.round())).to_numpy(), "stock is not a whole number")
        out["stock"] = stock
    else:
        out["stock"] = np.nan
    out["email"] = _stripped(frame["email"]) if "email" in frame else None
    out["country"] = _stripped(frame["country"], width=64) if "country" in frame else None
    out["line"] = lines

    found = sorted(errors.collect() + [(str(path), line, msg) for line, msg in rejected], key=lambda e: e[1])
    out = out[~errors.bad].reset_index(drop=True)

    # documented rules: lines that sell nothing (quantity 0), negative prices (accounting adjustments
    # such as "Adjust bad debt": no goods moved), rows without a customer, returns (negative quantities)
    zero = (out["quantity"] == 0).to_numpy()
    report.skipped_zero_quantity += int(zero.sum())
    adjustment = (out["unit_price"] < 0).to_numpy() & ~zero
    report.skipped_negative_price += int(adjustment.sum())
    out = out[~zero & ~adjustment]
    no_customer = out["customer_id"].isna()
    if opts.missing_customer == "guest":
        out.loc[no_customer, "customer_id"] = opts.id_prefix + GUEST_CUSTOMER
        if "order_id" not in frame:
            out.loc[no_customer, "order_id"] = (opts.id_prefix + GUEST_CUSTOMER + "@"
                                                + out.loc[no_customer, "ordered_at"].dt.strftime("%Y-%m-%dT%H:%M:%S"))
    else:
        report.skipped_no_customer += int(no_customer.sum())
        out = out[~no_customer]
    negative = out["quantity"] < 0
    if opts.returns == "refund" and negative.any():
        # a wholly negative order (UCI's C-invoices) is itself the return; negative lines of a mixed
        # order become a separate "<order>:return" order, so the sale itself stays countable
        all_negative = out.groupby("order_id")["quantity"].transform("max") < 0
        out = out.copy()
        out.loc[negative & ~all_negative, "order_id"] = out.loc[negative & ~all_negative, "order_id"] + ":return"
        out.loc[negative, "status"] = "refunded"
        out.loc[negative, "quantity"] = -out.loc[negative, "quantity"]
        report.returns_imported += int(negative.sum())
    else:
        report.skipped_returns += int(negative.sum())
        out = out[~negative]
    return out.reset_index(drop=True), found


def read_customers(path: Path, opts: ImportOptions, report: ImportReport) -> tuple[pd.DataFrame, list]:
    raw, lines, rejected = _read_csv(path, opts)
    report.customers_read += len(raw) + len(rejected)
    frame = _apply_mapping(raw, opts.column_map, CUSTOMER_COLUMNS)
    if "customer_id" not in frame:
        raise ValueError(f"{path.name} has no customer_id column; it has {list(raw.columns)}")
    errors = _Errors(path, lines)
    out = pd.DataFrame({"customer_id": _clean_ids(frame["customer_id"], opts.id_prefix)})
    errors.add(out["customer_id"].isna().to_numpy(), "missing customer_id")
    errors.add((out["customer_id"].str.len() > 100).fillna(False).to_numpy(), "customer_id longer than 100 characters")
    out["email"] = _stripped(frame["email"]) if "email" in frame else None
    out["country"] = _stripped(frame["country"], width=64) if "country" in frame else None
    if "created_at" in frame:
        out["created_at"] = _parse_dates(frame["created_at"], opts.customers_date_format, opts.timezone)
        errors.add((frame["created_at"].notna() & out["created_at"].isna()).to_numpy(), "invalid created_at",
                   frame["created_at"])
    else:
        out["created_at"] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns, UTC]")
    found = sorted(errors.collect() + [(str(path), line, msg) for line, msg in rejected], key=lambda e: e[1])
    out = out[~errors.bad]
    # a customer listed twice: the last row wins
    return out.drop_duplicates("customer_id", keep="last").reset_index(drop=True), found


# --- shaping into the shop's tables ---------------------------------------------------------------

def _merge_lines(lines: pd.DataFrame, report: ImportReport) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Orders (first line wins for customer/date/status/currency), items (one per order and product:
    quantities and amounts summed) and products (latest name, category and unit price)."""
    lines = lines.sort_values(["ordered_at", "line"], kind="stable")
    orders = lines.drop_duplicates("order_id", keep="first")[
        ["order_id", "customer_id", "ordered_at", "status", "currency"]]
    lines = lines.assign(amount=lines["quantity"] * lines["unit_price"])
    items = lines.groupby(["order_id", "product_id"], sort=False, as_index=False).agg(
        quantity=("quantity", "sum"), amount=("amount", "sum"), n=("line", "size"))
    report.merged_duplicates += int((items["n"] - 1).sum())
    items["unit_price"] = (items["amount"] / items["quantity"]).round(2)
    products = lines.drop_duplicates("product_id", keep="last")[
        ["product_id", "product_name", "category", "unit_price", "ordered_at"]]
    products = products.rename(columns={"ordered_at": "last_sold"})
    first_sold = lines.groupby("product_id")["ordered_at"].min()
    products["first_sold"] = products["product_id"].map(first_sold)
    # stock: the latest line that states it (lines are in time order); no such line -> unknown
    stated = lines[lines["stock"].notna()].drop_duplicates("product_id", keep="last").set_index("product_id")
    products["stock"] = products["product_id"].map(stated["stock"]).round().astype("Int64").astype(object)
    return orders, items[["order_id", "product_id", "quantity", "unit_price"]], products


def _new_ids(n: int) -> np.ndarray:
    return np.array([uuid.uuid4().hex for _ in range(n)], dtype=object)


def _db_time(series: pd.Series, vendor: str) -> pd.Series:
    text = pd.Series(np.datetime_as_string(series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(
        dtype="datetime64[s]"), unit="s"), index=series.index).str.replace("T", " ", regex=False)
    text = text.where(series.notna(), None)
    return text + "+00:00" if vendor == "postgresql" else text


# --- writing ----------------------------------------------------------------------------------------

_TEMP_TABLES = {
    # name: [(column, sqlite type, postgresql type)]
    "imp_customer": [("new_id", "text", "uuid"), ("external_id", "text", "text"), ("email", "text", "text"),
                     ("country", "text", "text"), ("created_at", "text", "timestamptz"), ("full_row", "integer", "integer"),
                     ("id", "text", "uuid")],
    "imp_product": [("new_id", "text", "uuid"), ("sku", "text", "text"), ("name", "text", "text"),
                    ("category_id", "text", "uuid"), ("price", "real", "numeric(12,2)"),
                    ("created_at", "text", "timestamptz"), ("stock", "integer", "integer")],
    "imp_order": [("new_id", "text", "uuid"), ("external_id", "text", "text"), ("customer_ext", "text", "text"),
                  ("created_at", "text", "timestamptz"), ("status", "text", "text"), ("currency", "text", "text"),
                  ("customer_id", "text", "uuid"), ("id", "text", "uuid")],
    "imp_item": [("new_id", "text", "uuid"), ("order_ext", "text", "text"), ("sku", "text", "text"),
                 ("quantity", "integer", "integer"), ("unit_price", "real", "numeric(12,2)"),
                 ("order_id", "text", "uuid"), ("product_id", "text", "uuid")],
}


def _create_temp_tables(cursor, vendor: str) -> None:
    for name, cols in _TEMP_TABLES.items():
        cursor.execute(f"DROP TABLE IF EXISTS {name}")
        typed = ", ".join(f"{c} {pg if vendor == 'postgresql' else lite}" for c, lite, pg in cols)
        cursor.execute(f"CREATE TEMP TABLE {name} ({typed})")


def _drop_temp_tables(cursor) -> None:
    for name in _TEMP_TABLES:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")


def _ensure_categories(names: list[str]) -> dict[str, str]:
    """name -> id of the categories the import needs (few rows: a plain query is fine)."""
    from .models import Category

    existing = dict(Category.objects.filter(name__in=names).values_list("name", "id"))
    missing = [n for n in names if n not in existing]
    Category.objects.bulk_create([Category(name=n) for n in missing])
    existing = dict(Category.objects.filter(name__in=names).values_list("name", "id"))
    return {name: pk.hex for name, pk in existing.items()}


def write_import(customers: pd.DataFrame | None, lines: pd.DataFrame | None, opts: ImportOptions,
                 report: ImportReport, progress: Callable[[str], None]) -> None:
    """Upsert the cleaned frames (call inside a transaction). Each table: load a temporary table in one
    bulk write, then set-based UPDATE (only rows whose values differ) and INSERT of the missing keys."""
    vendor = connection.vendor
    if vendor == "sqlite" and sqlite3.sqlite_version_info < (3, 33):
        raise ValueError(f"the import needs SQLite 3.33 or newer (UPDATE … FROM); this is {sqlite3.sqlite_version}")
    differ = "IS DISTINCT FROM" if vendor == "postgresql" else "IS NOT"
    counts: dict[str, dict[str, int]] = {t: {"created": 0, "updated": 0, "deleted": 0}
                                         for t in ("customers", "products", "orders", "order_items")}
    customer_rows = [] if customers is None else [customers.assign(full_row=1)]
    if lines is not None and len(lines):
        orders, items, products = _merge_lines(lines, report)
        first = lines.groupby("customer_id", sort=False).agg(
            created_at=("ordered_at", "min"), email=("email", "first"), country=("country", "first")).reset_index()
        if customers is not None:  # the customers file leaves a blank created_at to the first order
            first_at = customers["customer_id"].map(first.set_index("customer_id")["created_at"])
            customer_rows[0]["created_at"] = customer_rows[0]["created_at"].fillna(first_at)
            first = first[~first["customer_id"].isin(customers["customer_id"])]
        customer_rows.append(first.assign(full_row=0))
    else:
        orders = items = products = None
    report.lines_imported = 0 if items is None else int(len(lines))

    with connection.cursor() as cursor:
        _create_temp_tables(cursor, vendor)
        # customers ------------------------------------------------------------------------------
        if customer_rows:
            cust = pd.concat(customer_rows, ignore_index=True)
            now = _db_time(pd.Series([pd.Timestamp.now(tz="UTC")]), vendor).iloc[0]
            frame = pd.DataFrame({"new_id": _new_ids(len(cust)), "external_id": cust["customer_id"],
                                  "email": cust["email"].str.slice(0, 254), "country": cust["country"],
                                  "created_at": _db_time(cust["created_at"], vendor), "full_row": cust["full_row"]})
            progress(f"writing {len(frame):,} customers")
            insert_frame(cursor, "imp_customer", list(frame.columns), frame)
            cursor.execute("CREATE INDEX imp_customer_ext ON imp_customer (external_id)")
            cursor.execute(
                f"UPDATE shop_customer SET email = COALESCE(t.email, shop_customer.email), "
                f"country = COALESCE(t.country, shop_customer.country), "
                f"created_at = COALESCE(t.created_at, shop_customer.created_at) FROM imp_customer t "
                f"WHERE shop_customer.external_id = t.external_id AND t.full_row = 1 "
                f"AND (shop_customer.email {differ} COALESCE(t.email, shop_customer.email) "
                f"OR shop_customer.country {differ} COALESCE(t.country, shop_customer.country) "
                f"OR shop_customer.created_at {differ} COALESCE(t.created_at, shop_customer.created_at))")
            counts["customers"]["updated"] = max(cursor.rowcount, 0)
            cursor.execute(
                "INSERT INTO shop_customer (id, external_id, email, first_name, last_name, country, created_at) "
                "SELECT t.new_id, t.external_id, COALESCE(t.email, ''), '', '', COALESCE(t.country, ''), "
                "COALESCE(t.created_at, %s) FROM imp_customer t WHERE NOT EXISTS "
                "(SELECT 1 FROM shop_customer c WHERE c.external_id = t.external_id)", [now])
            counts["customers"]["created"] = max(cursor.rowcount, 0)
        if products is not None:
            # products -----------------------------------------------------------------------------
            names = sorted(set(products["category"].dropna()) | {IMPORTED_CATEGORY})
            cat_ids = _ensure_categories(names)
            synthetic = products["product_id"] == IMPORTED_TOTAL_SKU
            frame = pd.DataFrame({
                "new_id": _new_ids(len(products)), "sku": products["product_id"],
                "name": products["product_name"].where(~synthetic, IMPORTED_TOTAL_NAME).str.slice(0, 200),
                "category_id": products["category"].map(cat_ids),
                "price": products["unit_price"].round(2).where(~synthetic, 0.0),
                "created_at": _db_time(products["first_sold"], vendor), "stock": products["stock"]})
            progress(f"writing {len(frame):,} products")
            insert_frame(cursor, "imp_product", list(frame.columns), frame)
            cursor.execute(
                f"UPDATE shop_product SET name = COALESCE(t.name, shop_product.name), "
                f"category_id = COALESCE(t.category_id, shop_product.category_id), "
                f"stock_quantity = COALESCE(t.stock, shop_product.stock_quantity) FROM imp_product t "
                f"WHERE shop_product.sku = t.sku AND (shop_product.name {differ} COALESCE(t.name, shop_product.name) "
                f"OR shop_product.category_id {differ} COALESCE(t.category_id, shop_product.category_id) "
                f"OR shop_product.stock_quantity {differ} COALESCE(t.stock, shop_product.stock_quantity))")
            counts["products"]["updated"] = max(cursor.rowcount, 0)
            imported_cat = cat_ids[IMPORTED_CATEGORY]
            cursor.execute(
                "INSERT INTO shop_product (id, sku, name, description, category_id, price, cost, stock_quantity, "
                "lead_time_days, image_url, is_active, created_at) "
                "SELECT t.new_id, t.sku, COALESCE(t.name, t.sku), '', COALESCE(t.category_id, %s), t.price, NULL, t.stock, "
                "NULL, '', %s, t.created_at FROM imp_product t "
                "WHERE NOT EXISTS (SELECT 1 FROM shop_product p WHERE p.sku = t.sku)", [imported_cat, True])
            counts["products"]["created"] = max(cursor.rowcount, 0)
            # orders -------------------------------------------------------------------------------
            frame = pd.DataFrame({
                "new_id": _new_ids(len(orders)), "external_id": orders["order_id"],
                "customer_ext": orders["customer_id"], "created_at": _db_time(orders["ordered_at"], vendor),
                "status": orders["status"], "currency": orders["currency"]})
            progress(f"writing {len(frame):,} orders")
            insert_frame(cursor, "imp_order", list(frame.columns), frame)
            cursor.execute("CREATE INDEX imp_order_ext ON imp_order (external_id)")
            _resolve(cursor, vendor, "imp_order", "customer_id", "shop_customer", "external_id", "customer_ext")
            cursor.execute(
                f"UPDATE shop_order SET customer_id = t.customer_id, created_at = t.created_at, status = t.status, "
                f"currency = t.currency FROM imp_order t WHERE shop_order.external_id = t.external_id AND "
                f"(shop_order.customer_id {differ} t.customer_id OR shop_order.created_at {differ} t.created_at "
                f"OR shop_order.status {differ} t.status OR shop_order.currency {differ} t.currency)")
            counts["orders"]["updated"] = max(cursor.rowcount, 0)
            cursor.execute(
                "INSERT INTO shop_order (id, external_id, customer_id, created_at, status, channel, currency) "
                "SELECT t.new_id, t.external_id, t.customer_id, t.created_at, t.status, %s, t.currency "
                "FROM imp_order t WHERE NOT EXISTS (SELECT 1 FROM shop_order o WHERE o.external_id = t.external_id)",
                [opts.channel])
            counts["orders"]["created"] = max(cursor.rowcount, 0)
            _resolve(cursor, vendor, "imp_order", "id", "shop_order", "external_id", "external_id")
            # order lines: one per (order, product) -------------------------------------------------
            frame = pd.DataFrame({
                "new_id": _new_ids(len(items)), "order_ext": items["order_id"], "sku": items["product_id"],
                "quantity": items["quantity"].astype("int64"), "unit_price": items["unit_price"]})
            progress(f"writing {len(frame):,} order lines")
            insert_frame(cursor, "imp_item", list(frame.columns), frame)
            _resolve(cursor, vendor, "imp_item", "order_id", "shop_order", "external_id", "order_ext")
            _resolve(cursor, vendor, "imp_item", "product_id", "shop_product", "sku", "sku")
            cursor.execute("CREATE INDEX imp_item_key ON imp_item (order_id, product_id)")
            if vendor == "postgresql":
                cursor.execute("ANALYZE imp_item")
                cursor.execute("ANALYZE imp_order")
            cursor.execute(
                "DELETE FROM shop_orderitem WHERE order_id IN (SELECT id FROM imp_order) AND NOT EXISTS "
                "(SELECT 1 FROM imp_item t WHERE t.order_id = shop_orderitem.order_id "
                "AND t.product_id = shop_orderitem.product_id)")
            counts["order_items"]["deleted"] = max(cursor.rowcount, 0)
            cursor.execute(
                f"UPDATE shop_orderitem SET quantity = t.quantity, unit_price = t.unit_price FROM imp_item t "
                f"WHERE shop_orderitem.order_id = t.order_id AND shop_orderitem.product_id = t.product_id "
                f"AND (shop_orderitem.quantity {differ} t.quantity OR shop_orderitem.unit_price {differ} t.unit_price)")
            counts["order_items"]["updated"] = max(cursor.rowcount, 0)
            # SQLite has no statistics here and would probe the product index (hundreds of lines per
            # product) instead of the order index; unary + takes the product column out of the plan
            plus = "" if vendor == "postgresql" else "+"
            cursor.execute(
                "INSERT INTO shop_orderitem (id, order_id, product_id, quantity, unit_price) "
                "SELECT t.new_id, t.order_id, t.product_id, t.quantity, t.unit_price FROM imp_item t "
                "WHERE NOT EXISTS (SELECT 1 FROM shop_orderitem oi WHERE oi.order_id = t.order_id "
                f"AND {plus}oi.product_id = t.product_id)")
            counts["order_items"]["created"] = max(cursor.rowcount, 0)
        _drop_temp_tables(cursor)
    report.written = counts


def _resolve(cursor, vendor: str, temp: str, target: str, table: str, key: str, temp_key: str) -> None:
    """Fill temp.target with table.id looked up by table.key = temp.temp_key (one set-based UPDATE)."""
    if vendor == "postgresql":
        cursor.execute(f"UPDATE {temp} SET {target} = s.id FROM {table} s WHERE s.{key} = {temp}.{temp_key}")
    else:
        cursor.execute(f"UPDATE {temp} SET {target} = (SELECT s.id FROM {table} s WHERE s.{key} = {temp}.{temp_key})")


# --- entry point ------------------------------------------------------------------------------------

def import_orders(orders_path: str | Path | None = None, *, customers_path: str | Path | None = None,
                  options: ImportOptions | None = None, dry_run: bool = False,
                  progress: Callable[[str], None] | None = None) -> ImportReport:
    """Import a customers file and/or an order-lines file in one transaction.

    Raises ImportAborted (nothing written) when rows are invalid and options.on_error == "abort",
    and ValueError for problems with the file as a whole (missing columns, bad options).
    """
    opts = options or ImportOptions()
    opts.validate()
    if orders_path is None and customers_path is None:
        raise ValueError("give an orders file, a customers file, or both")
    started = time.perf_counter()
    say = progress or (lambda message: None)
    report = ImportReport(dry_run=dry_run)

    def step(message: str) -> None:
        say(f"[{time.perf_counter() - started:6.1f} s] {message}")

    customers = lines = None
    errors: list = []
    if customers_path is not None:
        step(f"reading {customers_path}")
        customers, found = read_customers(Path(customers_path), opts, report)
        errors += found
    if orders_path is not None:
        step(f"reading {orders_path}")
        lines, found = read_order_lines(Path(orders_path), opts, report)
        errors += found
        step(f"{report.lines_read:,} lines read, {len(lines):,} valid after rules")
    report.errors = errors
    report.invalid = len(errors)
    if errors and opts.on_error == "abort":
        report.seconds = time.perf_counter() - started
        raise ImportAborted(report)
    try:
        with transaction.atomic():
            write_import(customers, lines, opts, report, step)
            if dry_run:
                raise _DryRun
    except _DryRun:
        step("dry run: rolled back")
    report.seconds = time.perf_counter() - started
    step("done")
    return report


class _DryRun(Exception):
    pass
