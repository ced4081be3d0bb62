"""One level and one target: backtest, calibrate, stack and forecast every series with one model.

The math is spread over features (rows), global_model (the regressor), baselines (naive, ratio,
SBA, stack, metrics) and intervals (conformal quantiles); this module runs them in order.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.metrics import r2_score
from threadpoolctl import threadpool_limits

from ml_predictions.errors import InvalidParameterError
from ml_predictions.estimators.forecasting.baselines import (
    HORIZON_BUCKETS,
    _adi,
    _apply_stack,
    _clean,
    _insample_naive_mae,
    _metrics,
    _sba_rate,
    _seasonal_naive_path,
    _seasonal_ratio_path,
    _stack_weights,
)
from ml_predictions.estimators.forecasting.features import (
    _Cumulative,
    _FeatureSpec,
)
from ml_predictions.estimators.forecasting.global_model import GlobalModelMixin, make_regressor
from ml_predictions.estimators.forecasting.intervals import step_quantiles
from ml_predictions.estimators.forecasting.series import (
    _BLOCK_SPACING,
    _INTERMITTENT_ADI,
    _LEVEL_WINDOW,
    _MIN_CALIBRATION_CUT,
    _MIN_TRAIN_ROWS,
    _ROLL_WINDOW,
    AUTO_CANDIDATES,
    LAGS,
    MIN_HISTORY_DAYS,
    MODEL_TYPES,
    insufficient_history,
)
from ml_predictions.estimators.forecasting.stored import StoredForecastMixin


class SeriesForecaster(GlobalModelMixin, StoredForecastMixin, BaseEstimator):
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
        # the calibration refit needs training rows: their origins start after the level window
        min_cut = max(_ROLL_WINDOW, _LEVEL_WINDOW) + _MIN_TRAIN_ROWS
        room = T - test - horizon_cal - min_cut
        k_origins = int(max(1, min(self.calibration_origins, room // 7 + 1)))
        cal_cut = T - test - horizon_cal - 7 * (k_origins - 1)
        if cal_cut < min_cut:
            raise insufficient_history(T + min_cut - cal_cut, T)
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
        # the served model's errors on the test window, by origin: what reconciliation estimates W from
        self.backtest_errors_ = {int(test_origin): (actual_test - pred_test).astype(np.float32)}

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
        """Per-step (1..max_horizon) conformal quantiles of scaled backtest errors (a method, so
        band studies can record the residuals it sees)."""
        return step_quantiles(resid, alpha, int(self.max_horizon))
