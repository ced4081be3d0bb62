"""The pure forecasting service on small synthetic series: shapes, leakage, baseline, intervals."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml_predictions.errors import InsufficientDataError, MLError, NotFittedError, NotFoundError
from ml_predictions.estimators.forecasting.forecaster import (
    SalesForecaster,
    SeriesForecaster,
    _Cumulative,
    _direct_features,
    _FeatureSpec,
    _sba_rate,
    daily_series,
)

FAST = {"max_train_rows": 1500, "max_horizon": 60}


def _series(days: int = 500, seed: int = 0, noise: float = 0.25, level: float = 100.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    index = pd.date_range("2024-01-01", periods=days, freq="D")
    weekly = np.array([0.8, 0.9, 1.0, 1.0, 1.1, 1.4, 0.8])[index.day_of_week]
    y = level * weekly * (1 + 0.0005 * np.arange(days)) * rng.lognormal(0, noise, days)
    return pd.DataFrame({"total": y}, index=index)


def _lines(n_days: int = 200, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = pd.date_range("2025-01-01", periods=n_days, freq="D", tz="UTC")
    rows = []
    for i, day in enumerate(days):
        if i % 5 == 3:
            continue  # a day without orders must come back as a zero, not be skipped
        for _ in range(rng.poisson(6)):
            product = f"p{rng.integers(0, 6)}"
            rows.append((f"o{i}", "c1", product, day + pd.Timedelta(hours=int(rng.integers(0, 23))),
                         int(rng.integers(1, 3)), 10.0 + int(product[1:])))
    return pd.DataFrame(rows, columns=["order_id", "customer_id", "product_id", "ordered_at", "quantity", "unit_price"])


def test_daily_series_fills_missing_days_with_zero_and_sums_levels():
    lines = _lines()
    categories = pd.Series({"p0": "A", "p1": "A", "p2": "B", "p3": "B", "p4": "B"})  # p5 has none
    rev_t, units_t = daily_series(lines, level="total")
    rev_c, units_c = daily_series(lines, level="category", product_categories=categories)
    rev_p, units_p = daily_series(lines, level="product")
    assert len(rev_t) == 200 and (rev_t.index.to_series().diff().dropna() == pd.Timedelta(days=1)).all()
    assert (rev_t.iloc[3::5]["total"] == 0).all()
    expected = float((lines["quantity"] * lines["unit_price"]).sum())
    assert rev_t["total"].sum() == pytest.approx(expected)
    assert rev_c.sum(axis=1).to_numpy() == pytest.approx(rev_t["total"].to_numpy())
    assert units_p.sum(axis=1).to_numpy() == pytest.approx(units_t["total"].to_numpy())
    assert set(rev_c.columns) == {"A", "B", "uncategorized"}
    assert set(units_p.columns) == {f"p{i}" for i in range(6)}


def test_features_never_look_at_or_after_the_origin():
    spec = _FeatureSpec(lags=(1, 7, 14, 28, 364), holidays=frozenset())
    y = np.random.default_rng(0).random((3, 800))
    origin, horizons = 600, np.arange(1, 40)
    rows, origins = np.repeat([0, 1, 2], len(horizons)), np.full(3 * len(horizons), origin)
    hh = np.tile(horizons, 3)
    first = np.datetime64("2024-01-01")
    before, level_before = _direct_features(_Cumulative(y), rows, origins, hh, first, np.zeros(3), spec)
    changed = y.copy()
    changed[:, origin:] = 1e6  # the future, including the origin day itself
    after, level_after = _direct_features(_Cumulative(changed), rows, origins, hh, first, np.zeros(3), spec)
    assert np.array_equal(before, after) and np.array_equal(level_before, level_after)


def test_forecast_starts_after_last_day_is_nonnegative_and_beats_seasonal_naive():
    Y = _series(600)
    model = SeriesForecaster("random_forest", **FAST).fit(Y)
    assert model.forecast_start_ == (Y.index[-1] + pd.Timedelta(days=1)).date()
    out = model.predict(14)
    assert list(out["date"]) == list(pd.date_range(Y.index[-1] + pd.Timedelta(days=1), periods=14).date)
    assert (out["prediction"] >= 0).all() and (out["lower"] <= out["prediction"]).all()
    assert (out["upper"] >= out["prediction"]).all()
    m = model.metrics_
    assert m["mase"] < m["baseline"]["mase"] and m["relative_mae"] < 1 and m["beats_baseline"] is True
    assert 364 in m["lags"]
    assert m["test_rmse"] > 0 and m["train_r2"] > 0
    # the forecast stays in the level of the data: weekly-seasonal around 100 with a slight trend
    assert 60 < out["prediction"].mean() < 160


def test_interval_coverage_is_reported_and_near_nominal_on_noise():
    Y = _series(700, seed=3, noise=0.35)
    model = SeriesForecaster("linear", **FAST).fit(Y)
    m = model.metrics_
    assert m["interval_level"] == 0.95
    assert 0.75 <= m["interval_coverage"] <= 1.0
    narrow = SeriesForecaster("linear", interval_level=0.5, **FAST).fit(Y)
    width = (model.upper_ - model.lower_).mean()
    assert (narrow.upper_ - narrow.lower_).mean() < width
    assert narrow.metrics_["interval_coverage"] < m["interval_coverage"]


def test_auto_keeps_the_lowest_mase_candidate():
    Y = _series(500, seed=5)
    model = SeriesForecaster("auto", **FAST).fit(Y)
    cands = model.metrics_["candidates"]
    assert set(cands) == {"random_forest", "gradient_boosting", "linear", "seasonal_naive"}
    assert model.model_type_ == min(cands, key=cands.get)  # chosen on the validation window
    single = SeriesForecaster(model.model_type_, **FAST).fit(Y) if model.model_type_ != "seasonal_naive" else None
    if single is not None:  # the kept model's test figures are those of that model fitted alone
        assert model.metrics_["mase"] == single.metrics_["mase"]


def test_auto_picks_seasonal_naive_on_a_pure_weekly_pattern():
    index = pd.date_range("2024-01-01", periods=300, freq="D")
    pattern = np.array([5.0, 50, 5, 80, 5, 5, 200])[index.day_of_week]
    model = SeriesForecaster("auto", **FAST).fit(pd.DataFrame({"total": pattern}, index=index))
    assert model.metrics_["candidates"]["seasonal_naive"] is None  # no in-sample change: MASE undefined
    assert model.metrics_["test_mae"] == 0 and model.metrics_["baseline"]["test_mae"] == 0
    assert model.model_type_ == "seasonal_naive"
    assert model.predict(7)["prediction"].to_numpy() == pytest.approx(pattern[-7:])


def test_too_little_history_says_needed_and_available():
    with pytest.raises(InsufficientDataError, match="at least 120 days.*there are 90"):
        SeriesForecaster("linear", **FAST).fit(_series(90))


def test_unfitted_and_bad_parameters():
    with pytest.raises(NotFittedError, match="not fitted"):
        SeriesForecaster().predict(7)
    with pytest.raises(MLError, match="model_type") as exc:
        SeriesForecaster("prophet").fit(_series(200))
    assert exc.value.field == "model_type"
    model = SeriesForecaster("linear", **FAST).fit(_series(200))
    with pytest.raises(MLError) as exc:
        model.predict(61)
    assert exc.value.field == "days_ahead"


def test_sba_rate_of_intermittent_series():
    y = np.zeros((2, 200))
    y[0, ::10] = 5.0  # 5 units every 10 days = 0.5 a day
    rate = _sba_rate(y)
    assert rate[1] == 0
    assert 0.4 < rate[0] < 0.55  # SBA's (1 - alpha/2) deflation sits just under the true rate


def test_sales_forecaster_levels_products_and_price():
    lines = _lines(260)
    products = pd.DataFrame({"id": [f"p{i}" for i in range(6)], "category": ["A", "A", "B", "B", "C", "C"]})
    model = SalesForecaster("linear", max_train_rows=1500, product_train_rows=2000, max_horizon=90).fit(lines, products)
    assert set(model.metrics_["levels"]) == {"total", "category", "product"}
    assert model.ids("category") == ["A", "B", "C"]
    demand = model.product_demand(10)
    assert len(demand) == 60 and set(demand["product_id"]) == {f"p{i}" for i in range(6)}
    assert (demand["predicted_quantity"] >= 0).all()
    # reconciled (the default): products add up to their category and categories to the total
    assert model.reconciliation_method in ("mint_shrink", "bottom_up")
    total = model.predict(10)
    assert total["predicted_quantity"].sum() == pytest.approx(demand["predicted_quantity"].sum(), rel=1e-4)
    products_sales = sum(model.predict(10, level="product", id=f"p{i}")["predicted_sales"] for i in range(6))
    np.testing.assert_allclose(products_sales, total["predicted_sales"], rtol=1e-4)
    cat_a = model.predict(10, level="category", id="A")["predicted_quantity"].to_numpy()
    parts = sum(model.predict(10, level="product", id=p)["predicted_quantity"].to_numpy() for p in ("p0", "p1"))
    np.testing.assert_allclose(parts, cat_a, rtol=1e-4)
    # not reconciled: a product's revenue is its units times its price
    plain = SalesForecaster("linear", max_train_rows=1500, product_train_rows=2000, max_horizon=90,
                            reconciliation="none").fit(lines, products)
    assert plain.reconciliation_method == "none"
    prod = plain.predict(10, level="product", id="p3")
    assert prod["predicted_sales"].to_numpy() == pytest.approx(prod["predicted_quantity"].to_numpy() * 13.0)
    with pytest.raises(NotFoundError, match="unknown product id"):
        model.predict(5, level="product", id="p9")
    with pytest.raises(MLError) as exc:
        model.predict(5, level="category")
    assert exc.value.field == "id"


def test_holiday_list_lets_the_model_forecast_holiday_spikes():
    index = pd.date_range("2024-01-01", periods=560, freq="D")
    everywhere = pd.date_range("2024-01-01", periods=700, freq="D")
    holidays = [d for d in everywhere if d.day in (1, 15)]
    rng = np.random.default_rng(4)
    y = 50 * rng.lognormal(0, 0.1, len(index))
    y[np.isin(index, holidays)] *= 4
    frame = pd.DataFrame({"total": y}, index=index)
    with_h = SeriesForecaster("random_forest", holidays=tuple(d.date() for d in holidays), **FAST).fit(frame)
    without = SeriesForecaster("random_forest", **FAST).fit(frame)
    out = with_h.predict(60)
    is_holiday = pd.to_datetime(out["date"]).dt.day.isin([1, 15]).to_numpy()
    assert out["prediction"][is_holiday].mean() > 2.5 * out["prediction"][~is_holiday].mean()
    assert with_h.metrics_["mase"] < without.metrics_["mase"]
