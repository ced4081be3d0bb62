"""The product forecast's own backtest error as the safety stock's demand spread: a trained
product-level SalesForecaster hands inventory a per-product `residual_std` (daily RMSE in units over
its rolling-origin backtest windows), and the policy's safety stock is z * sqrt(L sigma^2 + d^2 sigma_L^2)
with that sigma, worked out here from the stored errors themselves."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from ml_predictions.estimators.forecasting import SalesForecaster
from ml_predictions.estimators.forecasting.demand import backtest_daily_rmse
from ml_predictions.estimators.inventory import InventoryOptimizer
from tests.estimators.test_forecasting import _lines
from tests.estimators.test_inventory import make_products

NO_SEASON = {"seasonal_adjustment": False}


@pytest.fixture(scope="module")
def trained() -> tuple[pd.DataFrame, SalesForecaster]:
    lines = _lines(200)
    products = pd.DataFrame({"id": [f"p{i}" for i in range(6)], "category": ["A", "A", "B", "B", "C", "C"]})
    model = SalesForecaster("linear", max_train_rows=1500, product_train_rows=2000, max_horizon=60).fit(lines, products)
    return lines, model


def test_product_demand_carries_the_backtest_daily_rmse(trained):
    _, model = trained
    product = model.levels_["product"]["units"]
    errors = product.backtest_errors_
    assert errors, "the product level keeps its rolling-origin errors"
    demand = model.product_demand(14)
    assert "residual_std" in demand
    for i, pid in enumerate(product.series_):
        by_hand = np.sqrt(np.mean(np.concatenate([e[i].astype(float) for e in errors.values()]) ** 2))
        got = demand.loc[demand["product_id"] == pid, "residual_std"].to_numpy()
        assert got == pytest.approx(np.full(14, by_hand), rel=1e-6)
    assert (demand["residual_std"] > 0).any()


def test_safety_stock_uses_the_forecast_error_with_lead_time_spread(trained):
    lines, model = trained
    as_of = pd.Timestamp(model.forecast_start_)
    demand = model.product_demand(30)
    sigma = dict(zip(model.levels_["product"]["units"].series_,
                     backtest_daily_rmse(model.levels_["product"]["units"]), strict=True))
    products = make_products([{"id": f"p{i}", "stock": 50, "lead_time_days": 7.0, "lead_time_std_days": 2.0}
                              for i in range(6)])
    opt = InventoryOptimizer(service_level=0.95, class_service_levels={}, **NO_SEASON)
    p = opt.fit(lines, products, as_of=as_of, forecast=demand).policy_.set_index("product_id")
    assert (p["demand_spread_source"] == "forecast_backtest").all()
    z = norm.ppf(0.95)
    for pid, s in sigma.items():
        d = demand.loc[demand["product_id"] == pid, "predicted_quantity"].clip(lower=0).mean()
        assert p.loc[pid, "demand_std"] == pytest.approx(s, rel=1e-6)
        assert p.loc[pid, "daily_demand"] == pytest.approx(d, rel=1e-6)
        assert p.loc[pid, "safety_stock"] == pytest.approx(z * np.sqrt(7 * s ** 2 + d ** 2 * 2.0 ** 2), rel=1e-6)


def test_without_a_forecast_the_history_spread_is_kept(trained):
    lines, model = trained
    as_of = pd.Timestamp(model.forecast_start_)
    products = make_products([{"id": f"p{i}", "stock": 50} for i in range(6)])
    p = InventoryOptimizer(**NO_SEASON).fit(lines, products, as_of=as_of).policy_
    assert (p["demand_spread_source"] == "history").all() and (p["demand_source"] == "history").all()
    # a forecast frame without residual_std changes the demand but not the spread's source
    demand = model.product_demand(30).drop(columns="residual_std")
    q = InventoryOptimizer(**NO_SEASON).fit(lines, products, as_of=as_of, forecast=demand).policy_
    assert (q["demand_source"] == "forecast").all() and (q["demand_spread_source"] == "history").all()
    np.testing.assert_allclose(q["demand_std"], p["demand_std"])


def test_no_stored_errors_gives_no_residual_column():
    class Bare:
        series_ = ["a", "b"]
    assert backtest_daily_rmse(Bare()) is None
    model = Bare()
    model.backtest_errors_ = {10: np.array([[1.0, -1.0], [3.0, 0.0]], dtype=np.float32),
                              20: np.array([[1.0, 1.0], [0.0, 0.0]], dtype=np.float32)}
    # a: errors 1,-1,1,1 -> RMSE 1; b: 3,0,0,0 -> sqrt(9/4) = 1.5
    np.testing.assert_allclose(backtest_daily_rmse(model), [1.0, 1.5])
