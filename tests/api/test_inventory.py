"""Inventory endpoints: authorization matrix, the spec's response shapes, filters, errors, forecast demand source."""
from __future__ import annotations

import sys
import types

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from tests.helpers import assert_error, assert_staff_only

AS_OF = "2026-07-01"  # the day after the small_shop history ends
URLS = ["/api/ml/inventory-analysis/", "/api/ml/reorder-recommendations/", "/api/ml/inventory-health/"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", URLS)
def test_authorization_matrix(url, anon_client, user_client, staff_client, small_shop):
    assert_staff_only(anon_client, user_client, "get", url)
    res = staff_client.get(url, {"as_of": AS_OF})
    assert res.status_code == 200, res.content[:300]
    assert res.json()["success"] is True


@pytest.mark.django_db
def test_analysis_shape_and_consistency(staff_client, small_shop):
    body = staff_client.get(URLS[0], {"as_of": AS_OF}).json()
    active = int(small_shop.products["is_active"].sum())
    assert body["total_products_analyzed"] == active
    assert body["demand_source"] == "history" and body["as_of"] == AS_OF
    alerts = body["alerts"]
    assert alerts, "the generator plants low, overstocked and slow products"
    assert set(alerts[0]) >= {"product_id", "product_name", "alert_type", "current_stock", "recommended_stock",
                              "predicted_demand_7days", "predicted_demand_30days", "urgency_level",
                              "estimated_stockout_date"}
    summary = body["summary"]
    assert summary["total_alerts"] == len(alerts)
    assert set(summary["by_type"]) == {"reorder_now", "low_stock", "slow_moving", "overstock", "high_demand"}
    assert sum(summary["by_type"].values()) == len(alerts)
    assert summary["total_stock_value_at_risk"] > 0
    assert [a["urgency_level"] for a in alerts] == sorted((a["urgency_level"] for a in alerts), reverse=True)
    # the current stock reported is the shop's stock
    stock = dict(zip(small_shop.products["id"], small_shop.products["stock_quantity"], strict=True))
    for a in alerts:
        assert a["current_stock"] == stock[a["product_id"].replace("-", "")]
        assert 1 <= a["urgency_level"] <= 5
        if a["alert_type"] == "reorder_now":
            assert a["recommended_stock"] >= a["current_stock"]
            assert a["estimated_stockout_date"] >= AS_OF
    # planted "low" products mostly end up in reorder_now (their cover is 0-6 days)
    kinds = dict(zip(small_shop.products_truth["product_id"], small_shop.products_truth["stock_kind"], strict=True))
    reorder_kinds = [kinds[a["product_id"].replace("-", "")] for a in alerts if a["alert_type"] == "reorder_now"]
    assert reorder_kinds.count("low") >= len(reorder_kinds) / 2
    # the seasonal index, recomputed here from the generated orders: last July's rate over the 56 days before it
    orders = small_shop.orders[~small_shop.orders["status"].isin(["cancelled", "refunded"])]
    lines = small_shop.order_items.merge(orders[["id", "created_at"]], left_on="order_id", right_on="id")
    day = pd.to_datetime(lines["created_at"]).dt.normalize()
    ahead = lines.loc[(day >= "2025-07-01") & (day < "2025-07-29"), "quantity"].sum() / 28
    before = lines.loc[(day >= "2025-05-06") & (day < "2025-07-01"), "quantity"].sum() / 56
    assert body["seasonal_index"] == pytest.approx(min(max(ahead / before, 0.5), 2.5), abs=1e-3)
    # products without sales history are listed, not dropped
    no_hist = body["data_issues"]["no_sales_history"]
    assert no_hist["count"] == len(no_hist["products"]) >= 1


@pytest.mark.django_db
def test_analysis_filters(staff_client, small_shop):
    full = staff_client.get(URLS[0], {"as_of": AS_OF}).json()
    slow = staff_client.get(URLS[0], {"as_of": AS_OF, "alert_type": "slow_moving"}).json()
    assert slow["alerts"] and {a["alert_type"] for a in slow["alerts"]} == {"slow_moving"}
    assert len(slow["alerts"]) == full["summary"]["by_type"]["slow_moving"]
    urgent = staff_client.get(URLS[0], {"as_of": AS_OF, "min_urgency": 3}).json()
    assert len(urgent["alerts"]) == sum(a["urgency_level"] >= 3 for a in full["alerts"])
    category = full["alerts"][0]["category"]
    by_cat = staff_client.get(URLS[0], {"as_of": AS_OF, "category": category}).json()
    assert {a["category"] for a in by_cat["alerts"]} == {category}
    names = small_shop.products["category_id"].map(dict(zip(small_shop.categories["id"], small_shop.categories["name"],
                                                            strict=True)))
    n_cat = int(small_shop.products.loc[names == category, "is_active"].sum())
    assert by_cat["total_products_analyzed"] == n_cat
    limited = staff_client.get(URLS[0], {"as_of": AS_OF, "limit": 2}).json()
    assert len(limited["alerts"]) == 2 and limited["summary"]["total_alerts"] == full["summary"]["total_alerts"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        (URLS[0], {"alert_type": "soon"}, "alert_type"),
        (URLS[0], {"min_urgency": 9}, "min_urgency"),
        (URLS[0], {"min_urgency": "high"}, "min_urgency"),
        (URLS[0], {"category": "Nope"}, "category"),
        (URLS[0], {"limit": 0}, "limit"),
        (URLS[1], {"min_urgency": 0}, "min_urgency"),
        (URLS[1], {"category": "Nope"}, "category"),
        (URLS[2], {"as_of": "yesterday"}, "as_of"),
        (URLS[2], {"category": "Nope"}, "category"),
    ],
)
def test_invalid_filters_are_400_naming_the_field(staff_client, small_shop, url, params, field):
    res = staff_client.get(url, {"as_of": AS_OF, **params})
    body = assert_error(res, 400, field)
    assert field in body["error"]["fields"]


