"""Fixtures shared by the API tests' read-only groups (see tests/shared.py)."""
from __future__ import annotations

import pytest

from backend_django.shop.generator import write_shop
from tests.conftest import small_shop_data
from tests.shared import build_shared


@pytest.fixture(scope="class")
def segmentation_run(django_db_setup, django_db_blocker, tmp_path_factory):
    """The small shop written and segmented with k=6, once per test class that asks for it."""
    def build(client):
        shop = small_shop_data()
        write_shop(shop)
        res = client.post("/api/ml/train-customer-segmentation/", {"n_clusters": 6}, format="json")
        assert res.status_code == 200, res.content[:500]
        return shop, res.json()

    with build_shared(django_db_blocker, tmp_path_factory.mktemp("segmentation"), build) as shared:
        yield shared
