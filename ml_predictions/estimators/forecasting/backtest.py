"""Rolling-origin backtests: every candidate is judged by the same code on the same windows.

Why several origins: one 30-day window is a noisy judge (a calm month says nothing about a surge),
and the validation window that `auto` used to choose on sat a month before the real future. The
origins here are the most recent ones (every `spacing` days back from the end, the last window
ending on the last day of data), so the choice reflects how each model copes with the shop's
current behaviour, and the errors they leave feed the conformal band.
"""
from __future__ import annotations

import numpy as np

from ml_predictions.errors import InsufficientDataError
from ml_predictions.estimators.forecasting.calendar import OpenCalendar, day_range
from ml_predictions.estimators.forecasting.statistical import calendar_forecast, seasonal_naive


def rolling_origins(n_days: int, horizon: int, *, n_origins: int, spacing: int, min_train: int) -> list[int]:
    """Origins (first forecast day, as a column index) from the most recent backwards, oldest first.
    Raises InsufficientDataError when not even one origin leaves `min_train` days before it."""
    origins = [n_days - horizon - spacing * k for k in range(n_origins)]
    origins = [o for o in origins if o >= min_train]
    if not origins:
        raise InsufficientDataError(
            f"Forecasting needs at least {min_train + horizon} days of sales history to backtest a "
            f"{horizon}-day forecast; there are {n_days}.",
            details={"days_needed": int(min_train + horizon), "days_available": int(n_days)},
        )
    return sorted(origins)


def naive_scale(values: np.ndarray, origins: list[int]) -> np.ndarray:
    """(origins x series) in-sample MAE of the weekly seasonal-naive forecast before each origin:
    MASE's denominator, so a window's MASE compares the model with 'repeat last week'."""
    out = np.empty((len(origins), values.shape[0]))
    for k, o in enumerate(origins):
        hist = values[:, :o]
        out[k] = np.abs(hist[:, 7:] - hist[:, :-7]).mean(1) if o > 7 else np.nan
    return out


def recent_level(values: np.ndarray, origins: list[int], window: int = 28,
                 open_days: np.ndarray | None = None) -> np.ndarray:
    """(origins x series) mean of the open days among the `window` days before each origin (1 where
    it is 0): the unit in which errors are pooled across series and origins of different size.
    Closed days are left out (open_days: a (days,) mask; None = every day open): ten days shut over
    Christmas would otherwise halve the level and with it the band of the busy January after."""
    weights = np.ones(values.shape[1]) if open_days is None else np.asarray(open_days, dtype=float)
    out = np.empty((len(origins), values.shape[0]))
    for k, o in enumerate(origins):
        lo = max(0, o - window)
        w = weights[lo:o]
        m = (values[:, lo:o] * w).sum(1) / w.sum() if w.sum() > 0 else values[:, lo:o].mean(1)
        longer = values[:, :o].mean(1)
        out[k] = np.where(m > 0, m, np.where(longer > 0, longer, 1.0))
    return out


def window_mase(pred: np.ndarray, actual: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(origins x series) MASE of (origins x series x steps) forecasts; NaN where the scale is 0."""
    mae = np.abs(pred - actual).mean(2)
    safe = np.where(scale > 0, scale, np.nan)
    return mae / safe


def reference_errors(
    values: np.ndarray, first_day: np.datetime64, calendar: OpenCalendar, horizon: int, *,
    n_origins: int = 52, spacing: int = 7, min_train: int = 28,
) -> tuple[np.ndarray, np.ndarray]:
    """(origins, scores): seasonal-naive's |error| / recent level from up to `n_origins` weekly origins
    (the most recent first ending on the last day), rows (origin, series) x horizon, NaN on closed
    days. Seasonal-naive costs nothing to run, so a year of origins samples every season's surprises
    for the band (intervals.py), which the few selection windows cannot. `origins` repeats each
    origin once per series, aligned with the rows."""
    n, T = values.shape
    origins = [T - horizon - spacing * k for k in range(int(n_origins))]
    origins = sorted(o for o in origins if o >= min_train)
    if not origins:
        return np.zeros(0, dtype=int), np.zeros((0, horizon))
    level = recent_level(values, origins, open_days=calendar.is_open(day_range(first_day, T)))
    rows = []
    for k, o in enumerate(origins):
        days = day_range(first_day + o, horizon)
        open_ = calendar.is_open(days)
        for i in range(n):
            pred = calendar_forecast(seasonal_naive, values[i, :o], first_day, calendar, horizon)
            err = np.abs(values[i, o:o + horizon] - pred) / level[k, i]
            rows.append(np.where(open_, err, np.nan))
    return np.repeat(np.array(origins), n), np.vstack(rows)
