"""Planner-grade policy: ABC-XYZ classes and their service levels, MOQ and case packs, lead-time
spread, order-by dates, days of cover, lost revenue, fill-rate service, the score's parts, and the
scikit-learn estimator contract. Every expected figure is worked out by hand in the comments."""
from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from ml_predictions.errors import InvalidParameterError, NotFittedError
from ml_predictions.estimators.inventory import DEFAULT_CLASS_SERVICE_LEVELS, InventoryOptimizer
from ml_predictions.estimators.inventory.classes import abc_classes, xyz_classes
from ml_predictions.estimators.inventory.policy import fill_rate_z, round_to_supplier
from tests.estimators.contract import check_estimator_contract
from tests.estimators.test_inventory import AS_OF, make_products, make_sales, weekly_pattern

NO_SEASON = {"seasonal_adjustment": False}


def test_abc_by_revenue_share_hand_computed():
    # revenue 50, 30, 10, 6, 4 (total 100): shares before each product 0, .5, .8, .9, .96
    # -> A, A (starts at 50 % < 80 %), B (starts at 80 %), B (90 % < 95 %), C (96 %); no revenue -> C
    got = abc_classes(np.array([10.0, 50.0, 4.0, 30.0, 6.0, 0.0]))
    assert list(got) == ["B", "A", "C", "A", "B", "C"]
    assert list(abc_classes(np.zeros(3))) == ["C", "C", "C"]


def test_xyz_by_weekly_cv():
    assert list(xyz_classes(np.array([0.2, 0.5, 0.7, 1.0, 1.5, np.inf, np.nan]))) == ["X", "X", "Y", "Y", "Z", "Z", "Z"]


def test_classes_set_the_service_level_and_a_category_level_wins():
    steady = np.full(56, 10.0)                       # weekly totals all 70: CV 0 -> X
    lumpy = weekly_pattern([0, 70, 0, 0, 70, 0, 0, 70])  # CV > 1 -> Z
    small = np.full(56, 1.0)                         # 56 units of 560 + 56 + 210
    sales = make_sales({"big": steady, "lumpy": lumpy, "small": small})
    products = make_products([{"id": "big", "stock": 500}, {"id": "lumpy", "stock": 500},
                              {"id": "small", "stock": 500, "category": "Sale"}])
    est = InventoryOptimizer(class_service_levels=DEFAULT_CLASS_SERVICE_LEVELS, **NO_SEASON)
    p = est.fit(sales, products, as_of=AS_OF).policy_.set_index("product_id")
    # revenue at price 20: big 11,200 (68.3 %), lumpy 4,200 (25.6 %), small 1,120 (6.8 %)
    # shares before: big 0 -> A, lumpy 0.683 -> A, small 0.939 -> B
    assert p.loc["big", "abc_xyz"] == "AX" and p.loc["lumpy", "abc_xyz"] == "AZ" and p.loc["small", "abc_xyz"] == "BX"
    assert p.loc["big", "service_level"] == 0.98 and p.loc["lumpy", "service_level"] == 0.95
    assert p.loc["small", "service_level"] == 0.96
    p2 = InventoryOptimizer(class_service_levels=DEFAULT_CLASS_SERVICE_LEVELS, category_service_levels={"Sale": 0.9},
                            **NO_SEASON).fit(sales, products, as_of=AS_OF).policy_.set_index("product_id")
    assert p2.loc["small", "service_level"] == 0.9
    summary = {row["abc_xyz"]: row for row in est.class_summary()}
    assert summary["AX"]["products"] == 1 and summary["AX"]["revenue_share"] == pytest.approx(11200 / 16520, abs=1e-4)
    with pytest.raises(InvalidParameterError) as exc:
        InventoryOptimizer(class_service_levels={"QQ": 0.9}).fit(sales, products, as_of=AS_OF)
    assert exc.value.field == "class_service_levels"


