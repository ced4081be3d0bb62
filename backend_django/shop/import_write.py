"""Writing cleaned import frames into the shop's tables, for `importer.py`: temporary tables loaded
in one bulk write each, then set-based upserts keyed by the external ids.

Why apart: this is the only part that knows the shop's schema and the SQL dialects; the reading and
rules in `importer.py` hand it plain frames.
"""
from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from django.db import connection

from .bulk import insert_frame

if TYPE_CHECKING:
    from .importer import ImportOptions, ImportReport

IMPORTED_TOTAL_SKU = "IMPORTED-ORDER-TOTAL"
IMPORTED_TOTAL_NAME = "Imported order total"
IMPORTED_CATEGORY = "Imported"

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
