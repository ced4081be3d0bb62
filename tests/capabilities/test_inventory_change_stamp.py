"""The data change stamp: a warm inventory GET skips the data fingerprint while nothing signalled a change,
and every signalled change (an ORM save or delete of a tracked model, `mark_changed()` after a bulk write,
the host's importer) makes the next GET check the data and answer from it."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db.models import F

from backend_django.shop.models import Customer, Order, OrderItem, Product
from ml_predictions import data_changes as changes
from ml_predictions.data import data_version, mark_changed, reset_data_source_cache
from ml_predictions.data.orm import DjangoORMDataSource
from ml_predictions.models import MLModel

AS_OF = "2026-07-01"
URL = "/api/ml/inventory-analysis/"
REORDER = "/api/ml/reorder-recommendations/"


@pytest.fixture(autouse=True)
def _fresh(settings):
    reset_data_source_cache()
    cache.clear()
    assert settings.ML_PREDICTIONS.get("INVENTORY_FINGERPRINT_SECONDS", 60) == 60  # the shipped default
    yield
    reset_data_source_cache()


@pytest.fixture
def checks(monkeypatch):
    """Counts the data source's fingerprint computations (the ~200 ms the stamp saves)."""
    calls: list[int] = []
    real = DjangoORMDataSource.fingerprint

    def counting(self, **kwargs):
        calls.append(1)
        return real(self, **kwargs)

    monkeypatch.setattr(DjangoORMDataSource, "fingerprint", counting)
    return calls


def stock_of(body: dict, product_id: str) -> int:
    return next(a["current_stock"] for a in body["alerts"] if a["product_id"] == product_id)


def _alerted_product(body: dict) -> str:
    return next(a["product_id"] for a in body["alerts"] if a["alert_type"] in ("slow_moving", "overstock"))


def test_tracked_models_follow_the_configured_mapping():
    """The order line, the product and what their mapped fields pass through (the order for its date and
    status, the category for its name); not the plugin's own models, not customers."""
    tracked = changes.tracked_models()
    assert {OrderItem, Product, Order} <= tracked
    assert MLModel not in tracked and Customer not in tracked


def test_another_shops_mapping_tracks_its_own_models(settings):
    """The models come from the settings alone (a shop named differently: tests/altshop), and follow
    override_settings without reconnecting anything."""
    from tests.altshop.models import Article, Client, Sale, SaleLine
    from tests.data.test_data_sources import ALT_SETTINGS

    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, **ALT_SETTINGS}
    assert changes.tracked_models() == {SaleLine, Sale, Article}
    assert Client not in changes.tracked_models() and Product not in changes.tracked_models()


@pytest.mark.django_db
def test_warm_gets_skip_the_fingerprint_until_an_orm_save(staff_client, small_shop, checks):
    first = staff_client.get(URL, {"as_of": AS_OF}).json()
    for _ in range(3):
        assert staff_client.get(URL, {"as_of": AS_OF}).json() == first
    assert len(checks) == 1
    product_id = _alerted_product(first)
    product = Product.objects.get(pk=product_id)
    product.stock_quantity += 7
    product.save()
    after = staff_client.get(URL, {"as_of": AS_OF}).json()
    assert len(checks) == 2
    assert stock_of(after, product_id) == stock_of(first, product_id) + 7
    staff_client.get(URL, {"as_of": AS_OF})
    assert len(checks) == 2


@pytest.mark.django_db
def test_a_new_order_line_and_a_cancelled_order_through_the_orm_invalidate(staff_client, small_shop, checks):
    first = staff_client.get(URL, {"as_of": AS_OF}).json()
    product_id = _alerted_product(first)
    version = data_version()
    order = Order.objects.create(customer=Customer.objects.first(), status="paid",
                                 created_at=datetime(2026, 6, 29, 12, tzinfo=UTC))
    OrderItem.objects.create(order=order, product_id=product_id, quantity=40, unit_price=Decimal("10"))
    assert data_version() != version
    with_order = staff_client.get(URL, {"as_of": AS_OF}).json()
    assert len(checks) == 2 and with_order["computed_at"] != first["computed_at"]
    # the status lives on the order (order__status): cancelling it is a tracked change too
    version = data_version()
    order.status = "cancelled"
    order.save()
    assert data_version() != version
    cancelled = staff_client.get(URL, {"as_of": AS_OF}).json()
    assert len(checks) == 3 and cancelled["computed_at"] != with_order["computed_at"]
    # deleting is a change as well
    version = data_version()
    order.delete()
    assert data_version() != version