def test_moq_and_case_pack_round_orders_up():
    # need 13: MOQ 20 -> 20, then packs of 12 -> 24; need 30, pack 12 -> 36; need 0 -> 0 whatever the MOQ
    got = round_to_supplier(np.array([13.0, 30.0, 0.0, 12.2, 5.0]), np.array([20.0, np.nan, 50.0, np.nan, 0.0]),
                            np.array([12.0, 12.0, 6.0, np.nan, 1.0]))
    assert list(got) == [24.0, 36.0, 0.0, 13.0, 5.0]
    # through fit: d = 2, L = 7, review 14, certain demand -> S = 42; stock 2 -> need 40, MOQ 50, pack 24 -> 72
    sales = make_sales({"a": np.full(56, 2.0)})
    products = make_products([{"id": "a", "stock": 2, "min_order_quantity": 50, "case_pack": 24, "supplier": "Acme"}])
    p = InventoryOptimizer(**NO_SEASON).fit(sales, products, as_of=AS_OF).policy_.iloc[0]
    assert p["order_up_to"] == pytest.approx(42.0)
    assert p["recommended_order_quantity"] == 72 and p["estimated_cost"] == 720.0 and p["supplier"] == "Acme"


def test_lead_time_spread_enters_the_safety_stock():
    # d = 2 (sigma 0), L = 9, sigma_L = 3: SS = z * sqrt(9 * 0 + 4 * 9) = 1.645 * 6
    sales = make_sales({"a": np.full(56, 2.0), "b": np.full(56, 2.0)})
    products = make_products([{"id": "a", "stock": 100, "lead_time_days": 9, "lead_time_std_days": 3},
                              {"id": "b", "stock": 100, "lead_time_days": 9}])
    p = InventoryOptimizer(lead_time_cv=0.1, **NO_SEASON).fit(sales, products, as_of=AS_OF).policy_
    p = p.set_index("product_id")
    assert p.loc["a", "safety_stock"] == pytest.approx(norm.ppf(0.95) * 6.0)
    # without the product's figure the CV applies: sigma_L = 0.1 * 9 = 0.9 -> SS = z * 2 * 0.9
    assert p.loc["b", "safety_stock"] == pytest.approx(norm.ppf(0.95) * 1.8)


def test_order_by_date_cover_and_lost_revenue():
    # d = 2, L = 7, certain: s = 14, S = 42. Stock 24: order by as_of + floor((24 - 14) / 2) = +5 days,
    # cover 12 days, lost if not ordered = max(2 * 21 - 24, 0) * 20 = 360. Stock 10: order today.
    sales = make_sales({"a": np.full(56, 2.0), "b": np.full(56, 2.0), "c": np.full(56, 2.0)})
    products = make_products([{"id": "a", "stock": 24}, {"id": "b", "stock": 10},
                              {"id": "c", "stock": np.nan}])
    est = InventoryOptimizer(**NO_SEASON).fit(sales, products, as_of=AS_OF)
    p = est.policy_.set_index("product_id")
    assert p.loc["a", "order_by_in_days"] == 5 and p.loc["a", "days_of_cover"] == 12
    assert p.loc["a", "estimated_lost_revenue"] == pytest.approx(360.0)
    assert p.loc["b", "order_by_in_days"] == 0 and p.loc["b", "estimated_lost_revenue"] == pytest.approx(640.0)
    # unknown stock: no date, no cover, no lost revenue figure
    assert np.isnan(p.loc["c", "order_by_in_days"]) and np.isnan(p.loc["c", "estimated_lost_revenue"])
    low = est.alerts().query("product_id == 'a' and alert_type == 'low_stock'").iloc[0]
    assert low["order_by_date"] == AS_OF + timedelta(days=5)


def test_fill_rate_service_needs_less_safety_stock_than_the_same_cycle_level():
    # G(z) = (1 - beta) Q / sigma_LT; beta .95, Q 28, sigma 14 -> G = 0.1 -> z = 0.9004 (normal loss table)
    z = fill_rate_z(np.array([0.95]), np.array([28.0]), np.array([14.0]))[0]
    assert z == pytest.approx(0.9004, abs=2e-3)
    assert norm.pdf(z) - z * norm.sf(z) == pytest.approx(0.1, abs=1e-3)
    assert fill_rate_z(np.array([0.95]), np.array([28.0]), np.array([0.0]))[0] == 0.0
    sales = make_sales({"a": weekly_pattern([7, 21, 14, 28, 7, 21, 14, 28])})
    products = make_products([{"id": "a", "stock": 100}])
    cycle = InventoryOptimizer(**NO_SEASON).fit(sales, products, as_of=AS_OF).policy_.iloc[0]
    fill = InventoryOptimizer(service_type="fill_rate", **NO_SEASON).fit(sales, products, as_of=AS_OF).policy_.iloc[0]
    assert 0 < fill["safety_stock"] < cycle["safety_stock"]


