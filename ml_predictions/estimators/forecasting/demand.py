"""Each series' demand class and the method that serves it, decided on a rolling-origin backtest.

A product that sells one day in five is badly served by a regressor on lags: it forecasts a little
every day and its band spans nothing useful. After a level is fitted, every series is classified
(Syntetos-Boylan, on its open days since its first sale) and the intermittent and lumpy ones are
offered Croston, SBA and TSB against the level's own model, on the same backtest windows; the
lowest mean squared error wins, the model on ties. Squared error, not absolute: the median daily
demand of an intermittent product is 0, so MAE rewards forecasting nothing, and only mean
forecasts add up, which reconciliation needs. Smooth and erratic series keep the level's model.

The band of a series served by a Croston-family rate is a negative binomial with that mean and the
dispersion (variance / mean, at least 1: Poisson) of the series' recent open days, so a product
selling 0.3 a day gets a band of 0-2 units, not the band of the level's busiest series.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats
from threadpoolctl import threadpool_limits

from ml_predictions.estimators.forecasting import intermittent as im
from ml_predictions.estimators.forecasting.backtest import recent_level
from ml_predictions.estimators.forecasting.calendar import OpenCalendar, day_range
from ml_predictions.estimators.forecasting.features import _Cumulative, _FeatureSpec
from ml_predictions.estimators.forecasting.intervals import step_quantiles
from ml_predictions.estimators.forecasting.series import _MIN_CALIBRATION_CUT, _MIN_TRAIN_ROWS, _ROLL_WINDOW

SPARSE_CLASSES = ("intermittent", "lumpy")
_DISPERSION_DAYS = 182


def backtest_origins(n_days: int, horizon: int, *, n_origins: int = 3, spacing: int = 14) -> list[int]:
    """The rolling origins (oldest first) the product backtest uses: the most recent of the ones the
    `auto` selection of the upper levels uses (so reconciliation finds common windows), kept where a
    refit has a season of rows before it; the last window alone when the history is short. Three,
    not five: predicting 2,000 products from each origin is the backtest's cost."""
    every = [n_days - horizon - spacing * k for k in range(n_origins)]
    kept = [o for o in every if o >= _MIN_CALIBRATION_CUT]
    if not kept and every[0] >= _ROLL_WINDOW + _MIN_TRAIN_ROWS:
        kept = [every[0]]
    return sorted(kept)


def model_backtest_errors(
    model: Any, values: np.ndarray, first_day: np.datetime64, calendar: OpenCalendar, origins: list[int],
    horizon: int,
) -> dict[int, np.ndarray]:
    """{origin: (series x horizon) actual - forecast} of a fitted SeriesForecaster's model type, refitted
    ONCE on the days before the first origin and run from every origin (features read only the days
    before each origin; the targets it learned all precede the first one). Closed days forecast 0."""
    if not origins:
        return {}
    n = values.shape[0]
    steps = np.arange(horizon)
    kind = model.model_type_
    cut = min(origins)
    rows = np.repeat(np.arange(n), len(origins))
    row_origins = np.tile(np.asarray(origins), n)
    if kind == "seasonal_naive":
        pred = values[rows[:, None], row_origins[:, None] - 7 + steps % 7]
    else:
        lags = tuple(lag for lag in model.lags if lag <= 28 or cut - lag >= 2 * _MIN_TRAIN_ROWS)
        spec = _FeatureSpec(lags=lags if 7 in lags else (*lags, 7),
                            holidays=frozenset(np.datetime64(str(d)[:10], "D") for d in model.holidays))
        window = values[:, max(0, cut - 364):cut].mean(1)
        scale = np.where(window > 0, window, 1.0)
        cum = _Cumulative(values / scale[:, None])
        log_scale = np.log1p(scale)
        regressor = model._regressor(kind, spec)
        X, target = model._training_rows(cum, cut, spec, log_scale, np.random.default_rng(model.random_state),
                                         first_day)
        if len(target) < _MIN_TRAIN_ROWS:
            return {}
        with threadpool_limits(limits=1, user_api="openmp"):  # as SeriesForecaster.fit: no spin-waiting
            regressor.fit(X, target)
            pred = model._direct_predict(regressor, cum, rows, row_origins, horizon, spec, log_scale, first_day)
        pred = pred * scale[rows][:, None]
    pred = pred.reshape(n, len(origins), horizon)
    out = {}
    for k, o in enumerate(origins):
        shut = ~calendar.is_open(day_range(first_day + o, horizon))
        p = np.where(shut[None, :], 0.0, pred[:, k])
        out[int(o)] = (values[:, o:o + horizon] - p).astype(np.float32)
    return out


