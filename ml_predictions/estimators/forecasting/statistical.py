"""Per-series statistical forecasters (statsmodels): ETS, Theta, MSTL + ETS and seasonal-naive.

Why these: the global tree models learn shapes relative to a 56-day level, so a series whose level
shifts inside the forecast window (a run-up to Christmas) is left behind; exponential smoothing
follows a level shift by construction, and it is what a shop owner compares us with. The M4 lesson is
that a few simple models, selected or combined on a backtest, are hard to beat.

Every model here has ONE interface: `forecast(z, steps, period) -> array | None` on the *open-days
series* z (closed weekdays removed, holidays imputed; see calendar.py), so the season length is the
number of open weekdays; None means "not applicable to this history" (MSTL without two years).
`calendar_forecast` maps a model onto calendar days and puts exact zeros on closed days.

Speed: Holt-Winters with heuristic initial states and no brute-force start grid fits in ~0.05 s on two
years (estimated initial states take 20-40x longer for the same forecast), and the fit window is
capped at two years of open days: older levels say little about next month's.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

from ml_predictions.estimators.forecasting.calendar import OpenCalendar, day_range

_FIT_WINDOW = 2 * 365
# ETS(M,N,M) estimates its initial weekly season from the whole window and then barely updates it
# (gamma ~ 0 on every real series): eight months keep that season current. On the 6 rolling windows
# of CDNOW, mean MASE 0.603 with two years, 0.595 with 240 days (benchmarks/results/forecasting_auto.md).
_MUL_FIT_WINDOW = 240
_MSTL_WINDOW = 3 * 365
# Below twenty weeks of open days, Holt-Winters' heuristic initial states (read off the first cycles)
# weigh on the whole fit: estimated states there (Bread Basket, 93-128 open days over 6 windows:
# `ets` 0.702 -> 0.659 mean MASE; one window 1.055 -> 0.776). A fit on so few days is cheap either way;
# every fit of the longer real series keeps the heuristic (benchmarks/results/forecasting_auto.md).
_ESTIMATED_STATES_BELOW = 140
SHORT_FIT_DAYS = _ESTIMATED_STATES_BELOW


@contextmanager
def _quiet() -> Iterator[None]:
    """statsmodels warns on every weak optimum; the backtest, not the warning, judges the fit."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _flat(z: np.ndarray, steps: int) -> np.ndarray | None:
    """A constant history forecasts itself (statsmodels cannot fit a zero-variance series)."""
    if z.size == 0:
        return np.zeros(steps)
    if np.ptp(z) == 0:
        return np.full(steps, float(z[-1]))
    return None


def seasonal_naive(z: np.ndarray, steps: int, period: int) -> np.ndarray:
    """Repeat the last open week: the baseline every model has to beat."""
    if z.size == 0:
        return np.zeros(steps)
    last = z[-period:] if z.size >= period else z[-1:]
    return np.tile(last, steps // len(last) + 1)[:steps].astype(float)


def ets(z: np.ndarray, steps: int, period: int) -> np.ndarray | None:
    """Holt-Winters ETS, the configuration with the lowest AICc among no/damped additive trend x
    additive/multiplicative weekly season (multiplicative only on a strictly positive history)."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    z = z[-_FIT_WINDOW:]
    flat = _flat(z, steps)
    if flat is not None:
        return flat
    seasonal_ok = period >= 2 and z.size >= max(4 * period, 20)
    if z.size < 10:
        return None
    seasons = (["add", "mul"] if z.min() > 0 else ["add"]) if seasonal_ok else [None]
    best, best_aicc = None, np.inf
    with _quiet():
        for trend in (None, "add"):
            for season in seasons:
                model = ExponentialSmoothing(
                    z, trend=trend, damped_trend=trend is not None, seasonal=season,
                    seasonal_periods=period if season else None,
                    initialization_method="heuristic" if z.size >= _ESTIMATED_STATES_BELOW else "estimated",
                ).fit(use_brute=False)
                aicc = model.aicc
                if np.isfinite(aicc) and aicc < best_aicc:
                    best, best_aicc = model, aicc
    if best is None:
        return None
    return np.maximum(np.asarray(best.forecast(steps), dtype=float), 0.0)


def ets_mul_error(z: np.ndarray, steps: int, period: int) -> np.ndarray | None:
    """ETS(M,N,M) fitted by maximum likelihood with estimated initial states: the errors scale with
    the level, so a launch spike or a busy season does not dominate the fit the way it does under
    Holt-Winters' squared errors (CDNOW's first months are 10x its later days). Only on a strictly
    positive history, where a relative error is defined."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    z = z[-_MUL_FIT_WINDOW:]
    flat = _flat(z, steps)
    if flat is not None:
        return flat
    if period < 2 or z.size < max(4 * period, 20) or z.min() <= 0:
        return None
    with _quiet():
        fitted = ETSModel(z, error="mul", trend=None, seasonal="mul", seasonal_periods=period).fit(disp=False)
        out = np.asarray(fitted.forecast(steps), dtype=float)
    if not np.isfinite(out).all():
        return None
    return np.maximum(out, 0.0)


