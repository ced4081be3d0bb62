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
- Three modules: reading the file's text (`import_text`), the documented rules here, writing the
  shop's tables (`import_write`).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from django.db import transaction

from ml_predictions.data import mark_changed

from .import_text import (
    _apply_mapping,
    _clean_ids,
    _Errors,
    _numeric,
    _parse_dates,
    _stripped,
    parse_mapping,
    parse_values,
    read_table,
)
from .import_write import IMPORTED_CATEGORY, IMPORTED_TOTAL_NAME, IMPORTED_TOTAL_SKU, write_import

__all__ = ["IMPORTED_CATEGORY", "IMPORTED_TOTAL_NAME", "IMPORTED_TOTAL_SKU", "ImportAborted", "ImportOptions",
           "ImportReport", "import_orders", "parse_mapping", "parse_values", "read_customers", "read_order_lines",
           "write_import"]

GUEST_CUSTOMER = "guest"

LINE_COLUMNS = {"order_id", "customer_id", "ordered_at", "product_id", "product_name", "category", "quantity",
                "unit_price", "line_total", "status", "currency", "email", "country", "stock"}
CUSTOMER_COLUMNS = {"customer_id", "email", "country", "created_at"}
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
    returns: str = "net"  # "net" (off the sale it cancels) | "skip" | "refund"
    defaults: dict[str, str] = field(default_factory=dict)  # constant for an absent/empty column
    exclude: dict[str, list[str]] = field(default_factory=dict)  # drop rows whose column has one of the values
    id_prefix: str = ""
    default_status: str = "paid"
    default_currency: str = "EUR"
    channel: str = "web"
    service_codes: tuple[str, ...] = SERVICE_CODES  # product ids that are fees, postage, adjustments
    decimal: str = "auto"  # "." | "," | "auto" (a decimal comma is read when the separator is not a comma)
    sheet: str | None = None  # an Excel workbook's sheet to read; None = every sheet with the first's header

    def validate(self) -> None:
        choices = {"on_error": {"abort", "skip"}, "missing_customer": {"skip", "guest"},
                   "returns": {"net", "skip", "refund"}, "decimal": {"auto", ".", ","}, "default_status": set(STATUS_MAP.values()),
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
    returns_netted: int = 0  # returns taken off the sale they cancel (returns="net")
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


def read_order_lines(path: Path, opts: ImportOptions, report: ImportReport) -> tuple[pd.DataFrame, list]:
    """Validated, rule-applied line frame: order_id, customer_id, ordered_at, product_id, product_name,
    category, quantity, unit_price, status, currency, email, country (+ line). Returns it with errors."""
    raw, lines, rejected = read_table(path, opts)
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

    errors = _Errors(path, lines, raw.attrs.get("sheets"))
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
    if opts.returns == "net" and negative.any():
        out = _net_returns(out, negative, report)
    elif opts.returns == "refund" and negative.any():
        # a wholly negative order (UCI's C-invoices) is itself the return; negative lines of a mixed
        # order become a separate "<order>:return" order, so the sale itself stays countable
        all_negative = out.groupby("order_id")["quantity"].transform("max") < 0
        out = out.copy()
        out.loc[negative & ~all_negative, "order_id"] = out.loc[negative & ~all_negative, "order_id"] + ":return"
        out.loc[negative, "status"] = "returned"  # a return document (the host's REFUND_ORDER_STATUSES)
        out.loc[negative, "quantity"] = -out.loc[negative, "quantity"]
        report.returns_imported += int(negative.sum())
    else:
        report.skipped_returns += int(negative.sum())
        out = out[~negative]
    return out.reset_index(drop=True), found


def _net_returns(out: pd.DataFrame, negative: pd.Series, report: ImportReport) -> pd.DataFrame:
    """Each return takes its units off the same customer's latest earlier line of the same product; a
    line taken to 0 is dropped. Why: a cancelled sale did not happen. Skipping only the return keeps the
    sale as demand (UCI's 80,995 paper birdies, cancelled minutes later, would be the year's biggest
    day); a return with no earlier sale in the file is skipped and counted."""
    sales = out.loc[~negative, ["customer_id", "product_id", "ordered_at", "quantity"]].assign(
        row=out.index[~negative]).sort_values("ordered_at")
    returns = out.loc[negative, ["customer_id", "product_id", "ordered_at", "quantity"]].sort_values("ordered_at")
    # first the line it cancels exactly (same quantity: a C-invoice copies the line), then any earlier line
    exact = pd.merge_asof(returns.assign(units=-returns["quantity"]), sales.rename(columns={"quantity": "units"}),
                          on="ordered_at", by=["customer_id", "product_id", "units"], direction="backward")
    rest = returns[exact["row"].isna().to_numpy()]
    loose = pd.merge_asof(rest, sales.drop(columns="quantity"), on="ordered_at", by=["customer_id", "product_id"],
                          direction="backward")
    matched = pd.concat([exact.loc[exact["row"].notna(), ["row", "quantity"]], loose[["row", "quantity"]]],
                        ignore_index=True)
    found = matched["row"].notna()
    taken = matched[found].groupby("row")["quantity"].sum()  # negative units per sale line
    out = out.copy()
    rows = taken.index.astype("int64")
    out.loc[rows, "quantity"] = (out.loc[rows, "quantity"].to_numpy() + taken.to_numpy()).clip(min=0)
    report.returns_netted += int(found.sum())
    report.skipped_returns += int((~found).sum())
    return out[~negative & (out["quantity"] > 0)]


def read_customers(path: Path, opts: ImportOptions, report: ImportReport) -> tuple[pd.DataFrame, list]:
    raw, lines, rejected = read_table(path, opts)
    report.customers_read += len(raw) + len(rejected)
    frame = _apply_mapping(raw, opts.column_map, CUSTOMER_COLUMNS)
    if "customer_id" not in frame:
        raise ValueError(f"{path.name} has no customer_id column; it has {list(raw.columns)}")
    errors = _Errors(path, lines, raw.attrs.get("sheets"))
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
            mark_changed()  # set-based SQL bypasses the ORM's signals: tell the plugin's caches
            if dry_run:
                raise _DryRun
    except _DryRun:
        step("dry run: rolled back")
    report.seconds = time.perf_counter() - started
    step("done")
    return report


class _DryRun(Exception):
    pass
