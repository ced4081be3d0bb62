"""Year-over-year features, the calibrated model / seasonal-naive / seasonal-ratio stack and the
multi-block conformal calibration of the forecasting service."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml_predictions.estimators.forecasting.forecaster import (
    SeriesForecaster,
    _Cumulative,
    _FeatureSpec,
    _seasonal_ratio_path,
    _stack_weights,
    _year_over_year,
)

FAST = {"max_train_rows": 1500, "max_horizon": 60}


def _autumn_surge(days: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Weekly pattern around 100 that doubles every year from day-of-year 250 to 310 (a flu season)."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2023-01-02", periods=days, freq="D")
    weekly = np.array([0.8, 0.9, 1.0, 1.0, 1.1, 1.4, 0.8])[index.day_of_week]
    doy = index.day_of_year.to_numpy()
    surge = np.where((doy >= 250) & (doy < 310), 2.0, 1.0)
    y = 100 * weekly * surge * rng.lognormal(0, 0.1, days)
    return pd.DataFrame({"total": y}, index=index)


def test_year_over_year_features_see_last_years_step_and_are_neutral_without_a_year():
    y = np.ones((1, 900))
    y[0, 260:340] = 2.0  # last year's surge, 10 days after origin 614 - 364 = 250
    cum = _Cumulative(y)
    h = np.array([1, 14, 60, 100])
    ratio, growth, known = _year_over_year(cum, np.zeros(4, int), np.full(4, 614), h, np.ones(4))
    assert known.tolist() == [1, 1, 1, 1]
    assert ratio == pytest.approx([1.0, 2.0, 2.0, 1.0])
    assert growth == pytest.approx(np.ones(4))
    # origin 100: no year before it -> neutral values, flagged unknown
    ratio, growth, known = _year_over_year(cum, np.zeros(2, int), np.full(2, 100), np.array([1, 10]), np.ones(2))
    assert known.tolist() == [0, 0] and ratio.tolist() == [1.0, 1.0] and growth.tolist() == [1.0, 1.0]
    assert "yoy_ratio" in _FeatureSpec(lags=(1, 7, 364), holidays=frozenset()).names()
    assert "yoy_ratio" not in _FeatureSpec(lags=(1, 7), holidays=frozenset()).names()


def test_seasonal_ratio_path_follows_last_years_surge_and_never_reads_the_future():
    Y = _autumn_surge(1100)
    values = Y.to_numpy().T
    origin = int(np.flatnonzero((Y.index.year == 2025) & (Y.index.day_of_year == 240))[0])
    path = _seasonal_ratio_path(values, np.array([0]), np.array([origin]), 60)
    level = values[0, origin - 56:origin].mean()
    surge_days = slice(13, 57)  # day-of-year 253..296 of 2025: the 7-day windows stay inside
    assert path[0, surge_days].mean() / level == pytest.approx(2.0, rel=0.15)
    assert path[0, :6].mean() / level == pytest.approx(1.0, rel=0.15)
    naive = np.tile(values[0, origin - 7:origin], 9)[:60]
    actual = values[0, origin:origin + 60]
    assert np.abs(path[0] - actual).mean() < 0.5 * np.abs(naive - actual).mean()
    changed = values.copy()
    changed[:, origin:] = 1e6
    assert np.array_equal(_seasonal_ratio_path(changed, np.array([0]), np.array([origin]), 60), path)


def test_stack_weights_follow_the_part_that_was_right_on_calibration_per_bucket():
    rng = np.random.default_rng(1)
    actual = rng.random((50, 30)) * 10
    naive = actual.copy()
    naive[:, 7:] += rng.normal(0, 3, (50, 23))
    ratio = actual + rng.normal(0, 3, (50, 30))
    ratio[:, 7:] = actual[:, 7:]
    model = actual + rng.normal(0, 1, (50, 30))
    w = _stack_weights([model, naive, ratio], actual, np.ones(50), 120)
    assert w.shape == (120, 3) and np.allclose(w.sum(1), 1)
    assert w[0].tolist() == [0.0, 1.0, 0.0]  # steps 1-7: seasonal-naive was exact there
    assert w[7].tolist() == [0.0, 0.0, 1.0]  # 8-30: the seasonal ratio was
    assert (w[30:] == w[29]).all()  # 31-90 and 91+ were not calibrated: they keep the last bucket's
    exact = _stack_weights([actual, naive, ratio], actual, np.ones(50), 40)
    assert (exact == [1.0, 0.0, 0.0]).all()  # the model alone wins ties


def test_fit_reports_stack_weights_and_stack_false_is_the_model_alone():
    Y = _autumn_surge(800)
    stacked = SeriesForecaster("linear", **FAST).fit(Y)
    weights = stacked.metrics_["stack_weights"]
    assert list(weights) == ["1-7", "8-30", "31-90"]  # max_horizon 60
    assert all(sum(v) == pytest.approx(1.0) for v in weights.values())
    plain = SeriesForecaster("linear", stack=False, **FAST).fit(Y)
    assert all(v == [1.0, 0.0, 0.0] for v in plain.metrics_["stack_weights"].values())
    assert (plain.stack_weights_[:, 0] == 1).all()
    assert stacked.metrics_["relative_mae"] < 1


def test_calibration_refits_a_quarter_apart_and_drops_blocks_without_room():
    Y = _autumn_surge(1000, seed=2)
    four = SeriesForecaster("linear", calibration_blocks=4, **FAST).fit(Y)
    one = SeriesForecaster("linear", calibration_blocks=1, **FAST).fit(Y)
    assert four.metrics_["calibration_refits"] == 4 and four.metrics_["calibration_origins"] == 32
    assert one.metrics_["calibration_refits"] == 1 and one.metrics_["calibration_origins"] == 8
    short = SeriesForecaster("linear", calibration_blocks=4, **FAST).fit(_autumn_surge(200))
    assert short.metrics_["calibration_refits"] == 1
    # the earlier blocks saw last year's surge, the single latest block only calm weeks: the band
    # drawn from four seasons is wider
    assert (four.upper_ - four.lower_).mean() > (one.upper_ - one.lower_).mean()
