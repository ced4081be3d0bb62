"""Writes of the monitoring capability: the forecast drift alert.

When the active forecast's realised error (forecast-accuracy over its own stored forecasts) runs past
the error its backtest promised by more than FORECAST_DRIFT_TOLERANCE, the shop is told to retrain:
the finding is written on the model's metrics (`metrics["monitoring"]`, which the dashboard and the
models endpoint show), a training-log entry records it, and a warning is logged.
"""
from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from ml_predictions.capabilities.monitoring.selectors import forecast_check
from ml_predictions.conf import ml_settings
from ml_predictions.data_changes import mark_registry_changed
from ml_predictions.estimators.monitoring import summarise_errors
from ml_predictions.models import MLModel, MLTrainingLog, ModelType

logger = logging.getLogger(__name__)


def backtest_mase(metrics: dict[str, Any]) -> float | None:
    """The MASE a forecast model promised: its backtest's, else its holdout's."""
    for candidate in (metrics.get("backtest", {}) if isinstance(metrics.get("backtest"), dict) else {},
                      metrics):
        value = candidate.get("mase")
        if isinstance(value, (int, float)) and value == value:
            return float(value)
    return None


def forecast_drift_check(*, days: int = 60, today: date | None = None) -> dict[str, Any]:
    """Compare the active forecast's realised total-level MASE with its backtest MASE; record a drift."""
    model = MLModel.objects.filter(model_type=ModelType.SALES_FORECAST, is_active=True).first()
    if model is None:
        return {"status": "no_active_model"}
    today = today or date.today()
    check = forecast_check(model_id=str(model.pk), level="total", date_from=date(1970, 1, 1), date_to=today)
    if len(check.errors):  # the most recent `days` days whose sales are known, however old the data is
        recent = check.errors["date"] > check.errors["date"].max() - timedelta(days=days)
        check.errors = check.errors[recent]
    min_days = int(ml_settings.FORECAST_DRIFT_MIN_DAYS)
    promised = backtest_mase(model.metrics or {})
    result: dict[str, Any] = {"model_id": str(model.pk), "model_version": model.version, "backtest_mase": promised,
                              "n_days": int(len(check.errors)), "checked_at": timezone.now().isoformat()}
    if len(check.errors) < min_days or promised is None:
        result.update(status="not_enough_data", realised_mase=None, drifting=False)
        return result
    realised = summarise_errors(check.errors, ["level"])["mase"].iloc[0]
    tolerance = float(ml_settings.FORECAST_DRIFT_TOLERANCE)
    drifting = bool(realised == realised and realised > promised * (1 + tolerance))
    result.update(status="drifting" if drifting else "ok", realised_mase=round(float(realised), 4),
                  tolerance=tolerance, drifting=drifting)
    with transaction.atomic():
        metrics = dict(MLModel.objects.select_for_update().get(pk=model.pk).metrics or {})
        was_drifting = bool((metrics.get("monitoring") or {}).get("drifting"))
        metrics["monitoring"] = result
        MLModel.objects.filter(pk=model.pk).update(metrics=metrics)
        mark_registry_changed()  # the model list and the dashboard show metrics
        if drifting and not was_drifting:  # one log entry when the drift starts, not one per check
            message = (f"Forecast drift: realised MASE {realised:.2f} over {len(check.errors)} days vs "
                       f"{promised:.2f} in the backtest; retrain suggested")
            MLTrainingLog.objects.create(
                model_type=ModelType.SALES_FORECAST, status=MLTrainingLog.Status.FAILED, trigger="monitor",
                message=message[:255], error=message, metrics=result, ml_model=model,
                result={"success": False, "error": {"code": "forecast_drift", "message": message}},
                finished_at=timezone.now(),
            )
    if drifting:
        logger.warning("sales_forecast v%s drifts: realised MASE %.3f vs backtest %.3f (tolerance %.0f %%); retrain",
                       model.version, realised, promised, tolerance * 100)
    return result
