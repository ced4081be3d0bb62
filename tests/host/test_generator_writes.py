"""The generator's write path: time-ordered ids and a page cache enlarged only for the bulk phase."""
from __future__ import annotations

import uuid

import numpy as np
import pytest
from django.db import connection

from backend_django.shop.generator import GeneratorConfig, _uuids, synthesize, write_shop
from backend_django.shop.models import OrderItem


def test_ids_are_uuid7_rising_with_the_row_and_unique():
    ids = _uuids(np.random.default_rng(3), 5_000)
    parsed = [uuid.UUID(v) for v in ids]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in parsed)
    assert list(ids) == sorted(ids) and len(set(ids)) == len(ids)
    assert all(len(v) == 32 for v in ids)
    # the same seed gives the same ids (generated shops are reproducible)
    assert list(_uuids(np.random.default_rng(3), 5_000)) == list(ids)


@pytest.mark.django_db
def test_write_shop_restores_the_sqlite_page_cache():
    if connection.vendor != "sqlite":
        pytest.skip("the page-cache pragma is SQLite's")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        before = cursor.fetchone()[0]
    shop = synthesize(GeneratorConfig(customers=40, products=15, orders=200, years=1, seed=5))
    write_shop(shop)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        assert cursor.fetchone()[0] == before
    assert OrderItem.objects.count() == len(shop.order_items)


SHOP_TABLES = ["shop_category", "shop_product", "shop_customer", "shop_order", "shop_orderitem"]


def _schema() -> list[tuple]:
    """Every index and constraint of the shop's tables with its full definition."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT 'index', tablename, indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) "
                "UNION ALL SELECT 'constraint', conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                "|| CASE WHEN convalidated THEN '' ELSE ' NOT VALID' END FROM pg_constraint "
                "WHERE conrelid = ANY(%s::regclass[]) ORDER BY 1, 2, 3", [SHOP_TABLES, SHOP_TABLES])
        else:
            cursor.execute("SELECT type, tbl_name, name, sql FROM sqlite_master WHERE tbl_name IN "
                           f"({', '.join(['%s'] * len(SHOP_TABLES))}) ORDER BY 1, 2, 3", SHOP_TABLES)
        return cursor.fetchall()


@pytest.mark.django_db
def test_write_shop_leaves_every_index_and_key_as_it_found_them():
    from backend_django.shop.models import Customer, Order, Product

    before = _schema()
    assert sum(1 for row in before if row[0] == "index") >= 8  # the secondary indexes exist to be dropped
    shop = synthesize(GeneratorConfig(customers=60, products=20, orders=300, years=1, seed=9))
    write_shop(shop)
    assert _schema() == before
    assert OrderItem.objects.count() == len(shop.order_items)
    assert Order.objects.count() == len(shop.orders) and Customer.objects.count() == len(shop.customers)
    assert Product.objects.count() == len(shop.products)
    # the rows are joined through the recreated keys and indexes exactly as drawn
    first = shop.order_items.iloc[0]
    item = OrderItem.objects.select_related("order__customer", "product").get(id=uuid.UUID(first["id"]))
    assert item.order_id.hex == first["order_id"] and item.product_id.hex == first["product_id"]
    assert item.quantity == int(first["quantity"])
    per_product = shop.order_items.groupby("product_id").size()
    top = per_product.idxmax()
    assert OrderItem.objects.filter(product_id=uuid.UUID(top)).count() == per_product.max()


@pytest.mark.django_db
def test_a_line_of_a_missing_product_is_refused_and_the_schema_comes_back():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's keys cannot be dropped; they are checked as before")
    from django.db import IntegrityError

    before = _schema()
    shop = synthesize(GeneratorConfig(customers=30, products=10, orders=100, years=1, seed=4))
    shop.order_items.loc[shop.order_items.index[5], "product_id"] = uuid.uuid4().hex
    with pytest.raises(IntegrityError, match="shop_orderitem_product_id"):
        write_shop(shop)
    assert _schema() == before
    assert OrderItem.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_sqlite_checks_the_keys_once_outside_a_transaction_and_turns_them_back_on():
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL's keys are dropped and re-added (tested above)")
    from django.db import IntegrityError

    from backend_django.shop.models import Order

    shop = synthesize(GeneratorConfig(customers=30, products=10, orders=100, years=1, seed=4))
    shop.order_items.loc[shop.order_items.index[5], "product_id"] = uuid.uuid4().hex
    with pytest.raises(IntegrityError, match="shop_orderitem"):
        write_shop(shop)
    assert OrderItem.objects.count() == 0 and Order.objects.count() == 0
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA foreign_keys")
        assert cursor.fetchone()[0] == 1
    good = synthesize(GeneratorConfig(customers=30, products=10, orders=100, years=1, seed=4))
    write_shop(good)
    write_shop(good, clear=True)  # the delete runs with the keys off too, and the rewrite checks them
    assert OrderItem.objects.count() == len(good.order_items)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA foreign_keys")
        assert cursor.fetchone()[0] == 1
