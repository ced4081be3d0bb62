"""The pure inventory service: policy formulas, demand estimate, alert rules, health score."""
from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from ml_predictions.errors import InvalidParameterError, NotFittedError
from ml_predictions.estimators.inventory.optimizer import InventoryOptimizer

AS_OF = date(2026, 7, 1)


def make_sales(series: dict[str, np.ndarray]) -> pd.DataFrame:
    """Daily quantities per product for the days just before AS_OF (last element = the day before)."""
    frames = []
    for pid, values in series.items():
        values = np.asarray(values, dtype=float)
        days = pd.date_range(end=pd.Timestamp(AS_OF) - pd.Timedelta(days=1), periods=len(values), freq="D", tz="UTC")
        mask = values > 0
        frames.append(pd.DataFrame({"product_id": pid, "ordered_at": days[mask] + pd.Timedelta(hours=12),
                                    "quantity": values[mask].astype(int)}))
    return pd.concat(frames, ignore_index=True)


def make_products(rows: list[dict]) -> pd.DataFrame:
    base = {"category": "General", "cost": 10.0, "price": 20.0, "lead_time_days": 7.0, "stock": 0}
    return pd.DataFrame([{**base, "name": r["id"].upper(), **r} for r in rows])


def weekly_pattern(weeks: list[int]) -> np.ndarray:
    """Demand spread evenly over each week: lets a test know the weekly totals exactly."""
    out = []
    for total in weeks:
        day = np.zeros(7)
        day[: total % 7] = 1
        out.append(day + total // 7)
    return np.concatenate(out)


def test_policy_formulas_match_the_textbook():
    weeks = [14, 21, 7, 14, 28, 14, 7, 21]  # 8 weeks, mean 15.75 a week
    sales = make_sales({"a": weekly_pattern(weeks), "b": weekly_pattern(weeks)})
    products = make_products([
        {"id": "a", "stock": 100, "lead_time_days": 9},
        {"id": "b", "stock": 3, "lead_time_days": np.nan, "category": "Coats"},  # default lead time
    ])
    model = InventoryOptimizer(default_lead_time_days=4, category_service_levels={"Coats": 0.99}).fit(
        sales, products, as_of=AS_OF)
    p = model.policy_.set_index("product_id")
    d = np.mean(weeks) / 7
    sigma = np.std(weeks, ddof=1) / np.sqrt(7)
    assert p.loc["a", "daily_demand"] == pytest.approx(d)
    assert p.loc["a", "demand_std"] == pytest.approx(sigma)
    ss_a = norm.ppf(0.95) * sigma * np.sqrt(9)
    assert p.loc["a", "safety_stock"] == pytest.approx(ss_a)
    assert p.loc["a", "reorder_point"] == pytest.approx(d * 9 + ss_a)
    assert p.loc["a", "order_up_to"] == pytest.approx(d * (9 + 14) + ss_a)
    assert p.loc["a", "recommended_order_quantity"] == 0  # stock 100 is above the reorder point
    # b: default lead time 4 days, category service level 99 %
    assert p.loc["b", "lead_time_days"] == 4 and p.loc["b", "lead_time_source"] == "default"
    ss_b = norm.ppf(0.99) * sigma * 2.0
    assert p.loc["b", "safety_stock"] == pytest.approx(ss_b)
    s_b = d * (4 + 14) + ss_b
    assert p.loc["b", "recommended_order_quantity"] == np.ceil(s_b - 3)
    assert p.loc["b", "estimated_cost"] == pytest.approx(np.ceil(s_b - 3) * 10.0)
    assert model.data_issues()["default_lead_time"] == ["b"]


def test_lead_time_variability_and_eoq():
    sales = make_sales({"a": weekly_pattern([14, 28, 14, 28, 14, 28, 14, 28])})
    products = make_products([{"id": "a", "stock": 0, "lead_time_days": 10, "cost": 8.0}])
    base = InventoryOptimizer().fit(sales, products, as_of=AS_OF).policy_.iloc[0]
    varied = InventoryOptimizer(lead_time_cv=0.3).fit(sales, products, as_of=AS_OF).policy_.iloc[0]
    d, sigma = base["daily_demand"], base["demand_std"]
    expected = norm.ppf(0.95) * np.sqrt(10 * sigma**2 + d**2 * (0.3 * 10) ** 2)
    assert varied["safety_stock"] == pytest.approx(expected)
    assert varied["safety_stock"] > base["safety_stock"]
    eoq = InventoryOptimizer(order_policy="eoq", ordering_cost=50, holding_cost_rate=0.2).fit(
        sales, products, as_of=AS_OF).policy_.iloc[0]
    q = np.sqrt(2 * d * 365 * 50 / (0.2 * 8.0))
    assert eoq["eoq"] == pytest.approx(q)
    assert eoq["recommended_order_quantity"] == np.ceil(max(q, eoq["reorder_point"]))


def test_robust_average_caps_a_bulk_order_and_new_products_are_not_diluted():
    steady = np.full(56, 2.0)
    bulk = steady.copy()
    bulk[20] = 300  # one wholesale order
    new = np.zeros(56)
    new[-14:] = 3  # first sold two weeks ago, 3 a day since
    sales = make_sales({"steady": steady, "bulk": bulk, "new": new})
    products = make_products([{"id": "steady"}, {"id": "bulk"}, {"id": "new"}])
    p = InventoryOptimizer().fit(sales, products, as_of=AS_OF).policy_.set_index("product_id")
    assert p.loc["steady", "daily_demand"] == pytest.approx(2.0)
    plain_mean = bulk.sum() / 56
    assert p.loc["bulk", "daily_demand"] < 0.5 * plain_mean  # 7.3/day plain, capped close to 2
    assert p.loc["bulk", "daily_demand"] == pytest.approx(2.0, abs=0.2)
    assert p.loc["new", "daily_demand"] == pytest.approx(3.0)


def test_alert_rules_and_urgency():
    n = 90
    steady = weekly_pattern([10, 18] * 7)[-n:]  # 2 a day on average, weekly totals 10 / 18
    surge = np.full(n, 1.0)
    surge[-14:] = 4.0
    rare = np.zeros(n)
    rare[5] = 1  # one sale 85 days ago
    noisy = np.zeros(n)
    noisy[0:76:5] = 1  # 1 unit every 5 days, then 5 units in the last 14 days: 1.8x, but Poisson noise
    noisy[-14::3] = 1
    sales = make_sales({"out": steady, "short": steady, "eating_ss": steady, "soon": steady, "fine": steady,
                        "over": steady, "surge": surge, "rare": rare,
                        "noisy": noisy})
    products = make_products([
        {"id": "out", "stock": 0},                 # out of stock -> reorder_now 5
        {"id": "short", "stock": 10},              # cover 5 < L=7 -> reorder_now 4
        {"id": "eating_ss", "stock": 15},          # 14 < 15 <= s=14+ss -> reorder_now 3
        {"id": "soon", "stock": 30},               # s < 30 <= s + 7d -> low_stock
        {"id": "fine", "stock": 60},               # no alert
        {"id": "over", "stock": 500},              # cover 250 d -> overstock 3
        {"id": "surge", "stock": 60},              # recent 4/day vs 1/day before -> high_demand
        {"id": "rare", "stock": 30},               # last sale 85 days ago -> slow_moving
        {"id": "noisy", "stock": 10},
        {"id": "ghost", "stock": 12},              # never sold -> slow_moving 3, reported without history
        {"id": "empty", "stock": 0},               # never sold, no stock -> nothing to alert
    ])
    model = InventoryOptimizer().fit(sales, products, as_of=AS_OF)
    a = model.alerts()
    got = {(r.product_id, r.alert_type): r.urgency_level for r in a.itertuples()}
    p = model.policy_.set_index("product_id")
    sigma = np.std([10, 18] * 4, ddof=1) / np.sqrt(7)
    assert p.loc["eating_ss", "safety_stock"] == pytest.approx(norm.ppf(0.95) * sigma * np.sqrt(7))
    assert p.loc["eating_ss", "reorder_point"] == pytest.approx(14 + p.loc["eating_ss", "safety_stock"])
    assert got[("out", "reorder_now")] == 5
    assert got[("short", "reorder_now")] == 4
    assert got[("eating_ss", "reorder_now")] == 3
    assert ("soon", "low_stock") in got and ("soon", "reorder_now") not in got
    assert not [k for k in got if k[0] in ("fine", "empty")]
    assert got[("over", "overstock")] == 3
    assert ("surge", "high_demand") in got
    assert ("noisy", "high_demand") not in got
    assert noisy[-14:].sum() == 5 and noisy[-14:].sum() / 14 >= 1.5 * noisy[34:76].sum() / 42
    assert got[("rare", "slow_moving")] == 2  # >= 60 days since the last sale
    assert got[("ghost", "slow_moving")] == 3
    assert ("rare", "overstock") not in got  # slow_moving wins over overstock
    # stockout date = as_of + floor(stock / d)
    row = a[(a.product_id == "short") & (a.alert_type == "reorder_now")].iloc[0]
    assert row.estimated_stockout_date == AS_OF + timedelta(days=5)
    assert row.predicted_demand_7days == pytest.approx(14.0)
    assert row.predicted_demand_30days == pytest.approx(60.0)
    assert a.iloc[0].urgency_level == 5  # most urgent first
    issues = model.data_issues()
    assert set(issues["no_sales_history"]) == {"ghost", "empty"}
    summary = model.summary()
    assert summary["total_alerts"] == len(a)
    assert sum(summary["by_type"].values()) == len(a)
    # value at risk: all slow stock (30 + 12 units) + overstock above S, at cost 10
    s_over = model.policy_.set_index("product_id").loc["over", "order_up_to"]
    assert summary["total_stock_value_at_risk"] == pytest.approx((30 + 12 + 500 - s_over) * 10, abs=0.01)
    rec = model.reorder_recommendations()
    assert list(rec["product_id"][:2]) == ["out", "short"]
    assert dict(zip(rec["product_id"], rec["priority"], strict=True)) == {
        "out": "high", "short": "high", "eating_ss": "medium"}


def test_health_score_counts_and_status():
    sales = make_sales({f"p{i}": np.full(60, 1.0) for i in range(10)})
    products = make_products([{"id": f"p{i}", "stock": 20} for i in range(10)])
    products.loc[0, "stock"] = 0        # reorder_now (penalty 1)
    products.loc[1, "stock"] = 200      # overstock (penalty 0.5)
    products.loc[2, "cost"] = np.nan    # no cost: reported, not dropped
    report = InventoryOptimizer().fit(sales, products, as_of=AS_OF).health()
    assert report.metrics == {"total_products": 10, "low_stock": 1, "overstock": 1, "slow_moving": 0, "optimal": 8,
                              "stock_unknown": 0}
    assert report.health_score == pytest.approx(100 * (1 - 1.5 / 10))
    assert report.status == "good"
    codes = dict(report.recommendation_codes)
    assert codes == {"out_of_stock": 1, "restock_low": 1, "promote_overstock": 1, "missing_cost": 1}
    products["stock"] = 0
    bad = InventoryOptimizer().fit(sales, products, as_of=AS_OF).health()
    assert bad.health_score == 0.0 and bad.status == "critical"


def test_health_is_unknown_not_perfect_when_no_stock_is_known():
    """Nothing to score is not a perfect score; one counted shelf makes the score that shelf's."""
    sales = make_sales({f"p{i}": np.full(60, 1.0) for i in range(3)})
    products = make_products([{"id": f"p{i}", "stock": np.nan} for i in range(3)])
    report = InventoryOptimizer().fit(sales, products, as_of=AS_OF).health()
    assert report.health_score is None and report.status == "unknown"
    assert report.metrics["stock_unknown"] == 3 and report.metrics["optimal"] == 0
    assert dict(report.recommendation_codes) == {"stock_unknown": 3}
    products.loc[0, "stock"] = 0  # one product counted, and empty
    one = InventoryOptimizer().fit(sales, products, as_of=AS_OF).health()
    assert one.health_score == 0.0 and one.status == "critical"


def test_forecast_drives_demand_and_high_demand():
    sales = make_sales({"a": np.full(56, 2.0), "b": np.full(56, 2.0)})
    products = make_products([{"id": "a", "stock": 30}, {"id": "b", "stock": 30}])
    days = pd.date_range(AS_OF, periods=30, freq="D")
    forecast = pd.DataFrame({"product_id": "a", "date": days, "predicted_quantity": np.r_[np.full(7, 0.5),
                                                                                           np.full(23, 1.0)]})
    model = InventoryOptimizer().fit(sales, products, as_of=AS_OF, forecast=forecast)
    p = model.policy_.set_index("product_id")
    assert p.loc["a", "demand_source"] == "forecast" and p.loc["b", "demand_source"] == "history"
    assert p.loc["a", "daily_demand"] == pytest.approx((7 * 0.5 + 23) / 30)
    assert p.loc["a", "predicted_demand_7days"] == pytest.approx(3.5)
    assert p.loc["a", "predicted_demand_30days"] == pytest.approx(26.5)
    assert p.loc["b", "daily_demand"] == pytest.approx(2.0)
    # selling 2 a day against a forecast of ~0.88 a day: high demand
    types = set(model.alerts().query("product_id == 'a'")["alert_type"])
    assert "high_demand" in types
    assert "high_demand" not in set(model.alerts().query("product_id == 'b'")["alert_type"])


def test_estimator_contract_and_validation():
    with pytest.raises(NotFittedError):
        InventoryOptimizer().alerts()
    model = InventoryOptimizer(service_level=1.2)
    assert model.get_params()["service_level"] == 1.2  # init only stores
    sales = make_sales({"a": np.full(56, 1.0)})
    products = make_products([{"id": "a"}])
    with pytest.raises(InvalidParameterError) as exc:
        model.fit(sales, products, as_of=AS_OF)
    assert exc.value.field == "service_level"
    with pytest.raises(InvalidParameterError) as exc:
        InventoryOptimizer(order_policy="magic").fit(sales, products, as_of=AS_OF)
    assert exc.value.field == "order_policy"
    with pytest.raises(InvalidParameterError) as exc:
        InventoryOptimizer().fit(sales, products.drop(columns="stock"), as_of=AS_OF)
    assert "stock" in exc.value.message
    # sales on or after as_of do not count
    late = make_sales({"a": np.full(56, 1.0)})
    late["ordered_at"] += pd.Timedelta(days=30)
    p = InventoryOptimizer().fit(late, products, as_of=AS_OF).policy_.iloc[0]
    assert p["units_last_slow_window"] == 26
    assert p["daily_demand"] == pytest.approx(1.0)  # first sold 26 days ago: averaged over those days


def test_seasonal_index_lifts_the_history_estimate_before_a_known_peak():
    # 2 a day all year, except the 28 days that followed this date last year sold 6 a day (a peak)
    values = np.full(365 + 70, 2.0)
    last_year_ahead = slice(len(values) - 365, len(values) - 365 + 28)
    values[last_year_ahead] = 6.0
    sales = make_sales({"a": values})
    products = make_products([{"id": "a", "stock": 100}])
    model = InventoryOptimizer().fit(sales, products, as_of=AS_OF)
    assert model.seasonal_index_ == 2.5  # 6/2 = 3, clipped to the documented maximum
    assert model.policy_.iloc[0]["daily_demand"] == pytest.approx(2.0 * 2.5)
    flat = InventoryOptimizer(seasonal_adjustment=False).fit(sales, products, as_of=AS_OF)
    assert flat.seasonal_index_ == 1.0 and flat.policy_.iloc[0]["daily_demand"] == pytest.approx(2.0)
    # less than a year of history: no adjustment
    short = InventoryOptimizer().fit(make_sales({"a": values[-200:]}), products, as_of=AS_OF)
    assert short.seasonal_index_ == 1.0
    # a milder season: 3 a day ahead of last year -> index 1.5
    values[last_year_ahead] = 3.0
    mild = InventoryOptimizer().fit(make_sales({"a": values}), products, as_of=AS_OF)
    assert mild.seasonal_index_ == pytest.approx(1.5)


def test_unknown_stock_is_not_zero():
    """A shop imported without stock columns: demand and policy still computed, no stock-based alert."""
    sales = make_sales({f"p{i}": np.full(60, 1.0) for i in range(4)})
    products = make_products([{"id": f"p{i}", "stock": 20} for i in range(4)])
    products["stock"] = products["stock"].astype(float)
    products.loc[0, "stock"] = 0         # known and out of stock: reorder_now
    products.loc[[2, 3], "stock"] = np.nan  # unknown
    model = InventoryOptimizer().fit(sales, products, as_of=AS_OF)
    p = model.policy_.set_index("product_id")
    assert list(p["stock_known"]) == [True, True, False, False]
    assert p.loc["p2", "daily_demand"] == pytest.approx(1.0)
    assert p.loc["p2", "reorder_point"] == pytest.approx(p.loc["p1", "reorder_point"])
    assert p.loc["p2", "safety_stock"] == pytest.approx(p.loc["p1", "safety_stock"])
    assert p.loc["p2", "recommended_order_quantity"] == 0
    assert set(model.alerts()["product_id"]) == {"p0"}
    assert list(model.reorder_recommendations()["product_id"]) == ["p0"]
    report = model.health()
    assert report.metrics["stock_unknown"] == 2 and report.metrics["optimal"] == 1
    # scored over the two known products only: p0 penalty 1 -> 50, not 75
    assert report.health_score == pytest.approx(50.0)
    assert dict(report.recommendation_codes)["stock_unknown"] == 2
    assert model.data_issues()["stock_unknown"] == ["p2", "p3"]
