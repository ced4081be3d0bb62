"""Generated frames written straight into the shop's tables with bulk inserts, in one transaction."""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pandas as pd
from django.db import connection, transaction

from ml_predictions.data import mark_changed

from ..bulk import insert_frame
from ..bulk_schema import late_indexes_and_keys
from .config import SyntheticShop

TABLE_COLUMNS = {
    "categories": ("shop_category", ["id", "name", "description"]),
    "products": ("shop_product", ["id", "sku", "name", "description", "category_id", "price", "cost",
                                  "stock_quantity", "lead_time_days", "image_url", "is_active", "created_at"]),
    "customers": ("shop_customer", ["id", "external_id", "email", "first_name", "last_name", "country",
                                    "created_at"]),
    "orders": ("shop_order", ["id", "external_id", "customer_id", "created_at", "status", "channel", "currency"]),
    "order_items": ("shop_orderitem", ["id", "order_id", "product_id", "quantity", "unit_price"]),
}
ID_COLUMNS = {"id", "category_id", "customer_id", "order_id", "product_id"}


def _prepare(frame: pd.DataFrame, name: str, vendor: str) -> tuple[str, list[str], pd.DataFrame]:
    table, columns = TABLE_COLUMNS[name]
    frame = frame.copy()
    if name == "categories":
        frame["description"] = ""
    if name == "orders":
        frame["external_id"] = None
        frame["currency"] = "EUR"
    for col in columns:
        # ids stay 32-hex strings: SQLite's UUIDField stores exactly that and PostgreSQL's uuid type
        # accepts it, so no per-value conversion is needed
        if col == "created_at":
            stamps = pd.to_datetime(frame[col]).dt.strftime("%Y-%m-%d %H:%M:%S")
            frame[col] = stamps + ("+00:00" if vendor == "postgresql" else "")
    return table, columns, frame[columns]


def write_shop(shop: SyntheticShop, *, clear: bool = False, progress: Callable[[int], None] | None = None,
               chunk_size: int = 100_000) -> None:
    """Insert the frames in one transaction; `progress(n_rows)` is called after each chunk.

    On SQLite, when no transaction is open yet, the foreign keys are checked once over the written
    tables before the commit (`PRAGMA foreign_key_check`, raising IntegrityError as Django's loaddata
    does) instead of with a lookup per inserted row: about a second per million lines. Inside an outer
    transaction SQLite cannot turn them off, and they are checked row by row as before.
    """
    vendor = connection.vendor
    tables = [table for table, _ in TABLE_COLUMNS.values()]
    keys_off = vendor == "sqlite" and connection.disable_constraint_checking()
    try:
        with transaction.atomic(), connection.cursor() as cursor, _large_sqlite_page_cache(cursor, vendor):
            if clear:
                clear_shop()
            if vendor == "postgresql":
                # generated data can be drawn again: not waiting for the WAL flush at commit is worth more
                # than surviving a server crash in that instant (this transaction only; no corruption risk)
                cursor.execute("SET LOCAL synchronous_commit = off")
            with late_indexes_and_keys(cursor, tables):
                for name in ("categories", "products", "customers", "orders", "order_items"):
                    table, columns, frame = _prepare(getattr(shop, name), name, vendor)
                    insert_frame(cursor, table, columns, frame, chunk_size=chunk_size, progress=progress)
            if keys_off:
                connection.check_constraints(table_names=tables)
            mark_changed()  # COPY bypasses the ORM's signals: tell the plugin's caches
    finally:
        if keys_off:
            connection.enable_constraint_checking()


@contextlib.contextmanager
def _large_sqlite_page_cache(cursor, vendor: str, mib: int = 256) -> Iterator[None]:
    """SQLite's default 2 MiB page cache holds a sliver of a million-line shop's indexes, so about half
    of a bulk write was spent re-reading pages; a large cache for the bulk phase only, restored after
    (the connection may live on, e.g. in a test or a long-running command)."""
    if vendor != "sqlite":
        yield
        return
    cursor.execute("PRAGMA cache_size")
    previous = cursor.fetchone()[0]
    cursor.execute(f"PRAGMA cache_size = -{mib * 1024}")
    try:
        yield
    finally:
        cursor.execute(f"PRAGMA cache_size = {int(previous)}")


def clear_shop() -> None:
    """Delete every shop row (the plugin's own tables are left alone)."""
    with connection.cursor() as cursor:
        for table in ("shop_orderitem", "shop_order", "shop_customer", "shop_product", "shop_category"):
            cursor.execute(f"DELETE FROM {table}")
    mark_changed()
