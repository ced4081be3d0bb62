"""The random forest's backtest refits run on one thread and forecast what the threaded fit does."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import RandomForestRegressor

import ml_predictions.estimators.forecasting.global_model as global_model
from ml_predictions.estimators.forecasting.series_forecaster import SeriesForecaster


def _history(days: int = 300) -> np.ndarray:
    rng = np.random.default_rng(3)
    t = np.arange(days)
    week = np.array([1.0, 1.1, 1.0, 1.2, 1.6, 0.7, 0.5])
    return (100 + 0.1 * t) * week[t % 7] * rng.lognormal(0, 0.1, days)


def _paths(monkeypatch: pytest.MonkeyPatch, n_jobs: int) -> tuple[list[np.ndarray], list[int]]:
    seen: list[int] = []
    fit = RandomForestRegressor.fit

    def recording_fit(self, X, y, **kw):
        seen.append(self.n_jobs)
        return fit(self, X, y, **kw)

    with monkeypatch.context() as patch:
        patch.setattr(global_model, "_BACKTEST_N_JOBS", n_jobs)
        patch.setattr(RandomForestRegressor, "fit", recording_fit)
        return _fit_paths(), seen


def _fit_paths() -> list[np.ndarray]:
    values = np.vstack([_history(), 2 * _history()[::-1]])
    model = SeriesForecaster("random_forest", max_horizon=60, max_train_rows=1_500, random_state=7)
    return model.paths(values, np.datetime64("2024-01-01"), [240, 260], 21)


def test_backtest_forests_are_single_threaded_and_forecast_as_the_threaded_ones(monkeypatch):
    single, seen_single = _paths(monkeypatch, 1)
    threaded, seen_threaded = _paths(monkeypatch, 2)
    assert seen_single == [1, 1] and seen_threaded == [2, 2]
    assert [p.shape for p in single] == [(2, 21), (2, 21)]
    for a, b in zip(single, threaded, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)  # the same trees; only the sum order of predict differs
        assert (a >= 0).all() and a.std() > 0
