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

import time
from collections.abc import Callable
from pathlib import Path

from django.db import transaction

from ml_predictions.data import mark_changed

from .options import (
    ALIASES,
    CUSTOMER_COLUMNS,
    GUEST_CUSTOMER,
    IMPORTED_CATEGORY,
    IMPORTED_TOTAL_NAME,
    IMPORTED_TOTAL_SKU,
    LINE_COLUMNS,
    MAX_REPORTED_ERRORS,
    STATUS_MAP,
    ImportAborted,
    ImportOptions,
    ImportReport,
    parse_mapping,
    parse_values,
)
from .validation import read_customers, read_order_lines
from .writing import write_import

__all__ = [
    "ALIASES", "CUSTOMER_COLUMNS", "GUEST_CUSTOMER", "IMPORTED_CATEGORY", "IMPORTED_TOTAL_NAME", "IMPORTED_TOTAL_SKU",
    "LINE_COLUMNS", "MAX_REPORTED_ERRORS", "STATUS_MAP", "ImportAborted", "ImportOptions", "ImportReport",
    "import_orders", "parse_mapping", "parse_values", "read_customers", "read_order_lines", "write_import",
]


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
