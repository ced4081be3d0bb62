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
- **Intermittent products and categories** (Syntetos-Boylan classes): Croston, SBA or TSB per
  series where they beat the model on the rolling-origin backtest (demand.py); then the levels are
  reconciled so products add up to categories and the total (hierarchy.py).
- **Forecasts are computed once, at fit time,** for `max_horizon` days after the last day with data,
  and stored; answering a request is a slice, so the API stays far below its latency budget.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from ml_predictions.errors import InvalidParameterError, NotFoundError
from ml_predictions.estimators.forecasting.baselines import (  # noqa: F401  (re-exported)
    _STACK_GRID,
    HORIZON_BUCKETS,
    STACK_PARTS,
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
from ml_predictions.estimators.forecasting.demand import (
    assign_methods,
    backtest_daily_rmse,
    backtest_origins,
    class_bands,
    model_backtest_errors,
)
from ml_predictions.estimators.forecasting.features import (  # noqa: F401  (re-exported)
    _Cumulative,
    _direct_features,
    _FeatureSpec,
    _year_over_year,
)
from ml_predictions.estimators.forecasting.global_model import (  # noqa: F401  (re-exported)
    _SeasonalNaiveRegressor,
    make_regressor,
)
from ml_predictions.estimators.forecasting.hierarchy import RECONCILIATION_METHODS, reconcile_levels
from ml_predictions.estimators.forecasting.series import (  # noqa: F401  (re-exported)
    _BLOCK_SPACING,
    _INTERMITTENT_ADI,
    _LEVEL_WINDOW,
    _MIN_CALIBRATION_CUT,
    _MIN_TRAIN_ROWS,
    _ROLL_WINDOW,
    _SBA_ALPHA,
    AUTO_CANDIDATES,
    LAGS,
    LEVELS,
    MIN_HISTORY_DAYS,
    MODEL_TYPES,
    TOTAL_KEY,
    UNCATEGORIZED,
    _check_fitted,
    daily_series,
    insufficient_history,
)
from ml_predictions.estimators.forecasting.series_forecaster import SeriesForecaster  # noqa: F401
from ml_predictions.estimators.forecasting.stored import _offset  # noqa: F401


def _matrix(frame: pd.DataFrame) -> np.ndarray:
    return np.maximum(np.nan_to_num(frame.to_numpy(dtype=float).T, nan=0.0), 0.0)


def _first_day(frame: pd.DataFrame) -> np.datetime64:
    return np.datetime64(frame.index[0].date(), "D")


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
    only (one global model for every product, the Croston family for sparse ones where that
    backtests better) and derives revenue as units x the product's average selling price; once
    reconciled, product revenue is its own reconciled table (it adds up to the categories' revenue).
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
        reconciliation: str = "mint_shrink",
        intermittent_methods: bool = True,
        random_state: int | None = 42,
    ):
        self.model_type = model_type
        self.reconciliation = reconciliation
        self.intermittent_methods = intermittent_methods
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
        if self.reconciliation not in RECONCILIATION_METHODS:
            raise InvalidParameterError(f"reconciliation must be one of {list(RECONCILIATION_METHODS)}; "
                                        f"got {self.reconciliation!r}.", field="reconciliation")
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
                fitted_units = self._series_forecaster(max_train_rows=self.product_train_rows).fit(units)
                _close_days(fitted_units, self.calendar_)
                self._per_product_methods(fitted_units, units)
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
                if level == "category":
                    for target, frame in (("revenue", revenue), ("units", units)):
                        _close_days(self.levels_[level][target], self.calendar_)
                        assign_methods(self.levels_[level][target], _matrix(frame), _first_day(frame),
                                       self.calendar_, interval_level=float(self.interval_level),
                                       horizon=int(self.test_days))
            for model in self.levels_[level].values():
                _close_days(model, self.calendar_)
            step += 1
        self._reconcile(categories)
        first = next(iter(self.levels_.values()))["units"]
        self.last_date_ = first.last_date_
        self.first_date_ = first.first_date_
        self.forecast_start_ = first.forecast_start_
        return self

    def _per_product_methods(self, model: SeriesForecaster, units: pd.DataFrame) -> None:
        """Backtest the product model on the rolling origins, then serve each sparse product by the
        Croston-family method that beats it there (demand.py)."""
        values, first_day = _matrix(units), _first_day(units)
        T = values.shape[1]
        horizon = int(min(self.test_days, max(7, T // 6)))
        errors = model_backtest_errors(model, values, first_day, self.calendar_, backtest_origins(T, horizon), horizon)
        if errors:
            model.backtest_errors_ = errors
        if not self.intermittent_methods:  # the level's model for every product (for comparisons)
            return
        assign_methods(model, values, first_day, self.calendar_, interval_level=float(self.interval_level),
                       horizon=horizon)
        class_bands(model, values, first_day, self.calendar_, interval_level=float(self.interval_level))

    def _reconcile(self, categories: pd.Series | None) -> None:
        """Make the levels fitted in this training add up (hierarchy.py); the report is served."""
        self.product_revenue_ = None
        mapping: dict[str, str] = {}
        if categories is not None and "product" in self.levels_:
            known = categories.reindex(self.levels_["product"]["units"].series_)
            mapping = {str(k): (str(v) if isinstance(v, str) and v else UNCATEGORIZED) for k, v in known.items()}
        self.reconciliation_, self.product_revenue_ = reconcile_levels(
            self.levels_, product_category=mapping, price=self.price_, method=self.reconciliation)

    def series_info(self, level: str, key: str) -> dict[str, Any]:
        """How one served series was forecast: its demand class (None for the total) and method."""
        model = self.levels_[level]["units"]
        i = model.series_index_[key]
        classes = getattr(model, "demand_class_", None)
        methods = getattr(model, "method_", None) or getattr(model, "chosen_", None)
        return {"demand_class": classes[i] if classes else None,
                "method": methods[i] if methods else getattr(model, "model_type_", self.model_type)}

    @property
    def reconciliation_method(self) -> str:
        return (getattr(self, "reconciliation_", None) or {}).get("method", "none")

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
                    "chosen_by_series", "interval_method", "interval_coverage_80", "interval_coverage_80_by_window",
                    "interval_width"):
            if key in head:
                out[key] = head[key]
        out["levels"] = per_level
        out["reconciliation"] = getattr(self, "reconciliation_", None) or {"method": "none"}
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
        table = getattr(self, "product_revenue_", None) if level == "product" else None
        if "revenue" in models:
            revenue = models["revenue"].predict(days_ahead, series=key, start_date=start_date)
        elif table is not None:
            i = models["units"].series_index_[key]
            first = (units["date"].iloc[0] - models["units"].forecast_start_).days
            window = slice(first, first + days_ahead)
            revenue = units.assign(prediction=table["forecast"][i, window].astype(float),
                                   lower=table["lower"][i, window].astype(float),
                                   upper=table["upper"][i, window].astype(float))
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
        """Long frame product_id, date, predicted_quantity (and residual_std, the backtest's daily RMSE in
        units, when stored) for every product from the day after the last day with data; None without a
        product level."""
        _check_fitted(self, "levels_")
        model = self.levels_.get("product", {}).get("units")
        if model is None or not model.series_:
            return None
        _offset(model.forecast_start_, None, horizon_days, model.max_horizon)
        n = len(model.series_)
        dates = pd.date_range(pd.Timestamp(model.forecast_start_), periods=horizon_days, freq="D").date
        frame = {"product_id": np.repeat(np.array(model.series_, dtype=object), horizon_days),
                 "date": np.tile(dates, n), "predicted_quantity": model.forecast_[:, :horizon_days].astype(float).ravel()}
        if (rmse := backtest_daily_rmse(model)) is not None:
            frame["residual_std"] = np.repeat(rmse, horizon_days)
        return pd.DataFrame(frame)

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
