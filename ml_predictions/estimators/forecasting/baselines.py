"""The cheap forecasts every model is judged against or blended with, and the error figures.

Weekly seasonal-naive, seasonal-ratio (last year's shape on this year's level), SBA for intermittent
demand, the per-horizon-bucket stack of them with the model, and the pooled metrics (MASE's scale
is the in-sample seasonal-naive MAE).
"""
from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import r2_score

from ml_predictions.estimators.forecasting.features import _Cumulative, _year_over_year
from ml_predictions.estimators.forecasting.series import _LEVEL_WINDOW, _SBA_ALPHA

# Horizon buckets (first step of each, 0-based) for the stacked forecast.
HORIZON_BUCKETS: tuple[int, ...] = (0, 7, 30, 90)
STACK_PARTS: tuple[str, ...] = ("model", "seasonal_naive", "seasonal_ratio")
# every (model, seasonal-naive, seasonal-ratio) weight triple on a 0.1 grid that sums to 1
_STACK_GRID = np.array([(a / 10, b / 10, (10 - a - b) / 10) for a in range(10, -1, -1) for b in range(0, 11 - a)])


def _stack_weights(parts: list[np.ndarray], actual: np.ndarray, scale: np.ndarray, max_horizon: int) -> np.ndarray:
    """(max_horizon x 3) weights of model / seasonal-naive / seasonal-ratio per step, one triple per
    horizon bucket (steps 1-7, 8-30, 31-90, 91+), each the grid triple with the lowest scaled MAE on
    the calibration backtests. A bucket the calibration did not reach takes the last reached
    bucket's triple. The model alone wins ties: the other parts have to earn their place."""
    steps = parts[0].shape[1]
    weights = np.zeros((max_horizon, 3))
    weights[:, 0] = 1.0
    last = _STACK_GRID[0]
    for b, start in enumerate(HORIZON_BUCKETS):
        end = HORIZON_BUCKETS[b + 1] if b + 1 < len(HORIZON_BUCKETS) else max_horizon
        if start >= max_horizon:
            break
        if start < steps:
            sl = slice(start, min(end, steps))
            stack = np.stack([p[:, sl] for p in parts])  # parts x rows x steps
            a = actual[:, sl]
            errs = np.array([np.nanmean(np.abs(np.tensordot(w, stack, 1) - a) / scale[:, None]) for w in _STACK_GRID])
            best = int(np.argmin(errs))
            last = _STACK_GRID[best] if errs[best] < errs[0] else _STACK_GRID[0]
        weights[start:end] = last
    return weights


def _seasonal_ratio_path(values: np.ndarray, rows: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """Last year's shape applied to this year's level: level(origin) x (7-day mean around t-364 /
    level at origin-364) x the target weekday's share over the last 8 weeks. Where a year of
    history is missing it is the seasonal-naive value. Uses only days before each origin."""
    cum = _Cumulative(values)
    steps = np.arange(1, horizon + 1)
    rr, hh = np.repeat(rows, horizon), np.tile(steps, len(rows))
    oo = np.repeat(origins, horizon)
    level, _, _ = cum.window(rr, oo, _LEVEL_WINDOW)
    ratio, _, known = _year_over_year(cum, rr, oo, hh, np.where(level > 1e-9, level, 1.0))
    target = oo + hh - 1
    week_back = 7 * np.ceil(hh / 7).astype(int)
    same_weekday = np.zeros(len(rr))
    for j in range(8):
        same_weekday += values[rr, np.maximum(target - week_back - 7 * j, 0)]
    weekday_share = np.where(level > 1e-9, same_weekday / 8.0 / np.where(level > 1e-9, level, 1.0), 1.0)
    naive = values[rr, target - week_back]
    out = np.where(known > 0, level * ratio * weekday_share, naive)
    return out.reshape(len(rows), horizon)


def _apply_stack(weights: np.ndarray, model: np.ndarray, naive: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """weights: (steps x 3) for model / seasonal-naive / seasonal-ratio; the parts: (series x steps)."""
    return np.maximum(weights[:, 0] * model + weights[:, 1] * naive + weights[:, 2] * ratio, 0.0)


def _seasonal_naive_path(hist: np.ndarray, horizon: int) -> np.ndarray:
    """Repeat the last observed week: the weekly seasonal-naive forecast every model must beat."""
    last_week = hist[:, -7:]
    reps = math.ceil(horizon / 7)
    return np.tile(last_week, (1, reps))[:, :horizon]


def _insample_naive_mae(y: np.ndarray) -> np.ndarray:
    """Per-series in-sample MAE of the weekly seasonal-naive forecast (MASE's denominator)."""
    if y.shape[1] <= 7:
        return np.full(y.shape[0], np.nan)
    return np.abs(y[:, 7:] - y[:, :-7]).mean(1)


def _sba_rate(y: np.ndarray, alpha: float = _SBA_ALPHA) -> np.ndarray:
    """Syntetos-Boylan approximation (bias-corrected Croston) demand rate per series, vectorized."""
    n, T = y.shape
    size = np.zeros(n)
    interval = np.ones(n)
    since = np.ones(n)
    started = np.zeros(n, dtype=bool)
    for t in range(T):
        demand = y[:, t] > 0
        first = demand & ~started
        size[first] = y[first, t]
        interval[first] = since[first]
        update = demand & started
        size[update] = size[update] + alpha * (y[update, t] - size[update])
        interval[update] = interval[update] + alpha * (since[update] - interval[update])
        started |= demand
        since = np.where(demand, 1.0, since + 1.0)
    rate = (1 - alpha / 2) * size / np.maximum(interval, 1.0)
    return np.where(started, rate, 0.0)


def _adi(y: np.ndarray) -> np.ndarray:
    """Average inter-demand interval per series (inf for a series that never sold)."""
    nonzero = (y > 0).sum(1)
    return np.where(nonzero > 0, y.shape[1] / np.maximum(nonzero, 1), np.inf)



def _metrics(actual: np.ndarray, pred: np.ndarray, naive_scale: np.ndarray) -> dict[str, float]:
    """Pooled error figures of a multi-series forecast (original units)."""
    err = pred - actual
    denom = np.abs(actual) + np.abs(pred)
    smape_terms = np.where(denom > 0, 2 * np.abs(err) / np.where(denom > 0, denom, 1), 0.0)
    scale = float(np.nanmean(naive_scale)) if naive_scale.size else float("nan")
    mae = float(np.abs(err).mean())
    flat_a, flat_p = actual.ravel(), pred.ravel()
    r2 = float(r2_score(flat_a, flat_p)) if flat_a.size > 1 and np.ptp(flat_a) > 0 else float("nan")
    return {
        "mae": mae,
        "rmse": float(np.sqrt((err ** 2).mean())),
        "r2": r2,
        "smape": float(100 * smape_terms.mean()),
        "mase": mae / scale if scale and scale > 0 else float("nan"),
    }


def _clean(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 4)

