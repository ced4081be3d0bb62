"""Daily sales forecasting: total, category and product level, backtested, with empirical intervals.

Pure pandas / numpy / scikit-learn (no Django). Decisions, and why:

- **Series.** Order lines become daily revenue and unit series per key (the whole shop, a category,
  a product); a day without orders is a real zero, so missing days are filled with 0. Days are UTC.
- **One global model per level and target.** Every series of a level (2,000 products, say) is
  divided by its own scale (mean of its last year of training history), and every training row by
  the series' level just before its forecast origin (56-day mean). One regressor learns from all
  series, so a level costs one fit, sparse products borrow strength from busy ones, and trees follow
  a trend they never saw in absolute terms.
- **Multi-step strategy: direct, one model with the horizon as a feature.** A training row is a
  (series, origin, horizon) triple; its features use only days before the origin (lags 1/7/14/28/364
  taken in phase: the most recent known value on the same weekday / day of year; rolling means and
  deviations; zero share; same-weekday mean) plus calendar facts of the target day (weekday, month,
  day of year, month start/end, optional holidays), the trend index and the horizon. All horizons
  1..max_horizon are one model call; no prediction is fed back as an input, so errors do not compound
  (a recursive version was tried first: it was worse on noisy series and 10x slower). Forecasts are
  clipped at 0: sales never go negative.
- **Year over year.** With a year of history, each row also gets what the same origin -> target
  step did a year earlier (yoy_ratio) and the level's year-over-year growth: the seasonal rise or
  fall between origin and target that a 56-day level cannot see (a December peak, an autumn surge).
- **Intervals are empirical (conformal).** The model is refitted at up to four earlier cut-offs a
  quarter apart and run from 8 weekly rolling origins after each, so the errors sample every season
  (one block of origins saw a calm summer only and under-covered the autumn surge that followed);
  the scaled errors per horizon step (neighbouring steps pooled until 60 errors) give the band's
  quantiles. Coverage is then checked on the held-out test window, which those quantiles never saw,
  and reported. Beyond the backtested steps the band grows with sqrt(step).
- **Stack per horizon bucket.** On those calibration backtests (never the test window), each bucket
  of steps (1-7, 8-30, 31-90, 91+) gets the weights of model / seasonal-naive / seasonal-ratio (last
  year's shape on this year's level) that err least; the model alone wins ties.
- **Baseline.** Weekly seasonal-naive (repeat the last week). MASE divides the test MAE by the
  in-sample MAE of that baseline; relative_mae divides it by the baseline's MAE on the same test
  window. `auto` keeps the candidate (including the baseline itself) with the lowest MASE on a
  validation window just before the test window.
- **Intermittent products** (average interval between demands > 1.32 days, Syntetos-Boylan) get an
  SBA (bias-corrected Croston) rate instead of the global model when SBA has the lower MAE on the
  calibration window (never decided on the test window).
- **Forecasts are computed once, at fit time,** for `max_horizon` days after the last day with data,
  and stored; answering a request is a slice, so the API stays far below its latency budget.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import TimeSeriesSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from ml_predictions.errors import InsufficientDataError, InvalidParameterError, NotFittedError, NotFoundError
from ml_predictions.estimators.forecasting.stored import StoredForecastMixin, _offset

LAGS: tuple[int, ...] = (1, 7, 14, 28, 364)
MODEL_TYPES: tuple[str, ...] = ("random_forest", "gradient_boosting", "linear")
AUTO_CANDIDATES: tuple[str, ...] = (*MODEL_TYPES, "seasonal_naive")
LEVELS: tuple[str, ...] = ("total", "category", "product")
TOTAL_KEY = "total"
UNCATEGORIZED = "uncategorized"
# Below this many days a level cannot be backtested honestly (lags + training rows + two windows).
MIN_HISTORY_DAYS = 120
_MIN_TRAIN_ROWS = 21
_ROLL_WINDOW = 28
# Every row is divided by the series' mean over the LEVEL_WINDOW days before its origin, so the
# model learns shapes relative to the current level and trees can follow a trend they never saw.
_LEVEL_WINDOW = 56
_SBA_ALPHA = 0.1
# Calibration blocks are a quarter apart (13 weeks); a block's refit needs this many days before it.
_BLOCK_SPACING = 91
_MIN_CALIBRATION_CUT = 2 * _LEVEL_WINDOW + _MIN_TRAIN_ROWS
_INTERMITTENT_ADI = 1.32


def _check_fitted(obj: Any, attr: str) -> None:
    if not hasattr(obj, attr):
        raise NotFittedError(f"{obj.__class__.__name__} is not fitted yet; call fit() first.")


def insufficient_history(needed: int, available: int, what: str = "sales history") -> InsufficientDataError:
    return InsufficientDataError(
        f"Forecasting needs at least {needed} days of {what}; there are {available}.",
        details={"days_needed": int(needed), "days_available": int(available)},
    )


# --- daily series ------------------------------------------------------------------------------

def daily_series(
    order_lines: pd.DataFrame,
    *,
    level: str = "total",
    product_categories: pd.Series | None = None,
    start: Any = None,
    end: Any = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(revenue, units) as wide frames: one row per UTC day (gaps filled with 0), one column per key.

    `product_categories` maps product id -> category name (category level only); products without
    a category are grouped as 'uncategorized'.
    """
    if level not in LEVELS:
        raise InvalidParameterError(f"level must be one of {list(LEVELS)}; got {level!r}.", field="level")
    lines = order_lines
    day = pd.to_datetime(lines["ordered_at"], utc=True).dt.tz_convert(None).dt.normalize()
    if level == "total":
        key = pd.Series(TOTAL_KEY, index=lines.index)
    elif level == "product":
        key = lines["product_id"].astype(str)
    else:
        cats = product_categories if product_categories is not None else pd.Series(dtype=object)
        key = lines["product_id"].astype(str).map(cats).fillna(UNCATEGORIZED).replace("", UNCATEGORIZED)
    frame = pd.DataFrame(
        {
            "day": day,
            "key": key.to_numpy(),
            "revenue": lines["quantity"].to_numpy(dtype=float) * lines["unit_price"].to_numpy(dtype=float),
            "units": lines["quantity"].to_numpy(dtype=float),
        }
    )
    grouped = frame.groupby(["day", "key"], sort=True)[["revenue", "units"]].sum()
    first = pd.Timestamp(start).normalize() if start is not None else (frame["day"].min() if len(frame) else None)
    last = pd.Timestamp(end).normalize() if end is not None else (frame["day"].max() if len(frame) else None)
    if first is None or last is None or last < first:
        empty = pd.DataFrame(index=pd.DatetimeIndex([], name="date"), dtype=float)
        return empty, empty.copy()
    index = pd.date_range(first, last, freq="D", name="date")
    revenue = grouped["revenue"].unstack("key", fill_value=0.0).reindex(index, fill_value=0.0)
    units = grouped["units"].unstack("key", fill_value=0.0).reindex(index, fill_value=0.0)
    revenue.columns = revenue.columns.astype(str)
    units.columns = units.columns.astype(str)
    return revenue.astype(float), units.astype(float)


