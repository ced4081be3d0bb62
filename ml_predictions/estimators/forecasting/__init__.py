"""Sales forecasting estimators (pure pandas / numpy / scikit-learn / statsmodels, no Django).

Modules by job: series (order lines to daily series, shared limits), calendar (open days), features
(direct multi-step rows), global_model (the regressor behind each model_type), baselines (naive,
seasonal-ratio, SBA, stack, metrics), statistical (ETS, Theta, MSTL, seasonal-naive), backtest
(rolling origins), intervals (conformal), series_forecaster (one level and target), selection
(`auto`), forecaster (every level from order lines), stored (answering from the precomputed table).
"""
from ml_predictions.estimators.forecasting.calendar import OpenCalendar, detect_calendar
from ml_predictions.estimators.forecasting.forecaster import SalesForecaster
from ml_predictions.estimators.forecasting.selection import AutoSeriesForecaster
from ml_predictions.estimators.forecasting.series import LEVELS, MODEL_TYPES, daily_series
from ml_predictions.estimators.forecasting.series_forecaster import SeriesForecaster

__all__ = [
    "LEVELS",
    "MODEL_TYPES",
    "AutoSeriesForecaster",
    "OpenCalendar",
    "SalesForecaster",
    "SeriesForecaster",
    "daily_series",
    "detect_calendar",
]
