"""`auto`: choose each series' forecaster by a rolling-origin backtest, combinations included.

Candidates: the statistical models (ETS by AICc, ETS(M,N,M), Theta, MSTL + ETS with two years,
seasonal-naive), the global tree/linear models, and two combinations of the three best (their median,
and their mean weighted by inverse backtest MASE; M4: combinations of simple models win). Every
candidate is scored on the same windows (backtest.py). The best exponential-smoothing candidate wins
per series unless another one's mean MASE is at least 10 % lower: five windows of the recent months
cannot tell candidates a few percent apart (on CDNOW a weighted combination beat ETS(M,N,M) by 6 %
on the backtest and lost by 9 % the next month; seasonal-naive and random forest won backtests there
and lost 0.74 vs 0.60 against AutoETS over 6 windows), and exponential smoothing is the bar a shop
owner compares us with. On the 42 real windows of the benchmark no other candidate came within
reach of that margin; it is there for shops whose history the tree models clearly read better.
On a history under twenty weeks of open days the median combination takes the family's place:
the backtest's short fits cannot rank variants of one model a few percent apart, and the median
of the three best does not have to. Ties go to the earlier, simpler candidate. The final forecast is the winner refitted on the whole history; its
band pools its own and the next best candidates' backtest errors with a year of seasonal-naive
errors (intervals.py, `_BandInputs`). Closed days are exactly 0 (calendar.py).

Reported: the winner per series, every candidate's mean MASE, the origins, the most recent
window's figures (test_*), and relative MAE against seasonal-naive over all windows, which is the
figure `beats_baseline` names. Choosing on the same windows that are reported flatters the winner a
little; the leave-one-origin-out coverage does not share that optimism.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from threadpoolctl import threadpool_limits

from ml_predictions.errors import InvalidParameterError
from ml_predictions.estimators.forecasting.backtest import (
    naive_scale,
    recent_level,
    reference_errors,
    rolling_origins,
    window_mase,
)
from ml_predictions.estimators.forecasting.baselines import _clean, _metrics
from ml_predictions.estimators.forecasting.calendar import OpenCalendar, day_range, detect_calendar
from ml_predictions.estimators.forecasting.intervals import band_coverage, conformal_band, error_ratio
from ml_predictions.estimators.forecasting.series import MODEL_TYPES, insufficient_history
from ml_predictions.estimators.forecasting.series_forecaster import SeriesForecaster
from ml_predictions.estimators.forecasting.statistical import (
    SHORT_FIT_DAYS,
    STATISTICAL_MODELS,
    calendar_forecast,
)
from ml_predictions.estimators.forecasting.stored import StoredForecastMixin

COMBINATIONS: tuple[str, ...] = ("combination_median", "combination_weighted")
AUTO_STATISTICAL: tuple[str, ...] = ("ets", "ets_mul_error", "theta", "mstl_ets", "seasonal_naive")
AUTO_GLOBAL: tuple[str, ...] = ("random_forest", "linear")
SELECTABLE: tuple[str, ...] = (*AUTO_STATISTICAL, *MODEL_TYPES, *COMBINATIONS)
# A tree model's refit needs this many days before its first origin (lags, level window, rows).
_GLOBAL_MIN_TRAIN = 133
_STAT_MIN_TRAIN = 42
_COMBINE_TOP = 3
# The chosen model's band is never narrower than this share of seasonal-naive's (intervals.py).
_RHO_MIN = 1.0
# Exponential smoothing keeps the choice unless another candidate backtests this much better.
ETS_FAMILY: tuple[str, ...] = ("ets", "ets_mul_error")
FAMILY_MARGIN = 0.10
# Below twenty weeks of open days the backtest's fits have 6-14 weeks each, and their ranking of the
# exponential smoothing variants does not carry over to the fit on the whole history (Bread Basket:
# theta, never first of ets / ets_mul_error / theta on the backtest, was the best of the three on the
# next month in 4 of 6 windows and tied in a fifth); there the median of the three best stands in for
# the family (module docstring, benchmarks/results/forecasting_auto.md).
SHORT_HISTORY_DAYS = SHORT_FIT_DAYS
SHORT_FAMILY: tuple[str, ...] = ("combination_median",)


class AutoSeriesForecaster(StoredForecastMixin, BaseEstimator):
    """Backtest every candidate on the same rolling origins and keep the best per series.

    fit(Y) takes a wide frame (days x series). Learned: `chosen_` (name per series), `scores_`
    (candidate -> mean backtest MASE per series), `origins_`, `forecast_`, `lower_`, `upper_`,
    `metrics_`, `series_`, `calendar_`, `forecast_start_`, `last_date_`, `first_date_`.
    """

    def __init__(
        self,
        candidates: tuple[str, ...] = (*AUTO_STATISTICAL, *AUTO_GLOBAL, *COMBINATIONS),
        *,
        calendar: OpenCalendar | None = None,
        holidays: tuple = (),
        horizon: int = 30,
        n_origins: int = 5,
        origin_spacing: int = 14,
        interval_level: float = 0.95,
        max_horizon: int = 365,
        max_train_rows: int = 5_000,
        min_history_days: int = 120,
        random_state: int | None = 42,
    ):
        self.candidates = candidates
        self.calendar = calendar
        self.holidays = holidays
        self.horizon = horizon
        self.n_origins = n_origins
        self.origin_spacing = origin_spacing
        self.interval_level = interval_level
        self.max_horizon = max_horizon
        self.max_train_rows = max_train_rows
        self.min_history_days = min_history_days
        self.random_state = random_state

    def _validate(self) -> None:
        bad = [c for c in self.candidates if c not in SELECTABLE]
        if bad or not self.candidates:
            raise InvalidParameterError(f"candidates must be a non-empty subset of {list(SELECTABLE)}; got {bad}.",
                                        field="model_type")
        if not 0.5 <= float(self.interval_level) < 1:
            raise InvalidParameterError("interval_level must be in [0.5, 1).", field="interval_level")
        if not 1 <= int(self.max_horizon) <= 3650:
            raise InvalidParameterError("max_horizon must be between 1 and 3650.", field="max_horizon")
        if int(self.n_origins) < 1 or int(self.origin_spacing) < 1:
            raise InvalidParameterError("n_origins and origin_spacing must be >= 1.", field="n_origins")

    # -- candidates ---------------------------------------------------------------------------
    def _paths(self, name: str, values: np.ndarray, first_day: np.datetime64, cuts: list[int],
               horizon: int) -> list[np.ndarray] | None:
        """Forecasts (n x horizon) of one base candidate from each cut, or None if it does not apply."""
        if name in MODEL_TYPES:
            if min(cuts) < _GLOBAL_MIN_TRAIN:
                return None
            model = SeriesForecaster(name, holidays=tuple(self.holidays), max_horizon=int(self.max_horizon),
                                     max_train_rows=int(self.max_train_rows), random_state=self.random_state)
            paths = model.paths(values, first_day, cuts, horizon)
            days = [day_range(first_day + cut, horizon) for cut in cuts]
            return [np.where(self.calendar_.is_open(d)[None, :], p, 0.0) for p, d in zip(paths, days, strict=True)]
        fn = STATISTICAL_MODELS[name]
        out = []
        for cut in cuts:
            rows = [calendar_forecast(fn, values[i, :cut], first_day, self.calendar_, horizon)
                    for i in range(values.shape[0])]
            if any(r is None for r in rows):
                return None
            out.append(np.vstack(rows))
        return out

    @staticmethod
    def _combine(members: list[np.ndarray], weights: np.ndarray | None) -> np.ndarray:
        stack = np.stack(members)
        if weights is None:
            return np.median(stack, axis=0)
        return np.tensordot(weights / weights.sum(), stack, 1)

    # -- fit ----------------------------------------------------------------------------------
    def fit(self, Y: pd.DataFrame, y: Any = None) -> AutoSeriesForecaster:
        # BLAS on one thread: statsmodels' fits multiply matrices a few dozen wide, where OpenBLAS's
        # second thread only spins; on the shared 2-core machine (load ~3) total-level training on
        # two years took 9.1-11.6 s CPU with it and 5.7-6.0 s without (benchmarks/results/forecasting_auto.md).
        with threadpool_limits(limits=1, user_api="blas"):
            return self._fit(Y)

    def _fit(self, Y: pd.DataFrame) -> AutoSeriesForecaster:
        self._validate()
        if not isinstance(Y.index, pd.DatetimeIndex):
            raise InvalidParameterError("Y must be indexed by day (DatetimeIndex).")
        T, n = Y.shape
        if T < int(self.min_history_days):
            raise insufficient_history(int(self.min_history_days), T)
        if n == 0:
            raise InvalidParameterError("Y has no series to forecast.")
        values = np.maximum(np.nan_to_num(Y.to_numpy(dtype=float).T, nan=0.0), 0.0)
        first_day = np.datetime64(Y.index[0].date(), "D")
        self.calendar_ = self.calendar if self.calendar is not None else detect_calendar(values.sum(0), first_day, tuple(self.holidays))
        H = int(min(self.horizon, max(7, T // 6)))
        origins = rolling_origins(T, H, n_origins=int(self.n_origins), spacing=int(self.origin_spacing),
                                  min_train=_STAT_MIN_TRAIN)
        actual = np.stack([values[:, o:o + H] for o in origins])
        open_days = np.stack([np.repeat(self.calendar_.is_open(day_range(first_day + o, H))[None, :], n, 0)
                              for o in origins])
        scale = naive_scale(values, origins)
        preds: dict[str, np.ndarray] = {}
        for name in self.candidates:
            if name in COMBINATIONS:
                continue
            paths = self._paths(name, values, first_day, origins, H)
            if paths is not None:
                preds[name] = np.stack(paths)
        if not preds:
            raise insufficient_history(_GLOBAL_MIN_TRAIN + H, T)
        mase = {name: np.nanmean(window_mase(p, actual, scale), axis=0) for name, p in preds.items()}
        base = list(preds)
        ranked = self._rank(base, mase, n)
        for name in COMBINATIONS:
            if name in self.candidates and len(base) >= 2:
                preds[name] = np.stack([self._series_combination(name, ranked, preds, mase, k=k) for k in
                                        range(len(origins))])
                mase[name] = np.nanmean(window_mase(preds[name], actual, scale), axis=0)
        order = list(preds)
        table = np.vstack([np.nan_to_num(mase[c], nan=np.inf) for c in order])  # candidates x series
        short = int(self.calendar_.weekday_open(day_range(first_day, T)).sum()) < SHORT_HISTORY_DAYS
        family = SHORT_FAMILY if short and set(SHORT_FAMILY) <= set(order) else ETS_FAMILY
        chosen_idx = choose(order, table, family=family)
        self.chosen_ = [order[j] for j in chosen_idx]
        self.scores_ = mase
        self.origins_ = [str(first_day + o) for o in origins]
        self._finish(Y, values, first_day, preds, actual, open_days, scale, origins, ranked, mase, H)
        return self

    def _rank(self, base: list[str], mase: dict[str, np.ndarray], n: int) -> list[list[str]]:
        """Per series, the base candidates from best to worst backtest MASE."""
        return [sorted(base, key=lambda c: (np.nan_to_num(mase[c][i], nan=np.inf), base.index(c))) for i in range(n)]

    def _series_combination(self, name: str, ranked: list[list[str]], preds: dict[str, np.ndarray],
                            mase: dict[str, np.ndarray], *, k: int | None) -> np.ndarray:
        """(n x steps) combination of each series' top candidates, from window k's forecasts (k None:
        from the final forecasts in self._final)."""
        rows = []
        for i, order in enumerate(ranked):
            top = order[:_COMBINE_TOP]
            members = [(preds[c][k] if k is not None else self._final[c])[i] for c in top]
            weights = None
            if name == "combination_weighted":
                weights = np.array([1.0 / max(float(np.nan_to_num(mase[c][i], nan=1e9)), 1e-6) for c in top])
            rows.append(self._combine(members, weights))
        return np.vstack(rows)

    def _finish(self, Y: pd.DataFrame, values: np.ndarray, first_day: np.datetime64, preds: dict[str, np.ndarray],
                actual: np.ndarray, open_days: np.ndarray, scale: np.ndarray, origins: list[int],
                ranked: list[list[str]], mase: dict[str, np.ndarray], H: int) -> None:
        T, n = values.shape[1], values.shape[0]
        max_h = int(self.max_horizon)
        needed = set(self.chosen_)
        for c in self.chosen_:
            if c in COMBINATIONS:
                needed.update(r for order in ranked for r in order[:_COMBINE_TOP])
        self._final: dict[str, np.ndarray] = {}
        for name in needed:
            if name not in COMBINATIONS:
                self._final[name] = self._paths(name, values, first_day, [T], max_h)[0]
        for name in needed & set(COMBINATIONS):
            self._final[name] = self._series_combination(name, ranked, preds, mase, k=None)
        forecast = np.vstack([self._final[c][i] for i, c in enumerate(self.chosen_)])
        future_open = self.calendar_.is_open(day_range(first_day + T, max_h))
        forecast = np.where(future_open[None, :], np.maximum(forecast, 0.0), 0.0)

        chosen_pred = np.stack([np.vstack([preds[c][k][i] for i, c in enumerate(self.chosen_)])
                                for k in range(len(origins))])
        # the chosen candidates' errors per backtest window (origin -> series x steps), for reconciliation
        self.backtest_errors_ = {int(o): (actual[k] - chosen_pred[k]).astype(np.float32) for k, o in enumerate(origins)}
        history_open = self.calendar_.is_open(day_range(first_day, T))
        level = recent_level(values, origins, open_days=history_open)
        alpha = 1 - float(self.interval_level)
        naive = preds.get("seasonal_naive")
        if naive is None:
            naive = np.stack(self._paths("seasonal_naive", values, first_day, origins, H))
        band = _BandInputs(self, values, first_day, preds, chosen_pred, naive, actual, open_days, level, origins,
                           ranked, H)
        half = band.half(alpha, max_h)
        level_now = recent_level(values, [T], open_days=history_open)[0]
        self.forecast_ = forecast.astype(np.float32)
        spread = half[None, :] * level_now[:, None]
        self.lower_ = np.where(future_open, np.maximum(forecast - spread, 0.0), 0.0).astype(np.float32)
        self.upper_ = np.where(future_open, forecast + spread, 0.0).astype(np.float32)
        self.band_rho_ = band.rho()
        self.series_ = [str(c) for c in Y.columns]
        self.series_index_ = {key: i for i, key in enumerate(self.series_)}
        self.first_date_ = Y.index[0].date()
        self.last_date_ = Y.index[-1].date()
        self.forecast_start_ = (Y.index[-1] + pd.Timedelta(days=1)).date()
        self.history_ = Y.iloc[-min(T, 400):].astype(np.float32)
        self.model_type_ = Counter(self.chosen_).most_common(1)[0][0]
        coverage, by_window = band_coverage(chosen_pred, actual, level, open_days, lambda i: band.half(alpha, H, leave=i))
        cov80, by_window80 = band_coverage(chosen_pred, actual, level, open_days, lambda i: band.half(0.2, H, leave=i))
        self.metrics_ = self._report(preds, chosen_pred, actual, scale, mase, H, coverage, by_window, T, n)
        self.metrics_["interval_coverage_80"] = _clean(cov80)
        self.metrics_["interval_coverage_80_by_window"] = [_clean(v) for v in by_window80]
        self.metrics_["interval_width"] = _clean(float(np.mean(2 * half[:H])))
        self.metrics_["interval_reference_ratio"] = _clean(self.band_rho_)
        del self._final

    def _report(self, preds: dict[str, np.ndarray], chosen_pred: np.ndarray, actual: np.ndarray, scale: np.ndarray,
                mase: dict[str, np.ndarray], H: int, coverage: float, by_window: list[float], T: int,
                n: int) -> dict[str, Any]:
        naive = preds.get("seasonal_naive")
        last = _metrics(actual[-1], chosen_pred[-1], scale[-1])
        base_last = _metrics(actual[-1], naive[-1], scale[-1]) if naive is not None else None
        mae_all = float(np.abs(chosen_pred - actual).mean())
        naive_all = float(np.abs(naive - actual).mean()) if naive is not None else float("nan")
        rel_all = mae_all / naive_all if naive_all > 0 else float("nan")
        mase_all = float(np.nanmean(window_mase(chosen_pred, actual, scale)))
        return {
            "summary": _summary(H, rel_all, len(self.origins_), float(self.interval_level), coverage),
            "model": self.model_type_,
            "selection": "rolling_origin_backtest",
            "test_days": H,
            # the most recent backtest window (it ends on the last day of data)
            "test_r2": _clean(last["r2"]),
            "test_rmse": _clean(last["rmse"]),
            "test_mae": _clean(last["mae"]),
            "train_r2": None,
            "cv_r2_mean": None,
            "smape": _clean(last["smape"]),
            "mase": _clean(last["mase"]),
            "relative_mae": _clean(last["mae"] / base_last["mae"]) if base_last and base_last["mae"] > 0 else None,
            "interval_level": float(self.interval_level),
            "interval_coverage": _clean(coverage),
            "interval_coverage_by_window": [_clean(v) for v in by_window],
            "interval_method": "conformal_rolling_origin",
            "baseline": {
                "model": "seasonal_naive_weekly",
                "test_mae": _clean(base_last["mae"]) if base_last else None,
                "mase": _clean(base_last["mase"]) if base_last else None,
            },
            "backtest": {
                "origins": self.origins_,
                "horizon_days": H,
                "mase": _clean(mase_all),
                "relative_mae": _clean(rel_all),
                "seasonal_naive_mase": _clean(float(np.nanmean(window_mase(naive, actual, scale))))
                if naive is not None else None,
            },
            "beats_baseline_by": "backtest.relative_mae",
            "beats_baseline": bool(np.isfinite(rel_all) and rel_all < 1.0),
            "candidates": {c: _clean(float(np.nanmean(v))) for c, v in mase.items()},
            "chosen_by_series": dict(Counter(self.chosen_)),
            "calendar": self.calendar_.as_dict(np.datetime64(self.last_date_, "D")),
            "n_series": n,
            "history_days": T,
        }


def choose(order: list[str], table: np.ndarray, family: tuple[str, ...] = ETS_FAMILY) -> np.ndarray:
    """Per series (columns of table: candidates x series, mean backtest MASE), the index of the chosen
    candidate: the best of `family` (ETS_FAMILY; SHORT_FAMILY on a short history) unless another is
    FAMILY_MARGIN better (module docstring). np.argmin keeps the first, simplest listed candidate on ties."""
    best = np.argmin(table, axis=0)
    family = [j for j, c in enumerate(order) if c in family]
    if not family:
        return best
    cols = np.arange(table.shape[1])
    family_best = np.asarray(family)[np.argmin(table[family], axis=0)]
    family_score = table[family_best, cols]
    clearly_better = table[best, cols] < (1 - FAMILY_MARGIN) * family_score
    return np.where(np.isfinite(family_score) & ~clearly_better, family_best, best)


def _summary(horizon: int, relative_mae: float, windows: int, level: float, coverage: float) -> str:
    """One sentence a shop owner can read: the error against "repeat last week", and the band."""
    if np.isfinite(relative_mae):
        diff = round(100 * (1 - relative_mae))
        word = "below" if diff >= 0 else "above"
        text = f"{horizon}-day error {abs(diff)} % {word} repeating last week (over {windows} recent windows)"
    else:
        text = f"{horizon}-day error not comparable with repeating last week (no sales in the windows)"
    if np.isfinite(coverage):
        text += f"; the {round(100 * level)} % band held {round(100 * coverage)} % of open days"
    return text + "."


class _BandInputs:
    """The errors the conformal band is built from (intervals.py), kept so the leave-one-origin-out
    coverage rebuilds the band without each window. Own errors: every series' chosen candidate and
    its next best base candidates on the selection windows; reference: seasonal-naive from weekly
    origins over the last year."""

    def __init__(self, model: AutoSeriesForecaster, values: np.ndarray, first_day: np.datetime64,
                 preds: dict[str, np.ndarray], chosen_pred: np.ndarray, naive: np.ndarray, actual: np.ndarray,
                 open_days: np.ndarray, level: np.ndarray, origins: list[int], ranked: list[list[str]], H: int):
        def scaled(pred: np.ndarray) -> np.ndarray:  # origins x series x steps
            return np.where(open_days, np.abs(actual - pred), np.nan) / level[:, :, None]

        n = values.shape[0]
        members = [scaled(chosen_pred)]
        for j in range(_COMBINE_TOP):
            pick = np.stack([np.vstack([preds[ranked[i][min(j, len(ranked[i]) - 1)]][k][i] for i in range(n)])
                             for k in range(len(origins))])
            members.append(scaled(pick))
        self.own = np.stack(members)  # members x origins x series x steps
        self.chosen = members[0]
        self.naive = scaled(naive)
        self.origins = np.asarray(origins)
        self.H = H
        self.ref_origins, self.ref = reference_errors(values, first_day, model.calendar_, H)

    def _keep(self, leave: int | None) -> np.ndarray:
        """Selection windows that share no day with window `leave` (all of them when None)."""
        if leave is None:
            return np.ones(len(self.origins), dtype=bool)
        return np.abs(self.origins - self.origins[leave]) >= self.H

    def rho(self, leave: int | None = None) -> float:
        keep = self._keep(leave)
        return max(error_ratio(self.chosen[keep], self.naive[keep]), _RHO_MIN)

    def half(self, alpha: float, steps: int, leave: int | None = None) -> np.ndarray:
        own = self.own[:, self._keep(leave)].reshape(-1, self.H)
        ref = self.ref
        if leave is not None and ref.size:
            o = self.origins[leave]
            ref = ref[np.abs(self.ref_origins - o) >= self.H]
        return conformal_band(own, ref, self.rho(leave), alpha, steps)
