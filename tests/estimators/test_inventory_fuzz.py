"""Shape fuzz of the inventory optimiser: odd but legal shops give the documented output, never a crash.

One product; products never ordered; all orders on one day; a gap of a year; NaN (unknown) stock,
cost, price and lead time; zero prices and costs; supplier terms present or not; integer, string,
UUID and non-ASCII ids; sales of products the catalogue does not list. The properties checked are
the documented ones: one policy row per product, no negative or NaN figure where a number is
promised, orders are whole multiples of the case pack and at least the MOQ, unknown stock gets no
order and no alert, the health parts add up to the points lost.
"""
from __future__ import annotations

import uuid
from datetime import date, timedelta

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ml_predictions.estimators.inventory import CLASSES, DEFAULT_CLASS_SERVICE_LEVELS, InventoryOptimizer

AS_OF = date(2026, 7, 1)
ID_KINDS = {
    "int": lambda i: i + 1,
    "str": lambda i: f"sku-{i}",
    "uuid": lambda i: str(uuid.UUID(int=i + 1)),
    "non_ascii": lambda i: f"Café-Ñandú-商品-{i}",
}
MAYBE_NUMBER = st.one_of(st.just(np.nan), st.just(0.0), st.floats(0.01, 500, allow_nan=False))


@st.composite
def shops(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    kind = draw(st.sampled_from(sorted(ID_KINDS)))
    n = draw(st.integers(1, 6))
    ids = [ID_KINDS[kind](i) for i in range(n)]
    same_day = draw(st.booleans())
    year_gap = draw(st.booleans())
    rows = []
    for pid in ids:
        if draw(st.booleans()) and n > 1:
            continue  # never ordered
        for _ in range(draw(st.integers(1, 12))):
            back = 1 if same_day else draw(st.integers(1, 120))
            if year_gap and draw(st.booleans()):
                back += 365
            rows.append({"product_id": pid, "ordered_at": pd.Timestamp(AS_OF - timedelta(days=back), tz="UTC"),
                         "quantity": draw(st.integers(0, 40))})
    if draw(st.booleans()):  # a sale of a product the catalogue does not list
        rows.append({"product_id": "ghost", "ordered_at": pd.Timestamp(AS_OF - timedelta(days=3), tz="UTC"),
                     "quantity": 5})
    sales = pd.DataFrame(rows, columns=["product_id", "ordered_at", "quantity"])
    products = pd.DataFrame({
        "id": ids,
        "name": [f"Product {i}" for i in range(n)],
        "category": [draw(st.sampled_from(["A", "B", None])) for _ in ids],
        "price": [draw(MAYBE_NUMBER) for _ in ids],
        "cost": [draw(MAYBE_NUMBER) for _ in ids],
        "stock": [draw(st.one_of(st.just(np.nan), st.integers(0, 300).map(float))) for _ in ids],
        "lead_time_days": [draw(st.one_of(st.just(np.nan), st.integers(0, 60).map(float))) for _ in ids],
        "min_order_quantity": [draw(st.one_of(st.just(np.nan), st.integers(0, 100).map(float))) for _ in ids],
        "case_pack": [draw(st.one_of(st.just(np.nan), st.integers(0, 48).map(float))) for _ in ids],
        "lead_time_std_days": [draw(st.one_of(st.just(np.nan), st.floats(0, 10))) for _ in ids],
    })
    params = {
        "order_policy": draw(st.sampled_from(["order_up_to", "eoq"])),
        "service_type": draw(st.sampled_from(["cycle", "fill_rate"])),
        "class_service_levels": draw(st.sampled_from([None, DEFAULT_CLASS_SERVICE_LEVELS])),
        "seasonal_adjustment": draw(st.booleans()),
    }
    return sales, products, params


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shops())
def test_odd_shops_give_the_documented_output(shop):
    sales, products, params = shop
    est = InventoryOptimizer(**params).fit(sales, products, as_of=AS_OF)
    p = est.policy_
    assert len(p) == len(products) and list(p["product_id"]) == [str(i) for i in products["id"]]
    for col in ("daily_demand", "demand_std", "safety_stock", "reorder_point", "order_up_to",
                "recommended_order_quantity", "service_level"):
        values = p[col].to_numpy(float)
        assert np.isfinite(values).all() and (values >= 0).all(), col
    assert set(p["abc_xyz"]) <= set(CLASSES)
    assert ((p["service_level"] >= 0.5) & (p["service_level"] < 1)).all()
    ordered = p[p["recommended_order_quantity"] > 0]
    assert ordered["stock_known"].all() and (ordered["daily_demand"] > 0).all()
    pack = ordered["case_pack"].fillna(1)
    assert np.allclose(ordered["recommended_order_quantity"] % pack, 0)
    assert (ordered["recommended_order_quantity"] >= ordered["min_order_quantity"].fillna(0)).all()
    unknown = set(p.loc[~p["stock_known"], "product_id"])
    alerts = est.alerts()
    assert not unknown & set(alerts.loc[alerts["alert_type"] != "high_demand", "product_id"])
    assert p.loc[~p["stock_known"], "order_by_in_days"].isna().all()
    lost = p["estimated_lost_revenue"].dropna()
    assert (lost >= 0).all()
    assert alerts["urgency_level"].between(1, 5).all()
    report = est.health()
    if not p["stock_known"].any():  # nothing to score: no score, no parts
        assert report.health_score is None and report.status == "unknown" and report.score_parts == []
    else:
        assert 0 <= report.health_score <= 100
        points = sum(part["points"] for part in report.score_parts)
        assert abs(points - (100 - report.health_score)) <= 0.1 + 0.01 * len(report.score_parts)
    rec = est.reorder_recommendations()
    assert set(rec["product_id"]) == set(ordered["product_id"])
    assert sum(c["products"] for c in est.class_summary()) == len(products)


def test_no_sales_at_all_is_a_policy_of_zeros():
    products = pd.DataFrame({"id": [1, 2], "name": ["a", "b"], "category": ["x", "y"], "cost": [1.0, np.nan],
                             "stock": [5.0, np.nan], "lead_time_days": [np.nan, 3.0]})
    sales = pd.DataFrame(columns=["product_id", "ordered_at", "quantity"])
    est = InventoryOptimizer().fit(sales, products, as_of=AS_OF)
    assert (est.policy_["daily_demand"] == 0).all() and (est.policy_["recommended_order_quantity"] == 0).all()
    assert list(est.policy_["abc_xyz"]) == ["CZ", "CZ"]
    # the stocked product with no sale is slow moving; the unknown one carries nothing
    assert list(est.alerts()["alert_type"]) == ["slow_moving"]
