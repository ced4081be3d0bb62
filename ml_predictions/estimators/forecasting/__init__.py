"""Sales forecasting estimators (pure pandas / numpy / scikit-learn / statsmodels, no Django).

Modules by job: calendar (open days), statistical (ETS, Theta, MSTL, seasonal-naive), forecaster
(series, features and the global model), backtest (rolling origins), intervals (conformal), selection
(`auto`), stored (answering from the precomputed table).
"""
from ml_predictions.estimators.forecasting.calendar import OpenCalendar, detect_calendar
from ml_predictions.estimators.forecasting.forecaster import (
    LEVELS,
    MODEL_TYPES,
    SalesForecaster,
    SeriesForecaster,
    daily_series,
)
from ml_predictions.estimators.forecasting.selection import AutoSeriesForecaster

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