def test_health_parts_add_up_to_the_points_lost():
    sales = make_sales({"a": np.full(56, 2.0), "b": np.full(56, 2.0), "c": np.zeros(56), "d": np.full(56, 2.0)})
    products = make_products([{"id": "a", "stock": 0}, {"id": "b", "stock": 24}, {"id": "c", "stock": 10},
                              {"id": "d", "stock": 20}])
    report = InventoryOptimizer(**NO_SEASON).fit(sales, products, as_of=AS_OF).health()
    parts = {p["alert_type"]: p for p in report.score_parts}
    # s = 14, low_stock up to s + 7 d = 28: a reorder_now (1.0), b 24 and d 20 low_stock (0.5), c slow_moving (0.75)
    assert parts["reorder_now"]["products"] == 1 and parts["low_stock"]["products"] == 2
    assert parts["slow_moving"]["points"] == pytest.approx(100 * 0.75 / 4)
    assert sum(p["points"] for p in report.score_parts) == pytest.approx(100 - report.health_score, abs=0.1)


def _contract_data() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(3)
    sales = make_sales({f"p{i}": rng.poisson(1 + i % 4, 90).astype(float) for i in range(12)})
    products = make_products([{"id": f"p{i}", "stock": int(rng.integers(0, 40))} for i in range(12)])
    return sales, products


def test_the_optimiser_passes_the_estimator_contract():
    sales, products = _contract_data()
    check_estimator_contract(
        make=lambda: InventoryOptimizer(class_service_levels=dict(DEFAULT_CLASS_SERVICE_LEVELS)),
        fit=lambda est: est.fit(sales, products, as_of=AS_OF),
        output=lambda est: est.policy_[["safety_stock", "reorder_point", "recommended_order_quantity"]],
        unfitted_call=lambda est: est.reorder_recommendations(),
    )
    with pytest.raises(NotFittedError):
        InventoryOptimizer().health()


def test_the_forecast_error_replaces_the_history_spread():
    # forecast 3 a day with its own daily error 2: SS = z * sqrt(L * 4) = 1.645 * 2 * sqrt(7)
    sales = make_sales({"a": weekly_pattern([7, 35, 7, 35, 7, 35, 7, 35]), "b": np.full(56, 3.0)})
    products = make_products([{"id": "a", "stock": 100}, {"id": "b", "stock": 100}])
    days = pd.date_range(AS_OF, periods=30, freq="D")
    forecast = pd.DataFrame({"product_id": "a", "date": days, "predicted_quantity": 3.0, "residual_std": 2.0})
    p = InventoryOptimizer(**NO_SEASON).fit(sales, products, as_of=AS_OF, forecast=forecast).policy_
    p = p.set_index("product_id")
    assert p.loc["a", "demand_source"] == "forecast" and p.loc["a", "demand_std"] == 2.0
    assert p.loc["a", "safety_stock"] == pytest.approx(norm.ppf(0.95) * 2.0 * np.sqrt(7))
    # without the column the history's spread stays (b has none: constant demand)
    assert p.loc["b", "demand_std"] == 0.0


def test_offset_dates_leave_out_missing_and_endless_offsets():
    """Days of cover of a product that sells almost nothing is astronomically far: no date, not an overflow."""
    import warnings
    from datetime import date

    from ml_predictions.estimators.inventory.alerts import offset_dates

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "invalid value encountered in cast" would be an error
        out = offset_dates(date(2026, 1, 30), np.array([0.0, 2.9, -3.0, np.nan, np.inf, 1e12]))
    assert list(out) == [date(2026, 1, 30), date(2026, 2, 1), date(2026, 1, 27), None, None, None]
