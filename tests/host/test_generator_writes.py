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
