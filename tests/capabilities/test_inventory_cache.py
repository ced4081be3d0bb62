"""The inventory GET endpoints share one cached analysis that is never served once its inputs changed."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from django.core.cache import cache
from django.db.models import F

from backend_django.shop.models import Customer, Order, OrderItem, Product
from ml_predictions import data_changes
from ml_predictions.capabilities.inventory import answers, services
from ml_predictions.capabilities.inventory import selectors as workflow
from ml_predictions.data import reset_data_source_cache
from ml_predictions.data.csv_source import CSVDataSource
from ml_predictions.data.orm import DjangoORMDataSource
from ml_predictions.training.registry import register_model

AS_OF = "2026-07-01"
URLS = ["/api/ml/inventory-analysis/", "/api/ml/reorder-recommendations/", "/api/ml/inventory-health/"]
WINDOWS = [(pd.Timestamp("2026-04-02"), pd.Timestamp("2026-07-01"))]


@pytest.fixture
def computations(monkeypatch):
    """Counts the real analysis runs behind the endpoints."""
    calls: list[str] = []
    real = workflow.run_inventory_analysis

    def spy(*, as_of=None, overrides=None):
        calls.append(str(as_of))
        return real(as_of=as_of, overrides=overrides)

    monkeypatch.setattr(workflow, "run_inventory_analysis", spy)
    return calls


def stock_of(body: dict, product_id: str) -> int:
    return next(a["current_stock"] for a in body["alerts"] if a["product_id"] == product_id)


@pytest.mark.django_db
def test_repeated_requests_are_served_from_the_cache(staff_client, small_shop, computations):
    first = staff_client.get(URLS[0], {"as_of": AS_OF}).json()
    again = staff_client.get(URLS[0], {"as_of": AS_OF}).json()
    assert computations == [AS_OF]
    assert again == first  # same numbers, same computed_at
    # the other endpoints and other filters are cuts of the same analysis
    assert staff_client.get(URLS[1], {"as_of": AS_OF}).status_code == 200
    assert staff_client.get(URLS[2], {"as_of": AS_OF}).status_code == 200
    category = first["alerts"][0]["category"]
    cut = staff_client.get(URLS[0], {"as_of": AS_OF, "category": category}).json()
    assert computations == [AS_OF]
    assert cut["alerts"] and {a["category"] for a in cut["alerts"]} == {category}
    assert cut["alerts"] == [a for a in first["alerts"] if a["category"] == category]
    # another analysis date is another analysis
    staff_client.get(URLS[0], {"as_of": "2026-06-15"})
    assert computations == [AS_OF, "2026-06-15"]


@pytest.mark.django_db
def test_a_stock_change_invalidates(staff_client, small_shop, computations):
    first = staff_client.get(URLS[0], {"as_of": AS_OF}).json()
    # more stock keeps a slow mover or an overstocked product on the list (a reorder alert could go away)
    product_id = next(a["product_id"] for a in first["alerts"] if a["alert_type"] in ("slow_moving", "overstock"))
    Product.objects.filter(pk=product_id).update(stock_quantity=F("stock_quantity") + 7)
    second = staff_client.get(URLS[0], {"as_of": AS_OF}).json()
    assert len(computations) == 2
    assert stock_of(second, product_id) == stock_of(first, product_id) + 7
    staff_client.get(URLS[0], {"as_of": AS_OF})
    assert len(computations) == 2  # and the new analysis is cached in turn


@pytest.mark.django_db
def test_deactivating_a_product_invalidates(staff_client, small_shop, computations):
    first = staff_client.get(URLS[2], {"as_of": AS_OF}).json()
    Product.objects.filter(pk=Product.objects.filter(is_active=True).first().pk).update(is_active=False)
    second = staff_client.get(URLS[2], {"as_of": AS_OF}).json()
    assert len(computations) == 2
    assert second["metrics"]["total_products"] == first["metrics"]["total_products"] - 1


def _order(product: Product, when: str, quantity: int, status: str = "paid") -> Order:
    order = Order.objects.create(customer=Customer.objects.first(), status=status,
                                 created_at=datetime.fromisoformat(when).replace(tzinfo=UTC))
    OrderItem.objects.create(order=order, product=product, quantity=quantity, unit_price=product.price)
    return order


@pytest.mark.django_db
def test_a_new_order_invalidates_and_a_cancelled_one_too(staff_client, small_shop, computations):
    first = staff_client.get(URLS[1], {"as_of": AS_OF}).json()
    product = Product.objects.get(pk=first["recommendations"][0]["product_id"])
    order = _order(product, "2026-06-29T12:00:00", 40)
    second = staff_client.get(URLS[1], {"as_of": AS_OF}).json()
    assert len(computations) == 2
    demand = {r["product_id"]: r["daily_demand"] for r in second["recommendations"]}
    assert demand[str(product.pk)] > first["recommendations"][0]["daily_demand"]
    Order.objects.filter(pk=order.pk).update(status="cancelled")
    third = staff_client.get(URLS[1], {"as_of": AS_OF}).json()
    # the cancelled order no longer counts: the data is the first request's again, and so is the answer
    # (its cache entry is still valid, so nothing is recomputed)
    assert third == first and len(computations) == 2
    assert second["computed_at"] != first["computed_at"]


@pytest.mark.django_db
def test_an_order_outside_the_analysed_windows_does_not_invalidate(staff_client, small_shop, computations):
    staff_client.get(URLS[0], {"as_of": AS_OF})
    _order(Product.objects.first(), "2026-08-15T12:00:00", 3)  # after as_of: the analysis never reads it
    staff_client.get(URLS[0], {"as_of": AS_OF})
    assert len(computations) == 1


@pytest.mark.django_db
def test_a_new_active_model_invalidates(staff_client, small_shop, computations):
    staff_client.get(URLS[0], {"as_of": AS_OF})
    register_model(model_type="inventory", artifact={"x": 1}, algorithm="test")
    staff_client.get(URLS[0], {"as_of": AS_OF})
    assert len(computations) == 2
    staff_client.get(URLS[0], {"as_of": AS_OF})
    assert len(computations) == 2
    register_model(model_type="sales_forecast", artifact={"x": 1}, algorithm="test")
    staff_client.get(URLS[0], {"as_of": AS_OF})
    assert len(computations) == 3


@pytest.mark.django_db
def test_a_settings_change_invalidates(staff_client, small_shop, computations, settings):
    first = staff_client.get(URLS[1], {"as_of": AS_OF}).json()
    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "SERVICE_LEVEL": 0.80}
    second = staff_client.get(URLS[1], {"as_of": AS_OF}).json()
    assert len(computations) == 2
    assert second["total_recommendations"] <= first["total_recommendations"]


@pytest.mark.django_db
def test_ttl_zero_disables_the_cache(staff_client, small_shop, computations, settings):
    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "INVENTORY_CACHE_SECONDS": 0}
    staff_client.get(URLS[0], {"as_of": AS_OF})
    staff_client.get(URLS[0], {"as_of": AS_OF})
    assert len(computations) == 2
    assert not [k for k in cache._cache if workflow.CACHE_KEY_PREFIX in k]  # LocMemCache: nothing stored


@pytest.mark.django_db
def test_entries_expire_after_the_ttl(staff_client, small_shop, computations, settings, monkeypatch):
    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "INVENTORY_CACHE_SECONDS": 60,
                               "INVENTORY_FINGERPRINT_SECONDS": 30}
    seen = []
    real_set = cache.set
    monkeypatch.setattr(cache, "set", lambda key, value, timeout=None: (
        seen.append((key, timeout)), real_set(key, value, timeout)))
    staff_client.get(URLS[0], {"as_of": AS_OF})
    # the analysis, the note that the alerts were synced to it and the rendered answer, all for the TTL;
    # the reused fingerprint for its own; the change stamps never expire: losing one only costs a recheck
    kinds = [(next((name for prefix, name in [(workflow.CACHE_KEY_PREFIX, "analysis"),
                                              (workflow.FINGERPRINT_KEY_PREFIX, "fingerprint"),
                                              (data_changes.VERSION_KEY, "data_stamp"),
                                              (services.SYNC_TOKEN_KEY, "synced"),
                                              (answers.ANSWER_KEY_PREFIX, "answer"),
                                              (data_changes.ALERTS_KEY, "alerts_stamp")]
                   if key.startswith(prefix)), key), timeout) for key, timeout in seen]
    assert sorted(kinds, key=str) == sorted([("fingerprint", 30), ("analysis", 60), ("alerts_stamp", None),
                                             ("synced", 60), ("answer", 60)], key=str), kinds


@pytest.mark.django_db
def test_a_source_without_fingerprint_is_never_cached(staff_client, small_shop, computations, monkeypatch):
    monkeypatch.setattr(DjangoORMDataSource, "fingerprint", lambda self, **kwargs: None)
    staff_client.get(URLS[0], {"as_of": AS_OF})
    staff_client.get(URLS[0], {"as_of": AS_OF})
    assert len(computations) == 2


@pytest.mark.django_db
def test_a_broken_cache_only_costs_a_recomputation(staff_client, small_shop, computations, monkeypatch):
    def boom(*args, **kwargs):
        raise ConnectionError("cache server down")

    monkeypatch.setattr(cache, "get", boom)
    monkeypatch.setattr(cache, "set", boom)
    assert staff_client.get(URLS[0], {"as_of": AS_OF}).status_code == 200
    assert staff_client.get(URLS[0], {"as_of": AS_OF}).status_code == 200
    assert len(computations) == 2


# --- the data sources' fingerprints ---------------------------------------------------------------------

@pytest.mark.django_db
def test_orm_fingerprint_follows_stock_orders_and_statuses(small_shop):
    source = DjangoORMDataSource()

    def fp():
        return source.fingerprint(order_windows=WINDOWS, products=True)

    base = fp()
    assert base == fp() and isinstance(base, str)
    assert source.fingerprint(order_windows=WINDOWS) != base  # what is fingerprinted is part of it
    product = Product.objects.first()
    Product.objects.filter(pk=product.pk).update(stock_quantity=F("stock_quantity") + 1)
    moved = fp()
    assert moved != base
    Product.objects.filter(pk=product.pk).update(stock_quantity=F("stock_quantity") - 1)
    assert fp() == base  # a fingerprint of the data, not a change counter
    Product.objects.filter(pk=product.pk).update(cost=F("cost") + 1)
    assert fp() != base
    Product.objects.filter(pk=product.pk).update(cost=F("cost") - 1)
    order = _order(product, "2026-06-20T08:00:00", 2)
    with_order = fp()
    assert with_order != base
    OrderItem.objects.filter(order=order).update(quantity=3)
    assert fp() not in (base, with_order)
    Order.objects.filter(pk=order.pk).update(status="refunded")
    assert fp() == base


def test_csv_fingerprint_follows_the_files(tmp_path: Path):
    (tmp_path / "order_lines.csv").write_text("order_id,customer_id,product_id,ordered_at,quantity,unit_price\n")
    (tmp_path / "products.csv").write_text("id,name,stock\np1,A,3\n")
    source = CSVDataSource(tmp_path)
    base = source.fingerprint(order_windows=WINDOWS, products=True)
    assert base == source.fingerprint(order_windows=WINDOWS, products=True)
    (tmp_path / "products.csv").write_text("id,name,stock\np1,A,30\n")
    assert source.fingerprint(order_windows=WINDOWS, products=True) != base


def test_base_data_source_cannot_fingerprint():
    from ml_predictions.data.base import DataSource

    class Minimal(DataSource):
        def order_lines(self, start=None, end=None):
            return pd.DataFrame()

        def products(self):
            return pd.DataFrame()

        def customers(self):
            return pd.DataFrame()

    assert Minimal().fingerprint(order_windows=WINDOWS, products=True) is None


@pytest.fixture(autouse=True)
def _fresh_source(settings):
    """These tests are about the fingerprint itself (writes through QuerySet.update(), which no signal
    sees): it is checked on every request here; the change stamp that lets the shipped default skip it
    is tested in test_inventory_change_stamp.py."""
    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "INVENTORY_FINGERPRINT_SECONDS": 0}
    reset_data_source_cache()
    yield
    reset_data_source_cache()


def test_system_check_names_a_missing_cache_alias(settings):
    from ml_predictions.checks import check_ml_settings

    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "INVENTORY_CACHE_ALIAS": "inventory"}
    assert [e.id for e in check_ml_settings()] == ["ml_predictions.E005"]
    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "INVENTORY_CACHE_SECONDS": 0}
    assert check_ml_settings() == []


@pytest.mark.django_db
def test_a_reused_fingerprint_trades_freshness_for_speed(staff_client, small_shop, computations, settings,
                                                          monkeypatch):
    """INVENTORY_FINGERPRINT_SECONDS > 0: the data is not re-checked within that time (no fingerprint query,
    the stock change is not seen yet); once the stored fingerprint expires, it is."""
    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "INVENTORY_FINGERPRINT_SECONDS": 60}
    checks: list[int] = []
    real = DjangoORMDataSource.fingerprint

    def counting(self, **kwargs):
        checks.append(1)
        return real(self, **kwargs)

    monkeypatch.setattr(DjangoORMDataSource, "fingerprint", counting)
    first = staff_client.get(URLS[0], {"as_of": AS_OF}).json()
    product_id = next(a["product_id"] for a in first["alerts"] if a["alert_type"] in ("slow_moving", "overstock"))
    Product.objects.filter(pk=product_id).update(stock_quantity=F("stock_quantity") + 7)
    second = staff_client.get(URLS[0], {"as_of": AS_OF}).json()
    assert len(checks) == 1 and len(computations) == 1
    assert stock_of(second, product_id) == stock_of(first, product_id)
    cache.clear()  # the stored fingerprint expires
    third = staff_client.get(URLS[0], {"as_of": AS_OF}).json()
    assert len(checks) == 2 and stock_of(third, product_id) == stock_of(first, product_id) + 7