@pytest.mark.django_db
def test_no_sales_history_is_422(staff_client, small_shop):
    res = staff_client.get(URLS[0], {"as_of": "2020-01-01"})
    assert_error(res, 422, "no sales", "days of order history")


@pytest.mark.django_db
def test_reorder_recommendations(staff_client, small_shop):
    body = staff_client.get(URLS[1], {"as_of": AS_OF}).json()
    recs = body["recommendations"]
    assert body["total_recommendations"] == len(recs) >= 1
    first = recs[0]
    assert set(first) >= {"product_id", "product_name", "current_stock", "reorder_point",
                          "recommended_order_quantity", "safety_stock", "daily_demand", "estimated_cost", "priority"}
    cost = small_shop.products.set_index("id")["cost"]
    total = 0.0
    for r in recs:
        assert r["current_stock"] <= r["reorder_point"]
        assert r["recommended_order_quantity"] >= 1
        assert r["priority"] in {"high", "medium", "low"}
        assert r["estimated_cost"] == pytest.approx(r["recommended_order_quantity"] * cost[r["product_id"].replace("-", "")],
                                                    abs=0.01)
        total += r["estimated_cost"]
    assert body["estimated_total_cost"] == pytest.approx(total, abs=0.05)
    analysis = staff_client.get(URLS[0], {"as_of": AS_OF, "alert_type": "reorder_now"}).json()
    assert {r["product_id"] for r in recs} == {a["product_id"] for a in analysis["alerts"]}
    high = staff_client.get(URLS[1], {"as_of": AS_OF, "min_urgency": 4}).json()
    assert all(r["priority"] == "high" for r in high["recommendations"])


@pytest.mark.django_db
def test_health(staff_client, small_shop):
    body = staff_client.get(URLS[2], {"as_of": AS_OF}).json()
    m = body["metrics"]
    assert m["total_products"] == int(small_shop.products["is_active"].sum())
    assert 0 <= body["health_score"] <= 100
    assert body["status"] == ("good" if body["health_score"] >= 80 else "warning" if body["health_score"] >= 60
                              else "critical")
    assert m["optimal"] <= m["total_products"] - max(m["low_stock"], m["overstock"], m["slow_moving"])
    texts = body["recommendations"]
    assert any(f"Restock {m['low_stock']} product" in t for t in texts)
    assert any(f"{m['slow_moving']} slow-moving" in t for t in texts)
    cat = staff_client.get(URLS[0], {"as_of": AS_OF}).json()["alerts"][0]["category"]
    sub = staff_client.get(URLS[2], {"as_of": AS_OF, "category": cat}).json()
    assert sub["metrics"]["total_products"] < m["total_products"]


@pytest.fixture
def fake_forecast(monkeypatch, small_shop):
    """Install forecast_product_demand as the forecasting capability would (module may not exist yet)."""
    ids = small_shop.products.loc[small_shop.products["is_active"], "id"]
    ids = [f"{v[:8]}-{v[8:12]}-{v[12:16]}-{v[16:20]}-{v[20:]}" for v in ids]
    days = pd.date_range(AS_OF, periods=30, freq="D")
    frame = pd.DataFrame({"product_id": np.repeat(ids, 30), "date": np.tile(days, len(ids)),
                          "predicted_quantity": 5.0})
    calls = []

    def forecast_product_demand(horizon_days: int):
        calls.append(horizon_days)
        return frame

    try:
        import ml_predictions.capabilities.forecasting.selectors as module
        monkeypatch.setattr(module, "forecast_product_demand", forecast_product_demand)
    except ImportError:
        module = types.ModuleType("ml_predictions.capabilities.forecasting.selectors")
        module.forecast_product_demand = forecast_product_demand
        monkeypatch.setitem(sys.modules, "ml_predictions.capabilities.forecasting.selectors", module)
    return calls