@pytest.mark.django_db
def test_a_bulk_update_is_seen_once_mark_changed_is_called(staff_client, small_shop, checks):
    """QuerySet.update() sends no signal: within INVENTORY_FINGERPRINT_SECONDS the cached answer stays
    (documented); the writer's mark_changed() makes the next GET see it."""
    first = staff_client.get(URL, {"as_of": AS_OF}).json()
    product_id = _alerted_product(first)
    Product.objects.filter(pk=product_id).update(stock_quantity=F("stock_quantity") + 5)
    assert stock_of(staff_client.get(URL, {"as_of": AS_OF}).json(), product_id) == stock_of(first, product_id)
    assert len(checks) == 1
    mark_changed()
    assert stock_of(staff_client.get(URL, {"as_of": AS_OF}).json(), product_id) == stock_of(first, product_id) + 5
    assert len(checks) == 2


@pytest.mark.django_db
def test_the_host_importer_invalidates(staff_client, small_shop, checks, tmp_path: Path):
    """`import_orders --products` writes with bulk_update (no signals) and calls mark_changed()."""
    from django.core.management import call_command

    first = staff_client.get(REORDER, {"as_of": AS_OF}).json()["recommendations"]
    line = first[0]
    product = Product.objects.get(pk=line["product_id"])
    terms = tmp_path / "terms.csv"
    terms.write_text(f"product_id,case_pack,min_order_quantity\n{product.sku},50,0\n")
    call_command("import_orders", products=str(terms))
    again = {r["product_id"]: r for r in staff_client.get(REORDER, {"as_of": AS_OF}).json()["recommendations"]}
    assert len(checks) == 2
    assert again[line["product_id"]]["case_pack"] == 50
    assert again[line["product_id"]]["recommended_order_quantity"] % 50 == 0


@pytest.mark.django_db
def test_an_untracked_write_keeps_the_stamp(small_shop):
    version = data_version()
    Customer.objects.create(email="new@example.com", first_name="N", last_name="C")
    assert data_version() == version


@pytest.mark.django_db
def test_a_lost_stamp_means_a_new_one(small_shop):
    version = data_version()
    assert data_version() == version  # stable while nothing changes
    cache.clear()
    assert data_version() not in (None, version)


@pytest.mark.django_db
def test_mark_changed_in_a_transaction_bumps_again_on_commit(small_shop, django_capture_on_commit_callbacks):
    """A reader that fingerprinted the data between the write and the commit keyed it by the stamp of
    that moment; the commit's bump retires it."""
    from django.db import transaction

    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        mark_changed()
        during = data_version()
    assert len(callbacks) == 1
    assert data_version() != during


@pytest.mark.django_db
def test_the_safety_net_expiry_still_catches_an_unsignalled_write(staff_client, small_shop, checks, settings):
    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "INVENTORY_FINGERPRINT_SECONDS": 0}
    first = staff_client.get(URL, {"as_of": AS_OF}).json()
    product_id = _alerted_product(first)
    Product.objects.filter(pk=product_id).update(stock_quantity=F("stock_quantity") + 3)
    # 0: the data is checked on every request, exact even without mark_changed()
    assert stock_of(staff_client.get(URL, {"as_of": AS_OF}).json(), product_id) == stock_of(first, product_id) + 3
    assert len(checks) == 2


@pytest.mark.django_db
def test_without_the_cache_alias_writes_stay_quiet_and_nothing_is_reused(small_shop, settings, caplog):
    """INVENTORY_CACHE_SECONDS = 0 allows an alias that is not in CACHES: no stamp, no warning per save."""
    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "INVENTORY_CACHE_ALIAS": "missing",
                               "INVENTORY_CACHE_SECONDS": 0}
    product = Product.objects.first()
    product.stock_quantity = (product.stock_quantity or 0) + 1
    with caplog.at_level("WARNING"):
        product.save()
        mark_changed()
    assert data_version() is None
    assert not [r for r in caplog.records if "stamp" in r.getMessage()]
