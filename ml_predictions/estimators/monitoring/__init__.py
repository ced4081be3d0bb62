"""Checks of models against what really happened next: pure pandas, no Django."""
from ml_predictions.estimators.monitoring.forecast_accuracy import (
    HORIZON_BUCKETS,
    daily_actuals,
    naive_scales,
    realised_errors,
    summarise_errors,
)
from ml_predictions.estimators.monitoring.recommendation_outcomes import recommendation_outcomes

__all__ = [
    "HORIZON_BUCKETS", "daily_actuals", "naive_scales", "realised_errors", "recommendation_outcomes",
    "summarise_errors",
]