@pytest.mark.django_db
def test_forecast_is_the_demand_source_when_available(staff_client, fake_forecast):
    body = staff_client.get(URLS[0], {"as_of": AS_OF}).json()
    assert fake_forecast == [30]
    assert body["demand_source"] == "forecast"
    for a in body["alerts"]:
        assert a["predicted_demand_7days"] == 35.0 and a["predicted_demand_30days"] == 150.0
    recs = staff_client.get(URLS[1], {"as_of": AS_OF}).json()
    assert recs["demand_source"] == "forecast"
    assert {r["daily_demand"] for r in recs["recommendations"]} == {5.0}
    # the fake forecast has no residual_std: the spread still comes from the shop's history
    assert {r["demand_spread_source"] for r in recs["recommendations"]} == {"history"}


@pytest.mark.django_db
def test_forecast_residual_std_sets_the_safety_stock(staff_client, small_shop, monkeypatch):
    ids = small_shop.products.loc[small_shop.products["is_active"], "id"]
    ids = [f"{v[:8]}-{v[8:12]}-{v[12:16]}-{v[16:20]}-{v[20:]}" for v in ids]
    days = pd.date_range(AS_OF, periods=30, freq="D")
    frame = pd.DataFrame({"product_id": np.repeat(ids, 30), "date": np.tile(days, len(ids)),
                          "predicted_quantity": 5.0, "residual_std": 2.0})
    module = types.ModuleType("ml_predictions.capabilities.forecasting.selectors")
    module.forecast_product_demand = lambda horizon_days: frame
    monkeypatch.setitem(sys.modules, "ml_predictions.capabilities.forecasting.selectors", module)
    recs = staff_client.get(URLS[1], {"as_of": AS_OF}).json()["recommendations"]
    assert recs and {r["demand_spread_source"] for r in recs} == {"forecast_backtest"}
    assert {r["demand_std"] for r in recs} == {2.0}
    for r in recs:  # z * sqrt(L * 2^2 + 5^2 * sigma_L^2), rounded up like the response
        z = norm.ppf(r["service_level"])
        ss = z * np.sqrt(r["lead_time_days"] * 4.0 + 25.0 * r["lead_time_std_days"] ** 2)
        assert r["safety_stock"] == int(np.ceil(ss - 1e-9))


@pytest.mark.django_db
def test_forecast_returning_none_falls_back_to_history(staff_client, small_shop, monkeypatch):
    module = types.ModuleType("ml_predictions.capabilities.forecasting.selectors")
    module.forecast_product_demand = lambda horizon_days: None
    monkeypatch.setitem(sys.modules, "ml_predictions.capabilities.forecasting.selectors", module)
    body = staff_client.get(URLS[0], {"as_of": AS_OF}).json()
    assert body["demand_source"] == "history"


@pytest.mark.django_db
def test_openapi_lists_the_endpoints_with_examples(staff_client):
    res = staff_client.get("/api/schema/", {"format": "json"})
    assert res.status_code == 200, res.status_code
    paths = res.json()["paths"]
    for url in URLS:
        op = paths[url]["get"]
        content = op["responses"]["200"]["content"]["application/json"]
        assert content.get("examples"), url
        assert {p["name"] for p in op["parameters"]} >= {"category", "as_of"}


@pytest.mark.django_db
def test_analysis_links_persisted_alerts_and_resolve_works(staff_client, small_shop):
    from ml_predictions.models import InventoryAlert

    body = staff_client.get(URLS[0], {"as_of": AS_OF}).json()
    stored = {(a.product_id, a.alert_type): str(a.pk) for a in InventoryAlert.objects.filter(status="open")}
    assert {(a["product_id"], a["alert_type"]): a["alert_id"] for a in body["alerts"]} == stored
    assert {a["alert_status"] for a in body["alerts"]} == {"open"}
    first = body["alerts"][0]
    res = staff_client.post(f"/api/ml/inventory-alerts/{first['alert_id']}/resolve/", {}, format="json")
    assert res.status_code == 200 and res.json()["status"] == "resolved"
    after = staff_client.get(URLS[0], {"as_of": AS_OF}).json()
    again = next(a for a in after["alerts"] if (a["product_id"], a["alert_type"]) ==
                 (first["product_id"], first["alert_type"]))
    assert again["alert_id"] is None and again["alert_status"] == "snoozed"
    assert InventoryAlert.objects.get(pk=first["alert_id"]).status == "resolved"
