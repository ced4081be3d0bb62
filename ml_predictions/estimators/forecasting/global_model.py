"""The global regressor: one model per level and target, trained on rows from every series.

Each model_type is a regressor with fit(X, y) / predict(X) (seasonal-naive too, reading the lag-7
column), so the backtest, calibration and final fit treat every candidate the same way.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import TimeSeriesSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from ml_predictions.errors import InvalidParameterError
from ml_predictions.estimators.forecasting.features import _Cumulative, _direct_features, _FeatureSpec
from ml_predictions.estimators.forecasting.series import _MIN_TRAIN_ROWS, MODEL_TYPES

# Backtest refits run the forest on one thread: five forests of 100 depth-10 trees on 5k rows spend
# ~10-15 % more CPU under joblib's threads than on one (pharmacy total, two years: 5.4-5.6 s vs
# 4.6-5.2 s), and training is judged by CPU on a shared 2-core machine. The same random_state grows
# the same trees, so the forecasts do not change (tests/estimators/forecasting/test_global_paths.py).
_BACKTEST_N_JOBS = 1


def make_regressor(model_type: str, random_state: int | None = 42) -> Any:
    """The regressor behind each model_type (random_forest uses the spec's parameters)."""
    if model_type == "random_forest":
        return RandomForestRegressor(
            n_estimators=100, max_depth=10, min_samples_split=5, random_state=random_state,
            # not in the spec: a third of the features per split and half the rows per tree cut the
            # fit time about four-fold at no measurable cost in backtest MASE
            max_features=0.33, max_samples=0.5, n_jobs=-1,
        )
    if model_type == "gradient_boosting":
        return HistGradientBoostingRegressor(
            max_iter=150, learning_rate=0.08, max_leaf_nodes=31, l2_regularization=1.0, random_state=random_state
        )
    if model_type == "linear":
        return make_pipeline(StandardScaler(), Ridge(alpha=1.0))
    raise InvalidParameterError(f"model_type must be one of {list(MODEL_TYPES)} or 'auto'; got {model_type!r}.",
                        field="model_type")


class _SeasonalNaiveRegressor:
    """The baseline as a regressor: tomorrow = the same weekday last week (reads the lag_7 column)."""

    def __init__(self, lag7_column: int):
        self.lag7_column = lag7_column

    def fit(self, X: np.ndarray, y: np.ndarray) -> _SeasonalNaiveRegressor:
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return X[:, self.lag7_column]



class GlobalModelMixin:
    """Training rows, prediction and backtest paths of the global model (needs the estimator's
    `max_horizon`, `max_train_rows`, `lags`, `holidays`, `model_type`, `random_state`)."""

    def _regressor(self, model_type: str, spec: _FeatureSpec) -> Any:
        if model_type == "seasonal_naive":
            return _SeasonalNaiveRegressor(spec.lags.index(7))
        return make_regressor(model_type, self.random_state)

    def _training_rows(
        self, cum: _Cumulative, cut: int, spec: _FeatureSpec, log_scale: np.ndarray, rng: np.random.Generator,
        first_day: np.datetime64,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(X, y) for random (series, origin, horizon) triples whose target lies before `cut`,
        ordered by target day (TimeSeriesSplit relies on it). Horizons are log-uniform over
        1..max_horizon: short horizons are asked for most and get the most rows."""
        n = cum.ys.shape[0]
        max_h = int(self.max_horizon)
        size = int(self.max_train_rows)
        h = np.floor(np.exp(rng.uniform(0, np.log(max_h + 1), size))).astype(int)
        h = np.clip(h, 1, max_h)
        lo = spec.min_origin(h)
        ok = lo <= cut - h
        h, lo = h[ok], lo[ok]
        origins = (lo + np.floor(rng.uniform(0, 1, len(h)) * (cut - h - lo + 1))).astype(int)
        rows = rng.integers(0, n, len(h))
        target = origins + h - 1
        order = np.argsort(target, kind="stable")
        rows, origins, h, target = rows[order], origins[order], h[order], target[order]
        X, level = _direct_features(cum, rows, origins, h, first_day, log_scale, spec)
        return X, cum.ys[rows, target] / level

    def _direct_predict(
        self, model: Any, cum: _Cumulative, rows: np.ndarray, origins: np.ndarray, horizon: int, spec: _FeatureSpec,
        log_scale: np.ndarray, first_day: np.datetime64,
    ) -> np.ndarray:
        """(len(rows) x horizon) scaled forecasts, one model call per block of rows (bounded memory)."""
        out = np.empty((len(rows), horizon))
        block = max(1, 200_000 // horizon)
        steps = np.arange(1, horizon + 1)
        for start in range(0, len(rows), block):
            r = rows[start:start + block]
            o = origins[start:start + block]
            rr, hh = np.repeat(r, horizon), np.tile(steps, len(r))
            X, level = _direct_features(cum, rr, np.repeat(o, horizon), hh, first_day, log_scale, spec)
            out[start:start + block] = np.maximum(model.predict(X) * level, 0.0).reshape(len(r), horizon)
        return out

    def paths(self, values: np.ndarray, first_day: np.datetime64, cuts: list[int], horizon: int) -> list[np.ndarray]:
        """The global model as a backtest candidate: for each cut, refit on the days before it and
        forecast every series `horizon` days from it (n x horizon, original units). The same rows,
        features and lag rule as fit() uses, so the backtest judges the model production runs."""
        with threadpool_limits(limits=1, user_api="openmp"):
            out = []
            for cut in cuts:
                lags = tuple(lag for lag in self.lags if lag <= 28 or cut - lag >= 2 * _MIN_TRAIN_ROWS)
                spec = _FeatureSpec(lags=lags if 7 in lags else (*lags, 7),
                                    holidays=frozenset(np.datetime64(str(d)[:10], "D") for d in self.holidays))
                window = values[:, max(0, cut - 364):cut].mean(1)
                scale = np.where(window > 0, window, 1.0)
                cum = _Cumulative(values[:, :cut] / scale[:, None])
                log_scale = np.log1p(scale)
                model = self._regressor(self.model_type, spec)
                if "n_jobs" in model.get_params():
                    model.set_params(n_jobs=_BACKTEST_N_JOBS)
                X, target = self._training_rows(cum, cut, spec, log_scale, np.random.default_rng(self.random_state),
                                                first_day)
                model.fit(X, target)
                n = values.shape[0]
                pred = self._direct_predict(model, cum, np.arange(n), np.full(n, cut), horizon, spec, log_scale,
                                            first_day)
                out.append(pred * scale[:, None])
            return out


    def _cv_r2(self, model_type: str, spec: _FeatureSpec, X: np.ndarray, target: np.ndarray) -> float:
        """Mean one-step R² over TimeSeriesSplit folds of the final training rows (time-ordered)."""
        if len(target) < 60:
            return float("nan")
        if len(target) > 3_000:  # evenly thinned, still time-ordered: the folds stay honest, the cost bounded
            keep = np.linspace(0, len(target) - 1, 3_000).astype(int)
            X, target = X[keep], target[keep]
        scores = []
        for train_idx, test_idx in TimeSeriesSplit(n_splits=3).split(X):
            model = clone(self._regressor(model_type, spec)) if model_type != "seasonal_naive" else None
            model.fit(X[train_idx], target[train_idx])
            if np.ptp(target[test_idx]) > 0:
                scores.append(r2_score(target[test_idx], model.predict(X[test_idx])))
        return float(np.mean(scores)) if scores else float("nan")

