"""The scikit-learn contract for the estimators whose own test files do not run it: the sales forecaster, the
per-series forecaster and two CLV candidates (MBG/NBD and the boosted revenue regressor).

The others (AutoSeriesForecaster, CustomerSegmenter, BG/NBD, Gamma-Gamma, Pareto/NBD, ProductRecommender,
InventoryOptimizer) run it beside their own tests.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml_predictions.estimators.forecasting.forecaster import SalesForecaster, SeriesForecaster
from ml_predictions.estimators.segmentation.clv_candidates import ModifiedBetaGeoModel, RevenueBooster
from ml_predictions.estimators.segmentation.clv_data import purchase_history
from tests.estimators.contract import check_estimator_contract
from tests.estimators.test_forecasting import FAST, _lines, _series
from tests.helpers import SHARED_DATA

CDNOW_SUMMARY = SHARED_DATA / "cdnow" / "cdnow_sample_summary.csv"


def _numbers(frame: pd.DataFrame) -> np.ndarray:
    return frame.select_dtypes("number").to_numpy(dtype=float)


def test_series_forecaster_contract():
    series = _series(200)
    check_estimator_contract(
        lambda: SeriesForecaster("random_forest", random_state=3, **FAST),
        lambda est: est.fit(series),
        lambda est: _numbers(est.predict(14)),
        lambda est: est.predict(7),
    )


def test_sales_forecaster_contract():
    lines = _lines(200)
    products = pd.DataFrame({"id": [f"p{i}" for i in range(6)], "category": ["A", "A", "B", "B", "C", "C"]})
    check_estimator_contract(
        lambda: SalesForecaster("linear", max_train_rows=1500, product_train_rows=2000, max_horizon=60),
        lambda est: est.fit(lines, products),
        lambda est: np.concatenate([_numbers(est.predict(10)).ravel(), _numbers(est.product_demand(5)).ravel()]),
        lambda est: est.predict(5),
    )


def test_mbg_nbd_contract():
    if not CDNOW_SUMMARY.exists():
        pytest.skip(f"CDNOW sample summary not found at {CDNOW_SUMMARY}")
    cdnow = pd.read_csv(CDNOW_SUMMARY)
    check_estimator_contract(
        lambda: ModifiedBetaGeoModel(max_customers=1000, random_state=5),
        lambda est: est.fit(cdnow["x"], cdnow["t_x"], cdnow["T"]),
        lambda est: est.probability_alive(cdnow["x"], cdnow["t_x"], cdnow["T"]),
        lambda est: est.expected_purchases(10, [1], [1], [2]),
    )


def test_revenue_booster_contract():
    rng = np.random.default_rng(11)
    rows = []
    for c in range(160):
        days = np.sort(rng.choice(400, size=1 + rng.poisson(4), replace=False))
        rows += [(f"c{c}", pd.Timestamp("2025-01-01", tz="UTC") + pd.Timedelta(days=int(d)), 10.0 + c % 9)
                 for d in days]
    history = purchase_history(pd.DataFrame(rows, columns=["customer_id", "ordered_at", "amount"]),
                               end="2026-02-05", product_col=None)
    cut = history.end - 60
    check_estimator_contract(
        lambda: RevenueBooster(60, min_rows=20, random_state=4),
        lambda est: est.fit(history, cut),
        lambda est: est.predict(history, cut).sort_index(),
        lambda est: est.predict(history, cut),
    )
