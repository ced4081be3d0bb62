"""Planner rules end to end through the API and the shop's own product table: each reorder line carries its
ABC-XYZ class and that class's level, the fill-rate service type is a setting, and a lead-time spread
stored on the product enters the safety stock as z x sqrt(L sd^2 + d^2 sL^2) (checked by hand per line)."""
from __future__ import annotations

import math

import pytest

from backend_django.shop.models import Product
from ml_predictions.estimators.inventory import DEFAULT_CLASS_SERVICE_LEVELS, z_value

AS_OF = "2026-07-01"
ANALYSIS, REORDER = "/api/ml/inventory-analysis/", "/api/ml/reorder-recommendations/"


def _safety_by_hand(row: dict) -> float:
    spread = math.sqrt(row["lead_time_days"] * row["demand_std"] ** 2
                       + row["daily_demand"] ** 2 * (row["lead_time_std_days"] or 0) ** 2)
    return z_value(row["service_level"]) * spread


@pytest.mark.django_db
def test_each_reorder_line_has_its_class_and_the_class_level(staff_client, small_shop):
    rows = staff_client.get(REORDER, {"as_of": AS_OF}).json()["recommendations"]
    assert len(rows) > 5
    assert len({r["abc_xyz"] for r in rows}) > 1
    for r in rows:
        assert r["service_level"] == DEFAULT_CLASS_SERVICE_LEVELS[r["abc_xyz"]], r
        assert abs(r["safety_stock"] - math.ceil(_safety_by_hand(r))) <= 1, r
    classes = {c["abc_xyz"]: c for c in staff_client.get(ANALYSIS, {"as_of": AS_OF}).json()["classes"]}
    for name in {r["abc_xyz"] for r in rows}:
        assert classes[name]["reorder_now"] >= 1


@pytest.mark.django_db
def test_fill_rate_service_is_a_setting_and_holds_less_safety_stock(staff_client, small_shop, settings):
    cycle = {r["product_id"]: r for r in staff_client.get(REORDER, {"as_of": AS_OF}).json()["recommendations"]}
    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "INVENTORY_SERVICE_TYPE": "fill_rate"}
    assert staff_client.get(ANALYSIS, {"as_of": AS_OF}).json()["service_type"] == "fill_rate"
    fill = {r["product_id"]: r for r in staff_client.get(REORDER, {"as_of": AS_OF}).json()["recommendations"]}
    common = sorted(set(cycle) & set(fill))
    assert common
    assert all(fill[p]["safety_stock"] <= cycle[p]["safety_stock"] for p in common)
    assert sum(fill[p]["safety_stock"] for p in common) < sum(cycle[p]["safety_stock"] for p in common)


@pytest.mark.django_db
def test_a_stored_lead_time_spread_enters_the_safety_stock(staff_client, small_shop):
    rows = staff_client.get(REORDER, {"as_of": AS_OF}).json()["recommendations"]
    line = max(rows, key=lambda r: r["daily_demand"])
    assert not line["lead_time_std_days"]
    product = Product.objects.get(pk=line["product_id"])
    product.lead_time_std_days = 3
    product.save()  # through the ORM: the cached answers follow at once
    after = {r["product_id"]: r for r in staff_client.get(REORDER, {"as_of": AS_OF}).json()["recommendations"]}
    row = after[line["product_id"]]
    assert row["lead_time_std_days"] == 3.0
    # hand-computed from the line's own figures: z(level) x sqrt(L sd^2 + d^2 x 9)
    assert abs(row["safety_stock"] - math.ceil(_safety_by_hand(row))) <= 1
    assert row["safety_stock"] > line["safety_stock"]
