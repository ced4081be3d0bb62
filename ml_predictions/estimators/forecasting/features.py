"""Direct multi-step features: one row per (series, origin, horizon), using only days before the origin.

Every value feature is divided by the series' level just before the origin, so one global model
learns shapes rather than sizes (see forecaster.py's module notes for the reasons).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ml_predictions.estimators.forecasting.series import _LEVEL_WINDOW, _ROLL_WINDOW


@dataclass(frozen=True)
class _FeatureSpec:
    lags: tuple[int, ...]
    holidays: frozenset  # of numpy datetime64[D]

    @property
    def use_yearly(self) -> bool:
        return 364 in self.lags

    def min_origin(self, h: np.ndarray) -> np.ndarray:
        """Earliest origin whose features exist for horizon h (rolling window; the yearly lag)."""
        base = np.full(np.shape(h), max(_ROLL_WINDOW, _LEVEL_WINDOW))
        if self.use_yearly:
            base = np.maximum(base, 364 * np.ceil(h / 364).astype(int) - h + 1)
        return base

    def names(self) -> list[str]:
        return (
            [f"lag_{lag}" for lag in self.lags]
            + ["mean_7", "mean_28", "std_7", "std_28", "same_weekday_mean_4"]
            + (["yoy_ratio", "yoy_growth", "yoy_known"] if self.use_yearly else [])
            + ["zero_share_28", "horizon"]
            + [f"dow_{i}" for i in range(7)]
            + [f"month_{i}" for i in range(1, 13)]
            + ["doy_sin", "doy_cos", "month_start", "month_end", "holiday", "trend", "log_scale", "log_level"]
        )


class _Cumulative:
    """Prefix sums of a (scaled) series matrix, so window means/deviations cost O(1) per row."""

    def __init__(self, ys: np.ndarray):
        pad = np.zeros((ys.shape[0], 1))
        self.ys = ys
        self.s1 = np.hstack([pad, np.cumsum(ys, 1)])
        self.s2 = np.hstack([pad, np.cumsum(ys ** 2, 1)])
        self.s0 = np.hstack([pad, np.cumsum(ys == 0, 1)])

    def window(self, rows: np.ndarray, end: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(mean, std, zero share) of columns end-width .. end-1."""
        total = self.s1[rows, end] - self.s1[rows, end - width]
        squares = self.s2[rows, end] - self.s2[rows, end - width]
        zeros = self.s0[rows, end] - self.s0[rows, end - width]
        mean = total / width
        std = np.sqrt(np.maximum(squares / width - mean ** 2, 0.0))
        return mean, std, zeros / width


def _direct_features(
    cum: _Cumulative, rows: np.ndarray, origins: np.ndarray, horizons: np.ndarray, first_day: np.datetime64,
    log_scale: np.ndarray, spec: _FeatureSpec,
) -> tuple[np.ndarray, np.ndarray]:
    """(X, level): features of target day t = origin + horizon - 1 for series `rows`, using only
    columns < origin, with every value feature divided by `level` (the series' mean over the
    _LEVEL_WINDOW days before the origin; 1 = its long-run mean when that window has no sales).
    The model's target is y[t] / level, its prediction is multiplied back.

    Lag k means the most recent known value in the same phase: y[t - k*ceil(h/k)] (just y[t - k] when
    k >= h); lag 1 is therefore the last observed day. Window statistics end at the origin.
    """
    ys = cum.ys
    n = len(rows)
    target = origins + horizons - 1
    level, _, _ = cum.window(rows, origins, _LEVEL_WINDOW)
    level = np.where(level > 1e-9, level, 1.0)
    cols: list[np.ndarray] = []
    for lag in spec.lags:
        back = lag * np.ceil(horizons / lag).astype(int)
        cols.append(ys[rows, target - back])
    mean7, std7, _ = cum.window(rows, origins, 7)
    mean28, std28, zero28 = cum.window(rows, origins, 28)
    week_back = 7 * np.ceil(horizons / 7).astype(int)
    same_weekday = np.zeros(n)
    for j in range(4):
        same_weekday += ys[rows, np.maximum(target - week_back - 7 * j, 0)]
    cols += [mean7, mean28, std7, std28, same_weekday / 4.0]
    cols = [c / level for c in cols]
    if spec.use_yearly:
        cols += list(_year_over_year(cum, rows, origins, horizons, level))
    cols += [zero28, horizons.astype(float)]
    days = first_day + target.astype("timedelta64[D]")
    dow = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday (Monday = 0)
    months = days.astype("datetime64[M]")
    month = (months.astype(np.int64) % 12) + 1
    doy = (days - days.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.int64)
    calendar = np.zeros((n, 19))
    calendar[np.arange(n), dow] = 1.0
    calendar[np.arange(n), 6 + month] = 1.0
    if spec.holidays:
        holiday = np.isin(days, np.array(sorted(spec.holidays), dtype="datetime64[D]")).astype(float)
    else:
        holiday = np.zeros(n)
    rest = np.column_stack(
        [
            np.sin(2 * np.pi * doy / 365.25),
            np.cos(2 * np.pi * doy / 365.25),
            (days == months.astype("datetime64[D]")).astype(float),
            ((days + 1).astype("datetime64[M]") != months).astype(float),
            holiday,
            target / 365.0,
            log_scale[rows],
            np.log(level),
        ]
    )
    return np.column_stack([np.column_stack(cols), calendar, rest]).astype(np.float32), level


def _year_over_year(
    cum: _Cumulative, rows: np.ndarray, origins: np.ndarray, horizons: np.ndarray, level: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(yoy_ratio, yoy_growth, yoy_known): what the same origin -> target step did a year earlier.

    The target is y[t] / level(origin); a year earlier the same pair gave (7-day mean around t-364) /
    (level at origin-364). That ratio carries the seasonal rise or fall between origin and target
    (a December peak, an autumn surge) that a 56-day level alone cannot see, and `yoy_growth` =
    level(origin) / level(origin-364) carries the year-over-year trend. Only columns before the
    origin are read (the 7-day window ends at t-364+3 < origin because back >= h + 3). Where the
    history is too short the features are neutral (1.0) and `yoy_known` is 0.
    """
    back = 364 * np.ceil((horizons + 3) / 364).astype(int)
    centre = origins + horizons - 1 - back
    known = (centre - 3 >= 0) & (origins - back - _LEVEL_WINDOW >= 0)
    end_then = np.where(known, origins - back, _LEVEL_WINDOW)
    centre = np.where(known, centre, 3)
    then_level, _, _ = cum.window(rows, end_then, _LEVEL_WINDOW)
    around, _, _ = cum.window(rows, centre + 4, 7)
    known &= then_level > 1e-9
    safe = np.where(known, then_level, 1.0)
    ratio = np.where(known, np.clip(around / safe, 0.0, 20.0), 1.0)
    growth = np.where(known, np.clip(level / safe, 0.05, 20.0), 1.0)
    return ratio, growth, known.astype(float)

