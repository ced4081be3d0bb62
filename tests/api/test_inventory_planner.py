"""Planner fields through the HTTP API: classes, supplier terms read from the shop's products, order-by
dates, cover, lost revenue, the health score's parts, and answers that match their OpenAPI serializers."""
from __future__ import annotations

import math
from datetime import date, timedelta

import pytest
from rest_framework import serializers

from ml_predictions.api.inventory_serializers import (
    HealthOutputSerializer,
    InventoryAnalysisOutputSerializer,
    ReorderOutputSerializer,
)
from ml_predictions.data import mark_changed
from ml_predictions.estimators.inventory import DEFAULT_CLASS_SERVICE_LEVELS

AS_OF = "2026-07-01"
URLS = ["/api/ml/inventory-analysis/", "/api/ml/reorder-recommendations/", "/api/ml/inventory-health/"]


def _fields(serializer: serializers.Serializer) -> dict[str, serializers.Field]:
    return dict(serializer.fields)


def assert_matches(body: dict, serializer: serializers.Serializer) -> None:
    """Every documented key is present and no undocumented key is sent, recursively."""
    fields = _fields(serializer)
    assert set(body) == set(fields), (set(body) ^ set(fields))
    for name, field in fields.items():
        value = body[name]
        if isinstance(field, serializers.ListSerializer) and value:
            for item in value[:50]:
                assert_matches(item, field.child)
        elif isinstance(field, serializers.Serializer) and value is not None:
            assert_matches(value, field)


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "serializer"), [
    (URLS[0], InventoryAnalysisOutputSerializer()), (URLS[1], ReorderOutputSerializer()),
    (URLS[2], HealthOutputSerializer()),
])
def test_answers_match_their_documented_serializers(staff_client, small_shop, url, serializer):
    body = staff_client.get(url, {"as_of": AS_OF}).json()
    assert_matches(body, serializer)


@pytest.mark.django_db
def test_classes_and_new_fields_in_the_analysis(staff_client, small_shop):
    body = staff_client.get(URLS[0], {"as_of": AS_OF}).json()
    classes = {c["abc_xyz"]: c for c in body["classes"]}
    assert sum(c["products"] for c in classes.values()) == body["total_products_analyzed"]
    assert sum(c["revenue_share"] for c in classes.values()) == pytest.approx(1.0, abs=1e-3)
    for name, row in classes.items():
        assert row["service_level"] == DEFAULT_CLASS_SERVICE_LEVELS[name]
    # the A products make most of the revenue
    assert sum(c["revenue_share"] for n, c in classes.items() if n[0] == "A") >= 0.79
    for a in body["alerts"]:
        assert a["abc_xyz"] in DEFAULT_CLASS_SERVICE_LEVELS
        if a["alert_type"] == "reorder_now":
            assert a["order_by_date"] == AS_OF
        if a["alert_type"] == "low_stock":
            assert a["order_by_date"] >= AS_OF
            assert a["days_of_cover"] > 0


@pytest.mark.django_db
def test_supplier_terms_from_the_product_table_round_orders(staff_client, small_shop):
    from backend_django.shop.models import Product

    first = staff_client.get(URLS[1], {"as_of": AS_OF}).json()["recommendations"]
    line = first[0]
    assert line["min_order_quantity"] is None and line["case_pack"] is None and line["supplier"] is None
    need = line["recommended_order_quantity"]
    Product.objects.filter(pk=line["product_id"]).update(min_order_quantity=need + 5, case_pack=12,
                                                         lead_time_std_days=0, supplier="Acme")
    mark_changed()  # a bulk write's contract: QuerySet.update() sends no signal
    again = {r["product_id"]: r for r in staff_client.get(URLS[1], {"as_of": AS_OF}).json()["recommendations"]}
    row = again[line["product_id"]]
    assert row["recommended_order_quantity"] == 12 * math.ceil((need + 5) / 12)
    assert row["supplier"] == "Acme" and row["case_pack"] == 12 and row["lead_time_std_days"] == 0
    assert row["order_by_date"] == AS_OF
    stockout = date.fromisoformat(row["estimated_stockout_date"])
    assert date.fromisoformat(AS_OF) <= stockout <= date.fromisoformat(AS_OF) + timedelta(days=int(row["lead_time_days"]) + 1)
    # lost revenue if not ordered: demand over lead time + review beyond the stock, at the price
    price = float(Product.objects.get(pk=line["product_id"]).price)
    expected = max(row["daily_demand"] * (row["lead_time_days"] + 14) - row["current_stock"], 0) * price
    # daily_demand is shown to 2 decimals: up to 0.005 a day of difference over L + 14 days
    assert row["estimated_lost_revenue"] == pytest.approx(expected, abs=0.005 * (row["lead_time_days"] + 14) * price + 0.01)


@pytest.mark.django_db
def test_health_parts_explain_the_score(staff_client, small_shop):
    body = staff_client.get(URLS[2], {"as_of": AS_OF}).json()
    lost = sum(p["points"] for p in body["score_parts"])
    assert lost == pytest.approx(100 - body["health_score"], abs=0.2)
    assert {p["alert_type"] for p in body["score_parts"]} <= {"reorder_now", "low_stock", "slow_moving", "overstock"}