def theta(z: np.ndarray, steps: int, period: int) -> np.ndarray | None:
    """The Theta method (M3's winner): drift plus simple exponential smoothing on the deseasonalised
    series (multiplicative season on a positive history, additive otherwise)."""
    from statsmodels.tsa.forecasting.theta import ThetaModel

    z = z[-_FIT_WINDOW:]
    flat = _flat(z, steps)
    if flat is not None:
        return flat
    if z.size < max(4 * period, 20):
        return None
    with _quiet():
        fitted = ThetaModel(z, period=period, deseasonalize=period >= 2,
                            method="multiplicative" if z.min() > 0 else "additive").fit()
        out = np.asarray(fitted.forecast(steps), dtype=float)
    return np.maximum(out, 0.0)


def mstl_ets(z: np.ndarray, steps: int, period: int) -> np.ndarray | None:
    """MSTL with weekly and yearly seasons, damped-trend ETS on the seasonally adjusted series, each
    season repeated from its last cycle. Only with two years of open days: one year cannot tell a
    yearly season from a trend."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing
    from statsmodels.tsa.seasonal import MSTL

    yearly = int(round(365.25 * period / 7))
    z = z[-_MSTL_WINDOW:]
    if period < 2 or z.size < 2 * yearly + period:
        return None
    flat = _flat(z, steps)
    if flat is not None:
        return flat
    with _quiet():
        parts = MSTL(z, periods=(period, yearly)).fit()
        seasonal = np.asarray(parts.seasonal)
        adjusted = z - seasonal.sum(1)
        trend = ExponentialSmoothing(adjusted[-_FIT_WINDOW:], trend="add", damped_trend=True,
                                     initialization_method="heuristic").fit(use_brute=False)
        out = np.asarray(trend.forecast(steps), dtype=float)
    for col, length in enumerate((period, yearly)):
        last = seasonal[-length:, col]
        out += np.tile(last, steps // length + 1)[:steps]
    return np.maximum(out, 0.0)


SeriesModel = Callable[[np.ndarray, int, int], "np.ndarray | None"]
STATISTICAL_MODELS: dict[str, SeriesModel] = {
    "ets": ets,
    "ets_mul_error": ets_mul_error,
    "theta": theta,
    "mstl_ets": mstl_ets,
    "seasonal_naive": seasonal_naive,
}


def open_days_series(y: np.ndarray, days: np.ndarray, calendar: OpenCalendar, *, refine: bool = False) -> np.ndarray:
    """The history on open weekdays only, a holiday replaced by the same open weekday a week earlier
    (or later, at the start), so the season's phase is kept and no closure is fitted as demand.

    refine: then each holiday gets the one-step forecast of a weekly exponential smoothing fitted to
    that first fill, i.e. what the days around it say the day would have sold. A week-earlier copy
    carries whatever that day was: Bread Basket's Christmas Monday and New Year's Monday both became
    the pre-Christmas Monday (148 items, against 66-108 on the Mondays of the January slump), and
    every weekly model fitted that spike as demand (benchmarks/results/forecasting_auto.md). With
    the one-step forecast the filter's error on the day is ~0, which is how a state-space model treats
    a missing day (the states just carry over). Only below twenty weeks of open days, where four
    copied days are 3-4 % of the fit and the initial states are estimated from them: on the two-year
    pharmacy series the refill flipped backtest choices and cost N02BE 0.014 and the closed rising cut
    0.029 MASE, so long histories keep the copy."""
    weekday_open = calendar.weekday_open(days)
    z = np.asarray(y, dtype=float)[weekday_open].copy()
    holiday = ~calendar.is_open(days)[weekday_open]
    if holiday.all():
        return np.zeros(0)
    p = calendar.period
    for i in np.flatnonzero(holiday):
        j = i - p
        while j >= 0 and holiday[j]:
            j -= p
        if j < 0:
            j = i + p
            while j < len(z) and holiday[j]:
                j += p
        z[i] = z[j] if 0 <= j < len(z) else 0.0
    if refine and p >= 2 and max(4 * p, 20) <= z.size < _ESTIMATED_STATES_BELOW and z.min() < z.max():
        z[holiday] = _one_step(z, p)[holiday]
    return z


def _one_step(z: np.ndarray, period: int) -> np.ndarray:
    """In-sample one-step forecasts of additive weekly exponential smoothing (no trend)."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    with _quiet():
        fitted = ExponentialSmoothing(z, seasonal="add", seasonal_periods=period,
                                      initialization_method="estimated").fit(use_brute=False)
    return np.maximum(np.asarray(fitted.fittedvalues, dtype=float), 0.0)


def calendar_forecast(
    model: SeriesModel, y: np.ndarray, first_day: np.datetime64, calendar: OpenCalendar, horizon: int,
) -> np.ndarray | None:
    """`horizon` calendar-day forecasts after history y (which starts on first_day): the model runs on
    the open-days series, its steps land on open weekdays, closed days get exactly 0."""
    days = day_range(first_day, len(y))
    # seasonal-naive runs on 52 reference origins per series (backtest.py): it keeps the cheap fill
    z = open_days_series(y, days, calendar, refine=model is not seasonal_naive)
    future = day_range(days[-1] + 1, horizon) if len(days) else day_range(first_day, horizon)
    steps_mask = calendar.weekday_open(future)
    steps = int(steps_mask.sum())
    out = np.zeros(horizon)
    if steps == 0:
        return out
    fc = model(z, steps, calendar.period)
    if fc is None:
        return None
    out[steps_mask] = fc
    out[~calendar.is_open(future)] = 0.0
    return out