# --- features ----------------------------------------------------------------------------------

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


class SeriesForecaster(StoredForecastMixin, BaseEstimator):
    """Backtest, calibrate and forecast every series of one level and one target with one model.

    fit(Y) takes a wide frame (days x series). Learned: `model_type_` (the one kept, after `auto`),
    `metrics_`, `forecast_`, `lower_`, `upper_` (series x max_horizon arrays), `forecast_start_`,
    `series_`, `last_date_`, `scale_`.
    """

    def __init__(
        self,
        model_type: str = "random_forest",
        *,
        lags: tuple[int, ...] = LAGS,
        holidays: tuple = (),
        test_days: int = 30,
        calibration_origins: int = 8,
        calibration_blocks: int = 4,
        interval_level: float = 0.95,
        max_horizon: int = 365,
        max_train_rows: int = 5_000,
        max_calibration_series: int = 400,
        intermittent: bool = False,
        stack: bool = True,
        min_history_days: int = MIN_HISTORY_DAYS,
        random_state: int | None = 42,
    ):
        self.model_type = model_type
        self.lags = lags
        self.holidays = holidays
        self.test_days = test_days
        self.calibration_origins = calibration_origins
        self.calibration_blocks = calibration_blocks
        self.interval_level = interval_level
        self.max_horizon = max_horizon
        self.max_train_rows = max_train_rows
        self.max_calibration_series = max_calibration_series
        self.intermittent = intermittent
        self.stack = stack
        self.min_history_days = min_history_days
        self.random_state = random_state

    # -- plumbing ---------------------------------------------------------------------------
    def _validate(self) -> None:
        if self.model_type not in (*MODEL_TYPES, "seasonal_naive", "auto"):
            make_regressor(self.model_type)  # raises the named error
        if not 0.5 <= float(self.interval_level) < 1:
            raise InvalidParameterError("interval_level must be in [0.5, 1).", field="interval_level")
        if not 1 <= int(self.max_horizon) <= 3650:
            raise InvalidParameterError("max_horizon must be between 1 and 3650.", field="max_horizon")

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
                X, target = self._training_rows(cum, cut, spec, log_scale, np.random.default_rng(self.random_state),
                                                first_day)
                model.fit(X, target)
                n = values.shape[0]
                pred = self._direct_predict(model, cum, np.arange(n), np.full(n, cut), horizon, spec, log_scale,
                                            first_day)
                out.append(pred * scale[:, None])
            return out

    # -- fit ---------------------------------------------------------------------------------
    def fit(self, Y: pd.DataFrame, y: Any = None) -> SeriesForecaster:
        # gradient boosting's OpenMP threads spin-wait badly on a busy 2-core box (measured 60x
        # slower); one thread is fast enough for these row counts
        with threadpool_limits(limits=1, user_api="openmp"):
            return self._fit(Y)

    def _fit(self, Y: pd.DataFrame) -> SeriesForecaster:
        self._validate()
        if not isinstance(Y.index, pd.DatetimeIndex):
            raise InvalidParameterError("Y must be indexed by day (DatetimeIndex).")
        T = len(Y)
        if T < self.min_history_days:
            raise insufficient_history(self.min_history_days, T)
        if Y.shape[1] == 0:
            raise InvalidParameterError("Y has no series to forecast.")
        rng = np.random.default_rng(self.random_state)
        values = np.nan_to_num(Y.to_numpy(dtype=float).T, nan=0.0)
        values = np.maximum(values, 0.0)
        first_day = np.datetime64(Y.index[0].date(), "D")

        test = int(min(self.test_days, max(7, T // 6)))
        horizon_cal = test
        room = T - test - horizon_cal - (_ROLL_WINDOW + _MIN_TRAIN_ROWS)
        k_origins = int(max(1, min(self.calibration_origins, room // 7 + 1)))
        cal_cut = T - test - horizon_cal - 7 * (k_origins - 1)
        if cal_cut < _ROLL_WINDOW + _MIN_TRAIN_ROWS:
            raise insufficient_history(T + _ROLL_WINDOW + _MIN_TRAIN_ROWS - cal_cut, T)
        lags = tuple(lag for lag in self.lags if lag <= 28 or cal_cut - lag >= 2 * _MIN_TRAIN_ROWS)
        if 7 not in lags:
            lags = (*lags, 7)
        spec = _FeatureSpec(lags=lags, holidays=frozenset(np.datetime64(str(d)[:10], "D") for d in self.holidays))

        def scales(cut: int) -> np.ndarray:
            window = values[:, max(0, cut - 364):cut]
            s = window.mean(1)
            return np.where(s > 0, s, 1.0)

        def fit_predict(model_type: str, cut: int, origins_per_row: np.ndarray, rows: np.ndarray, horizon: int):
            scale = scales(cut)
            cum = _Cumulative(values / scale[:, None])
            log_scale = np.log1p(scale)
            model = self._regressor(model_type, spec)
            # a fresh, equally seeded sampler per fit: `auto` sees the very rows a single model would
            X, target = self._training_rows(cum, cut, spec, log_scale, np.random.default_rng(self.random_state),
                                            first_day)
            model.fit(X, target)
            scaled = self._direct_predict(model, cum, rows, origins_per_row, horizon, spec, log_scale, first_day)
            return scaled * scale[rows][:, None], model, (X, target)

        n = values.shape[0]
        all_rows = np.arange(n)
        test_origin = T - test
        naive_scale_test = _insample_naive_mae(values[:, :test_origin])
        actual_test = values[:, test_origin:]
        baseline_pred = _seasonal_naive_path(values[:, :test_origin], test)
        baseline = _metrics(actual_test, baseline_pred, naive_scale_test)

        # 1. choose the model. auto: lowest MASE on the validation window just BEFORE the test
        #    window, so the test figures of the kept model are not flattered by the choice.
        candidates: dict[str, dict[str, float]] = {}
        if self.model_type == "auto":
            val_origin = test_origin - test
            val_actual = values[:, val_origin:test_origin]
            val_scale = _insample_naive_mae(values[:, :val_origin])
            for name in AUTO_CANDIDATES:
                if name == "seasonal_naive":
                    pred = _seasonal_naive_path(values[:, :val_origin], test)
                else:
                    pred, _, _ = fit_predict(name, val_origin, np.full(n, val_origin), all_rows, test)
                candidates[name] = _metrics(val_actual, pred, val_scale)
            # MASE is undefined when the history has no week-to-week change at all; MAE breaks the tie
            chosen = min(candidates, key=lambda k: (np.nan_to_num(candidates[k]["mase"], nan=np.inf),
                                                    candidates[k]["mae"], k))
        else:
            chosen = self.model_type
        if chosen == "seasonal_naive":
            pred_test = baseline_pred
        else:
            pred_test, _, _ = fit_predict(chosen, test_origin, np.full(n, test_origin), all_rows, test)

        # 2. calibration: refit before the test window, forecast from rolling origins
        cal_series = all_rows if n <= self.max_calibration_series else np.sort(
            rng.choice(n, self.max_calibration_series, replace=False))
        #    in up to `calibration_blocks` blocks a quarter apart, each with its own refit that sees
        #    only the days before its block: one block of 8 weekly origins sees a single season (a
        #    calm summer says nothing about an autumn surge); four blocks sample the whole year.
        cuts = [cal_cut - _BLOCK_SPACING * b for b in range(max(1, int(self.calibration_blocks)))]
        # an earlier block needs the same room before its cut as the lag selection gave cal_cut
        cuts = [c for c in cuts if c >= _MIN_CALIBRATION_CUT and c - max(spec.lags) >= 2 * _MIN_TRAIN_ROWS]
        cuts = cuts or [cal_cut]
        steps = np.arange(horizon_cal)
        block_rows, block_origins, block_pred, block_scale = [], [], [], []
        for cut in cuts:
            b_origins = cut + 7 * np.arange(k_origins)
            b_rows = np.repeat(cal_series, k_origins)
            b_row_origins = np.tile(b_origins, len(cal_series))
            if chosen == "seasonal_naive":
                pred = values[b_rows[:, None], b_row_origins[:, None] - 7 + steps % 7]
            else:
                pred, _, _ = fit_predict(chosen, cut, b_row_origins, b_rows, horizon_cal)
            block_rows.append(b_rows)
            block_origins.append(b_row_origins)
            block_pred.append(pred)
            block_scale.append(scales(cut)[b_rows])
        rows = np.concatenate(block_rows)
        row_origins = np.concatenate(block_origins)
        cal_pred = np.vstack(block_pred)
        cal_actual = values[rows[:, None], row_origins[:, None] + steps]
        cal_scale = np.concatenate(block_scale)
        origins = np.unique(row_origins)

        # per horizon bucket, a stack of the model, seasonal-naive and last year's shape on this
        # year's level (seasonal-ratio), weights chosen on the calibration backtests (never on the
        # test window): the model alone where it wins there, a mix where mixing errs least
        if chosen == "seasonal_naive" or not self.stack:
            self.stack_weights_ = np.tile([1.0, 0.0, 0.0], (int(self.max_horizon), 1))
        else:
            naive_cal = values[rows[:, None], row_origins[:, None] - 7 + steps % 7]
            ratio_cal = _seasonal_ratio_path(values, rows, row_origins, horizon_cal)
            self.stack_weights_ = _stack_weights([cal_pred, naive_cal, ratio_cal], cal_actual, cal_scale,
                                                 int(self.max_horizon))
            cal_pred = _apply_stack(self.stack_weights_[:horizon_cal], cal_pred, naive_cal, ratio_cal)
            ratio_test = _seasonal_ratio_path(values, all_rows, np.full(n, test_origin), test)
            pred_test = _apply_stack(self.stack_weights_[:test], pred_test, baseline_pred, ratio_test)

        # intermittent treatment: SBA where it beat the model on the calibration window
        self.intermittent_series_ = np.zeros(n, dtype=bool)
        sba_wins = False
        adi = _adi(values[:, :test_origin])
        if self.intermittent:
            is_int = adi > _INTERMITTENT_ADI
            if is_int.any():
                rates = np.vstack([_sba_rate(values[:, :o]) for o in origins])  # origins x series
                origin_idx = np.searchsorted(origins, row_origins)
                sba_cal = np.repeat(rates[origin_idx, rows][:, None], horizon_cal, 1)
                mask_rows = is_int[rows]
                if mask_rows.any():
                    err_model = np.abs(cal_pred[mask_rows] - cal_actual[mask_rows]).mean()
                    err_sba = np.abs(sba_cal[mask_rows] - cal_actual[mask_rows]).mean()
                    sba_wins = bool(err_sba < err_model)
                if sba_wins:
                    self.intermittent_series_ = is_int
                    cal_pred = np.where(mask_rows[:, None], sba_cal, cal_pred)
                    sba_test = _sba_rate(values[:, :test_origin])
                    pred_test = np.where(is_int[:, None], sba_test[:, None], pred_test)

        alpha = 1 - float(self.interval_level)
        cal_resid = (cal_actual - cal_pred) / cal_scale[:, None]
        q_lo_cal, q_hi_cal = self._quantiles(cal_resid, alpha)
        test_scale = scales(test_origin)
        lo_test = np.maximum(pred_test + q_lo_cal[:test][None, :] * test_scale[:, None], 0.0)
        hi_test = np.maximum(pred_test + q_hi_cal[:test][None, :] * test_scale[:, None], 0.0)
        inside = (actual_test >= lo_test - 1e-9) & (actual_test <= hi_test + 1e-9)
        chosen_metrics = _metrics(actual_test, pred_test, naive_scale_test)

        # 3. final model on all data; intervals from calibration + test residuals
        test_resid = (actual_test - pred_test) / test_scale[:, None]
        self.q_lower_, self.q_upper_ = self._quantiles(np.vstack([cal_resid, test_resid[cal_series]]), alpha)
        final_scale = scales(T)
        if chosen == "seasonal_naive":
            forecast = _seasonal_naive_path(values, self.max_horizon)
            train_r2 = cv_r2 = float("nan")
        else:
            forecast, final_model, (X, target) = fit_predict(chosen, T, np.full(n, T), all_rows, self.max_horizon)
            train_r2 = float(r2_score(target, final_model.predict(X))) if len(target) > 1 else float("nan")
            cv_r2 = self._cv_r2(chosen, spec, X, target)
        if chosen != "seasonal_naive":
            max_h = int(self.max_horizon)
            forecast = _apply_stack(self.stack_weights_, forecast, _seasonal_naive_path(values, max_h),
                                    _seasonal_ratio_path(values, all_rows, np.full(n, T), max_h))
        if self.intermittent_series_.any():
            rate = _sba_rate(values)
            forecast = np.where(self.intermittent_series_[:, None], rate[:, None], forecast)
        self.forecast_ = forecast.astype(np.float32)
        self.lower_ = np.maximum(forecast + self.q_lower_[None, :] * final_scale[:, None], 0.0).astype(np.float32)
        self.upper_ = np.maximum(forecast + self.q_upper_[None, :] * final_scale[:, None], 0.0).astype(np.float32)
        self.series_ = [str(c) for c in Y.columns]
        self.series_index_ = {key: i for i, key in enumerate(self.series_)}
        self.scale_ = final_scale
        self.last_date_ = Y.index[-1].date()
        self.first_date_ = Y.index[0].date()
        self.forecast_start_ = (Y.index[-1] + pd.Timedelta(days=1)).date()
        self.model_type_ = chosen
        self.lags_ = spec.lags
        self.history_ = Y.iloc[-min(T, 400):].astype(np.float32)
        self.metrics_ = {
            "model": chosen,
            "test_days": test,
            "test_r2": _clean(chosen_metrics["r2"]),
            "test_rmse": _clean(chosen_metrics["rmse"]),
            "test_mae": _clean(chosen_metrics["mae"]),
            "train_r2": _clean(train_r2),
            "cv_r2_mean": _clean(cv_r2),
            "smape": _clean(chosen_metrics["smape"]),
            "mase": _clean(chosen_metrics["mase"]),
            # test MAE / the seasonal-naive forecast's test MAE on the same holdout (< 1 = beats it)
            "relative_mae": _clean(chosen_metrics["mae"] / baseline["mae"] if baseline["mae"] > 0 else float("nan")),
            "interval_level": float(self.interval_level),
            "interval_coverage": _clean(float(inside.mean())),
            "interval_coverage_by_week": [_clean(float(inside[:, w:w + 7].mean())) for w in range(0, test, 7)],
            "baseline": {
                "model": "seasonal_naive_weekly",
                "test_mae": _clean(baseline["mae"]),
                "test_rmse": _clean(baseline["rmse"]),
                "test_r2": _clean(baseline["r2"]),
                "smape": _clean(baseline["smape"]),
                "mase": _clean(baseline["mase"]),
            },
            "beats_baseline": bool(np.nan_to_num(chosen_metrics["mase"], nan=np.inf)
                                   < np.nan_to_num(baseline["mase"], nan=np.inf)),
            "n_series": n,
            "history_days": T,
            "lags": list(spec.lags),
            "calibration_origins": int(len(origins)),
            "calibration_refits": len(cuts),
            # weights of model / seasonal-naive / seasonal-ratio per horizon bucket (model alone = 1, 0, 0)
            "stack_weights": {
                label: [_clean(float(v)) for v in self.stack_weights_[start]]
                for label, start in zip(("1-7", "8-30", "31-90", "91+"), HORIZON_BUCKETS, strict=True)
                if start < int(self.max_horizon)
            },
        }
        if self.model_type == "auto":
            # validation-window MASE of every candidate (the window just before the test window)
            self.metrics_["candidates"] = {k: _clean(v["mase"]) for k, v in candidates.items()}
        if self.intermittent:
            self.metrics_["intermittent_series"] = int((adi > _INTERMITTENT_ADI).sum())
            self.metrics_["intermittent_method"] = "sba" if sba_wins else chosen
        return self

    def _quantiles(self, resid: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
        """Per-step (1..max_horizon) lower/upper quantiles of scaled backtest errors.

        Step h pools the errors of steps h-w..h+w, w growing until at least 60 errors are pooled,
        so a single series with a few origins still gets a stable band. Beyond the backtested steps
        the last band grows with sqrt(step / backtested steps)."""
        steps = resid.shape[1]
        lo_s, hi_s = np.empty(steps), np.empty(steps)
        for h in range(steps):
            w = 0
            while True:
                vals = resid[:, max(0, h - w):h + w + 1].ravel()
                vals = vals[np.isfinite(vals)]
                if vals.size >= 60 or w >= steps:
                    break
                w += 1
            lo_s[h] = np.quantile(vals, alpha / 2) if vals.size else 0.0
            hi_s[h] = np.quantile(vals, 1 - alpha / 2) if vals.size else 0.0
        max_h = int(self.max_horizon)
        h = np.arange(1, max_h + 1)
        grow = np.sqrt(np.maximum(h / steps, 1.0))
        idx = np.minimum(h, steps) - 1
        return lo_s[idx] * grow, hi_s[idx] * grow

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


def _close_days(model: Any, calendar: Any) -> None:
    """Exact zeros (forecast and band) on the days the shop is closed, whatever model made them."""
    if not calendar.closed_weekdays and not calendar.closed_dates:
        return
    days = np.datetime64(model.forecast_start_, "D") + np.arange(model.forecast_.shape[1]).astype("timedelta64[D]")
    shut = ~calendar.is_open(days)
    if shut.any():
        for attr in ("forecast_", "lower_", "upper_"):
            getattr(model, attr)[:, shut] = 0.0


class SalesForecaster(BaseEstimator):
    """Revenue and unit forecasts at the requested levels from one set of order lines.

    Total and category levels get their own revenue and unit models. The product level models units
    only (one global model for every product, SBA for intermittent ones when that backtests better)
    and derives revenue as units x the product's average selling price, so the two always agree.
    """

    def __init__(
        self,
        model_type: str = "random_forest",
        *,
        levels: tuple[str, ...] = LEVELS,
        holidays: tuple = (),
        test_days: int = 30,
        interval_level: float = 0.95,
        max_horizon: int = 365,
        max_train_rows: int = 5_000,
        product_train_rows: int = 40_000,
        min_history_days: int = MIN_HISTORY_DAYS,
        random_state: int | None = 42,
    ):
        self.model_type = model_type
        self.levels = levels
        self.product_train_rows = product_train_rows
        self.holidays = holidays
        self.test_days = test_days
        self.interval_level = interval_level
        self.max_horizon = max_horizon
        self.max_train_rows = max_train_rows
        self.min_history_days = min_history_days
        self.random_state = random_state

    def _series_forecaster(self, **extra: Any) -> SeriesForecaster:
        return SeriesForecaster(
            self.model_type, holidays=tuple(self.holidays), test_days=self.test_days,
            interval_level=self.interval_level, max_horizon=self.max_horizon,
            max_train_rows=extra.pop("max_train_rows", self.max_train_rows), min_history_days=self.min_history_days, random_state=self.random_state, **extra,
        )

    def _level_forecaster(self, target: str) -> Any:
        """Total and category series under `auto`: the rolling-origin selection among statistical,
        global and combined candidates. Units follow revenue's shape closely, so they are chosen among
        the statistical candidates only, which keeps total-level training inside its time budget."""
        if self.model_type != "auto":
            return self._series_forecaster()
        from ml_predictions.estimators.forecasting.selection import (
            AUTO_STATISTICAL,
            COMBINATIONS,
            AutoSeriesForecaster,
        )

        candidates = (*AUTO_STATISTICAL, "random_forest", *COMBINATIONS) if target == "revenue" else (
            *AUTO_STATISTICAL, *COMBINATIONS)
        return AutoSeriesForecaster(
            candidates, calendar=self.calendar_, holidays=tuple(self.holidays), horizon=int(self.test_days),
            interval_level=self.interval_level, max_horizon=int(self.max_horizon),
            max_train_rows=int(self.max_train_rows), min_history_days=int(self.min_history_days),
            random_state=self.random_state,
        )

    def fit(
        self, order_lines: pd.DataFrame, products: pd.DataFrame | None = None, *, end: Any = None,
        progress: Any = None,
    ) -> SalesForecaster:
        """`end` extends the history with zero days up to that date (default: the last day with data)."""
        levels = tuple(self.levels)
        bad = [lvl for lvl in levels if lvl not in LEVELS]
        if bad or not levels:
            raise InvalidParameterError(f"levels must be a non-empty subset of {list(LEVELS)}; got {list(levels)}.",
                                field="level")
        if self.model_type not in (*MODEL_TYPES, "auto"):
            make_regressor(self.model_type)
        if order_lines is None or len(order_lines) == 0:
            raise insufficient_history(self.min_history_days, 0)
        report = progress or (lambda *_: None)
        categories = None
        if products is not None and len(products):
            categories = pd.Series(products["category"].to_numpy(), index=products["id"].astype(str).to_numpy())
        self.levels_: dict[str, dict[str, SeriesForecaster]] = {}
        self.price_: dict[str, float] = {}
        step = 0
        total_revenue, _ = daily_series(order_lines, level="total", end=end)
        from ml_predictions.estimators.forecasting.calendar import detect_calendar

        self.calendar_ = detect_calendar(total_revenue.to_numpy(dtype=float).sum(1),
                                         np.datetime64(total_revenue.index[0].date(), "D"), tuple(self.holidays))
        for level in levels:
            revenue, units = daily_series(order_lines, level=level, product_categories=categories, end=end)
            if level == "product":
                report(20 + 60 * step // len(levels), f"Fitting the product-level model ({units.shape[1]} products)")
                fitted_units = self._series_forecaster(
                    intermittent=True, max_train_rows=self.product_train_rows).fit(units)
                recent = slice(max(0, len(units) - 90), None)
                rev_recent, units_recent = revenue.iloc[recent].sum(), units.iloc[recent].sum()
                rev_all, units_all = revenue.sum(), units.sum()
                price = (rev_recent / units_recent.replace(0, np.nan)).fillna(rev_all / units_all.replace(0, np.nan))
                self.price_ = {str(k): float(v) for k, v in price.fillna(0.0).items()}
                self.levels_[level] = {"units": fitted_units}
                _close_days(fitted_units, self.calendar_)
            else:
                report(20 + 60 * step // len(levels), f"Fitting the {level}-level models")
                self.levels_[level] = {
                    "revenue": self._level_forecaster("revenue").fit(revenue),
                    "units": self._level_forecaster("units").fit(units),
                }
            for model in self.levels_[level].values():
                _close_days(model, self.calendar_)
            step += 1
        first = next(iter(self.levels_.values()))["units"]
        self.last_date_ = first.last_date_
        self.first_date_ = first.first_date_
        self.forecast_start_ = first.forecast_start_
        return self

    @property
    def metrics_(self) -> dict[str, Any]:
        """The spec's top-level keys come from the first fitted level's revenue (or units) model."""
        _check_fitted(self, "levels_")
        per_level: dict[str, Any] = {}
        for level, models in self.levels_.items():
            per_level[level] = {target: model.metrics_ for target, model in models.items()}
        first_level = next(iter(self.levels_))
        head_models = self.levels_[first_level]
        head = (head_models.get("revenue") or head_models["units"]).metrics_
        keys = ("model", "test_r2", "test_rmse", "train_r2", "cv_r2_mean", "test_mae", "smape", "mase",
                "relative_mae", "interval_level", "interval_coverage", "baseline", "beats_baseline", "test_days")
        out = {k: head.get(k) for k in keys}
        out["primary"] = f"{first_level}/{'revenue' if 'revenue' in head_models else 'units'}"
        if "candidates" in head:
            out["candidates"] = head["candidates"]
        for key in ("summary", "selection", "backtest", "beats_baseline_by", "interval_coverage_by_window", "calendar",
                    "chosen_by_series"):
            if key in head:
                out[key] = head[key]
        out["levels"] = per_level
        return out

    def ids(self, level: str) -> list[str]:
        _check_fitted(self, "levels_")
        if level not in self.levels_:
            raise InvalidParameterError(f"level {level!r} was not trained; trained levels: {list(self.levels_)}.",
                                field="level")
        return list(self.levels_[level]["units"].series_)

    def predict(
        self, days_ahead: int, *, level: str = "total", id: str | None = None, start_date: Any = None
    ) -> pd.DataFrame:
        """Rows date, predicted_sales, predicted_quantity, confidence_lower, confidence_upper
        (the band is for predicted_sales, as in the spec)."""
        _check_fitted(self, "levels_")
        if level not in self.levels_:
            raise InvalidParameterError(f"level {level!r} was not trained; trained levels: {list(self.levels_)}.",
                                field="level")
        models = self.levels_[level]
        if level == "total":
            key = TOTAL_KEY
        else:
            if not id:
                raise InvalidParameterError(f"id is required for level {level!r}.", field="id")
            key = str(id)
            if key not in models["units"].series_index_:
                raise NotFoundError(f"unknown {level} id {key!r}; the model has {len(models['units'].series_)} "
                                         f"{level} series.", field="id")
        units = models["units"].predict(days_ahead, series=key, start_date=start_date)
        if "revenue" in models:
            revenue = models["revenue"].predict(days_ahead, series=key, start_date=start_date)
        else:
            price = self.price_.get(key, 0.0)
            revenue = units.assign(
                prediction=units["prediction"] * price, lower=units["lower"] * price, upper=units["upper"] * price
            )
        return pd.DataFrame(
            {
                "date": units["date"],
                "predicted_sales": revenue["prediction"].to_numpy(),
                "predicted_quantity": units["prediction"].to_numpy(),
                "confidence_lower": revenue["lower"].to_numpy(),
                "confidence_upper": revenue["upper"].to_numpy(),
            }
        )

    def product_demand(self, horizon_days: int) -> pd.DataFrame | None:
        """Long frame product_id, date, predicted_quantity for every product, from the day after the
        last day with data; None when no product level was trained."""
        _check_fitted(self, "levels_")
        model = self.levels_.get("product", {}).get("units")
        if model is None or not model.series_:
            return None
        _offset(model.forecast_start_, None, horizon_days, model.max_horizon)
        n = len(model.series_)
        dates = pd.date_range(pd.Timestamp(model.forecast_start_), periods=horizon_days, freq="D").date
        return pd.DataFrame(
            {
                "product_id": np.repeat(np.array(model.series_, dtype=object), horizon_days),
                "date": np.tile(dates, n),
                "predicted_quantity": model.forecast_[:, :horizon_days].astype(float).ravel(),
            }
        )

    def history(self, level: str = "total", id: str | None = None) -> pd.DataFrame:
        """Recent daily revenue history (up to 400 days) of one series, for plots."""
        _check_fitted(self, "levels_")
        models = self.levels_[level]
        key = TOTAL_KEY if level == "total" else str(id)
        if "revenue" in models:
            hist = models["revenue"].history_[key]
        else:
            hist = models["units"].history_[key] * self.price_.get(key, 0.0)
        return pd.DataFrame({"date": hist.index.date, "sales": hist.to_numpy(dtype=float)})