def nb_band(mean: np.ndarray, dispersion: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Central `level` interval of a negative binomial with this mean and variance / mean ratio
    (Poisson where the ratio is 1); zero-width at a mean of 0."""
    mean = np.maximum(np.asarray(mean, dtype=float), 0.0)
    phi = np.maximum(np.asarray(dispersion, dtype=float), 1.0)
    q = np.array([(1 - level) / 2, (1 + level) / 2])
    lo, hi = np.zeros_like(mean), np.zeros_like(mean)
    pos = mean > 0
    poisson = pos & (phi < 1 + 1e-6)
    nb = pos & ~poisson
    if poisson.any():
        lo[poisson], hi[poisson] = (stats.poisson.ppf(q[j], mean[poisson]) for j in range(2))
    if nb.any():
        r, p = mean[nb] / (phi[nb] - 1), 1 / phi[nb]
        lo[nb], hi[nb] = (stats.nbinom.ppf(q[j], r, p) for j in range(2))
    return lo, hi


def _dispersion(open_values: np.ndarray) -> np.ndarray:
    """Variance / mean of each series' recent open days (1 where it did not sell there)."""
    recent = open_values[:, -_DISPERSION_DAYS:]
    if recent.shape[1] < 2:
        return np.ones(open_values.shape[0])
    m = recent.mean(1)
    return np.where(m > 0, recent.var(1) / np.where(m > 0, m, 1.0), 1.0)


def assign_methods(
    model: Any, values: np.ndarray, first_day: np.datetime64, calendar: OpenCalendar, *, interval_level: float,
    alpha: float = 0.1, beta: float = 0.1, horizon: int = 30,
) -> None:
    """Classify every series of a fitted level model and serve the sparse ones by the Croston-family
    method that beats the model on its `backtest_errors_` windows (the model's own forecast and band
    stay elsewhere). Sets `demand_class_`, `method_`, updates the forecast table, `backtest_errors_`
    for the replaced series, and `metrics_["demand"]`."""
    n, T = values.shape
    errors: dict[int, np.ndarray] = dict(getattr(model, "backtest_errors_", None) or {})
    chosen_model = list(getattr(model, "chosen_", None) or [model.model_type_] * n)
    origins = sorted(errors) or backtest_origins(T, horizon)
    origins = [o for o in origins if o >= 7]
    H = next(iter(errors.values())).shape[1] if errors else horizon
    open_hist = calendar.is_open(day_range(first_day, T))
    open_values = values[:, open_hist]
    position = np.concatenate([[0], np.cumsum(open_hist)])  # open days before each day index
    classes = im.classify(open_values, since_first=True)
    method = np.array(chosen_model, dtype=object)
    sparse = np.isin(classes, SPARSE_CLASSES)
    report: dict[str, Any] = {"classes": _counts(classes), "origins": len(origins), "horizon_days": int(H),
                              "selected_by": "backtest_mse"}
    if sparse.any() and origins:
        actual = np.stack([values[:, o:o + H] for o in origins])  # origins x series x steps
        windows_open = np.stack([open_hist[o:o + H] for o in origins])
        cuts = [int(position[o]) for o in origins]
        names, table, preds = [], [], {}
        if errors:
            names.append("model")
            table.append(np.mean(np.stack([errors[o] for o in origins]).astype(float) ** 2, axis=(0, 2)))
        for m in im.METHODS:
            rates = im.rates_at(open_values, cuts, method=m, alpha=alpha, beta=beta)  # origins x series
            preds[m] = rates[:, :, None] * windows_open[:, None, :]
            names.append(m)
            table.append(np.mean((actual - preds[m]) ** 2, axis=(0, 2)))
        best = np.asarray(names, dtype=object)[np.argmin(np.vstack(table), axis=0)]
        replace = sparse & (best != "model")
        method[replace] = best[replace]
        report["backtest_mse"] = {name: _mean(t[sparse]) for name, t in zip(names, table, strict=True)}
        if replace.any():
            _serve_rates(model, values, first_day, calendar, open_values, method, replace, interval_level,
                         alpha, beta)
            for k, o in enumerate(origins):
                if o in errors:
                    for m in set(method[replace]):
                        rows = replace & (method == m)
                        errors[o][rows] = (actual[k, rows] - preds[m][k, rows]).astype(np.float32)
            report["interval_coverage"] = _band_coverage(
                open_values, cuts, actual, windows_open, method, replace, preds, interval_level)
    never = classes == "none"
    if never.any():
        method[never] = "none"
        for attr in ("forecast_", "lower_", "upper_"):
            getattr(model, attr)[never] = 0.0
    if errors:
        model.backtest_errors_ = errors
    model.demand_class_ = [str(c) for c in classes]
    model.method_ = [str(m) for m in method]
    report["methods"] = _counts(method)
    report["methods_by_class"] = {
        c: _counts(method[classes == c]) for c in sorted(set(classes.tolist()))}
    model.metrics_["demand"] = report


def class_bands(model: Any, values: np.ndarray, first_day: np.datetime64, calendar: OpenCalendar, *,
                interval_level: float) -> None:
    """Conformal bands of the model-served series from the backtest errors of their own demand class.

    The level model pools the scaled errors of every series, and in a catalogue of mostly sparse
    products those dominate: a coffee selling 30 a day got a band from 0 to 4 times its forecast.
    Pooled per class (in units of each series' 28-day level), a smooth product gets a smooth band."""
    errors = getattr(model, "backtest_errors_", None) or {}
    if not errors:
        return
    origins = sorted(errors)
    n, T = values.shape
    H = errors[origins[0]].shape[1]
    classes = np.asarray(model.demand_class_, dtype=object)
    served = ~np.isin(np.asarray(model.method_, dtype=object), (*im.METHODS, "none"))
    level = recent_level(values, origins)
    now = recent_level(values, [T])[0]
    E = np.stack([errors[o] for o in origins]).astype(float)
    shut = np.stack([~calendar.is_open(day_range(first_day + o, H)) for o in origins])
    max_h = model.forecast_.shape[1]
    future_open = calendar.is_open(day_range(first_day + T, max_h))
    for c in sorted(set(classes[served].tolist())):
        rows = served & (classes == c)
        resid = np.where(shut[:, None, :], np.nan, E[:, rows] / level[:, rows, None]).reshape(-1, H)
        lo, hi = step_quantiles(resid, 1 - float(interval_level), max_h)
        f = model.forecast_[rows].astype(float)
        lower = np.minimum(np.maximum(f + lo[None, :] * now[rows, None], 0.0), f)
        upper = np.maximum(f + hi[None, :] * now[rows, None], f)
        model.lower_[rows] = np.where(future_open[None, :], lower, 0.0)
        model.upper_[rows] = np.where(future_open[None, :], upper, 0.0)


def _serve_rates(model: Any, values: np.ndarray, first_day: np.datetime64, calendar: OpenCalendar,
                 open_values: np.ndarray, method: np.ndarray, replace: np.ndarray, level: float, alpha: float,
                 beta: float) -> None:
    """Flat rate per open day (0 when closed) and a negative binomial band for the replaced series."""
    T = values.shape[1]
    future_open = calendar.is_open(day_range(first_day + T, model.forecast_.shape[1]))
    rate = np.zeros(values.shape[0])
    for m in set(method[replace]):
        rows = replace & (method == m)
        rate[rows] = im.rate(open_values[rows], method=m, alpha=alpha, beta=beta)
    lo, hi = nb_band(rate[replace], _dispersion(open_values[replace]), level)
    model.forecast_[replace] = rate[replace][:, None] * future_open[None, :]
    model.lower_[replace] = lo[:, None] * future_open[None, :]
    model.upper_[replace] = hi[:, None] * future_open[None, :]


def _band_coverage(open_values: np.ndarray, cuts: list[int], actual: np.ndarray, windows_open: np.ndarray,
                   method: np.ndarray, replace: np.ndarray, preds: dict[str, np.ndarray], level: float) -> float | None:
    """Share of open backtest days of the replaced series inside the band built at each origin from
    the days before it only."""
    hits = total = 0
    for k, cut in enumerate(cuts):
        phi = _dispersion(open_values[replace, :cut])
        mean = np.array([preds[m][k, i].max() for i, m in zip(np.flatnonzero(replace), method[replace], strict=True)])
        lo, hi = nb_band(mean, phi, level)
        a = actual[k, replace]
        inside = (a >= lo[:, None] - 1e-9) & (a <= hi[:, None] + 1e-9)
        mask = np.broadcast_to(windows_open[k][None, :], inside.shape)
        hits += int(inside[mask].sum())
        total += int(mask.sum())
    return round(hits / total, 4) if total else None


def _counts(labels: np.ndarray) -> dict[str, int]:
    keys, counts = np.unique(np.asarray(labels, dtype=str), return_counts=True)
    return {str(k): int(c) for k, c in zip(keys, counts, strict=True)}


def _mean(x: np.ndarray) -> float | None:
    x = x[np.isfinite(x)]
    return round(float(x.mean()), 6) if x.size else None


def backtest_daily_rmse(model: Any) -> np.ndarray | None:
    """Per series, the root mean squared one-day error (in the model's units) over every rolling-origin
    backtest window, or None without stored errors.

    Why RMSE and not the errors' std: a safety stock must cover the forecast's bias as well as its
    scatter. Closed days count as zero-error days, matching the calendar-day demand inventory plans with.
    """
    errors = getattr(model, "backtest_errors_", None) or {}
    if not errors:
        return None
    stacked = np.concatenate([np.asarray(e, dtype=float) for e in errors.values()], axis=1)  # series x steps
    if stacked.shape[0] != len(model.series_) or not stacked.shape[1]:
        return None
    with np.errstate(invalid="ignore"):
        return np.sqrt(np.nanmean(stacked ** 2, axis=1))
