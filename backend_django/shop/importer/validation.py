"""Rows checked and the documented rules applied (exclusions, missing customers, returns), vectorised:
every bad row is collected with its line and reason, so one run reports all of them, not the first."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .mapping import _apply_mapping, _clean_ids, _on_uniques, _stripped
from .options import (
    CUSTOMER_COLUMNS,
    GUEST_CUSTOMER,
    IMPORTED_TOTAL_SKU,
    LINE_COLUMNS,
    STATUS_MAP,
    ImportOptions,
    ImportReport,
)
from .reading import _read_csv


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
    parsed = parsed.dt.floor("s").dt.tz_localize(None).to_numpy()
    out = np.full(len(codes), np.datetime64("NaT"), dtype=parsed.dtype)
    out[codes >= 0] = parsed[codes[codes >= 0]]
    return pd.Series(out, index=index).dt.tz_localize("UTC")


def _numeric(frame: pd.DataFrame, col: str, errors: _Errors, label: str, *, optional: bool = False) -> pd.Series:
    """The column as float; an empty cell is an error unless `optional` (then NaN = unknown)."""
    raw = frame[col]
    value = _on_uniques(raw, lambda s: pd.to_numeric(s.str.strip().str.replace(r"^\$", "", regex=True),
                                                     errors="coerce").astype(object))
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
    frame, lines = frame[keep].reset_index(drop=True), lines[keep]

    errors = _Errors(path, lines)
    out = pd.DataFrame(index=frame.index)
    out["ordered_at"] = _parse_dates(frame["ordered_at"], opts.date_format, opts.timezone)
    errors.add(frame["ordered_at"].isna().to_numpy(), "missing ordered_at")
    errors.add((frame["ordered_at"].notna() & out["ordered_at"].isna()).to_numpy(), "invalid ordered_at",
               frame["ordered_at"])

    if "quantity" in frame:
        qty = _numeric(frame, "quantity", errors, "quantity")
        errors.add((qty.notna() & (qty != qty.round())).to_numpy(), "quantity is not a whole number")
        errors.add((qty == 0).to_numpy(), "quantity is 0")
        qty = qty.fillna(1).round().astype("int64")
    else:
        qty = pd.Series(1, index=frame.index, dtype="int64")
    out["quantity"] = qty
    if "unit_price" in frame:
        unit = _numeric(frame, "unit_price", errors, "unit_price")
    else:
        total = _numeric(frame, "line_total", errors, "line_total")
        unit = total / qty
    errors.add((unit < 0).to_numpy(), "negative price")
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
        stock = _numeric(frame, "stock", errors, "stock", optional=True)  # an empty cell: unknown
        errors.add((stock.notna() & (stock != stock.round())).to_numpy(), "stock is not a whole number")
        out["stock"] = stock
    else:
        out["stock"] = np.nan
    out["email"] = _stripped(frame["email"]) if "email" in frame else None
    out["country"] = _stripped(frame["country"], width=64) if "country" in frame else None
    out["line"] = lines

    found = sorted(errors.collect() + [(str(path), line, msg) for line, msg in rejected], key=lambda e: e[1])
    out = out[~errors.bad].reset_index(drop=True)

    # documented rules: rows without a customer, and returns (negative quantities)
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
        out.loc[negative, "status"] = "returned"  # a return document (REFUND_ORDER_STATUSES)
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
