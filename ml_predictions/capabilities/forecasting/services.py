"""Writes of the sales forecast: a prediction answered from the active model, stored as a Prediction.

Training lives in `trainer.py` (the runner calls it), reads in `selectors.py`.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from ml_predictions.answer_cache import cached_answer
from ml_predictions.capabilities.forecasting.selectors import (
    level_last_data_date,
    sales_forecast_frame,
    served_levels,
)
from ml_predictions.capabilities.predictions import record_prediction
from ml_predictions.data import canonical_id
from ml_predictions.models import MLModel, ModelType
from ml_predictions.training.registry import get_active_model

PENDING_ID = "00000000-0000-0000-0000-000000000000"  # stands for the prediction id while the body is presented


def _series_info(forecaster: Any, level: str, id: str | None) -> dict[str, Any]:
    """demand_class and method of the answered series (an artifact older than them answers None)."""
    key = "total" if level == "total" else str(canonical_id(id) if level == "product" else id)
    try:
        return forecaster.series_info(level, key)
    except (AttributeError, KeyError):
        return {"demand_class": None, "method": None}


def sales_forecast_predict(
    *, days_ahead: int, level: str = "total", id: str | None = None, start_date: date | None = None, user: Any = None,
    present: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The spec's predict-sales response (plus which levels the model serves), stored as a Prediction row.

    The forecast part is a pure function of the active artifact and the validated parameters, so it is
    reused from the answer cache (ml_predictions/answer_cache.py) under the active model's id and hash,
    read here on every call (one indexed row: an activation in any process is seen at once). Every call
    still records its own Prediction row and answers its id, as before. `present` (the API's output
    serializer) is applied once per cached answer, not per call; the response is then what it returns
    with this call's prediction id.
    """
    model = get_active_model(ModelType.SALES_FORECAST)
    inputs = {"days_ahead": days_ahead, "level": level, "id": id,
              "start_date": start_date.isoformat() if start_date else None}

    def compute() -> dict[str, Any]:
        raw = _forecast_answer(days_ahead=days_ahead, level=level, id=id, start_date=start_date)
        return {"result": raw, "body": present({**raw, "prediction_id": PENDING_ID}) if present else None}

    cached = cached_answer(
        "predict_sales", {"model": str(model.pk), "artifact": model.artifact_sha256, "presented": present is not None,
                          **inputs}, compute,
        keep=lambda answer: answer["result"]["model_id"] == str(model.pk))  # activated meanwhile: not this key
    result = cached["result"]
    target = "total" if level == "total" else f"{level}:{id}"
    prediction = record_prediction(
        model=model if result["model_id"] == str(model.pk) else MLModel.objects.get(pk=result["model_id"]),
        kind=ModelType.SALES_FORECAST,
        target=target,
        inputs=inputs,
        output=result,
        user=user,
    )
    body = dict(cached["body"]) if present else result
    body["prediction_id"] = str(prediction.pk)
    return body


def _forecast_answer(
    *, days_ahead: int, level: str, id: str | None, start_date: date | None
) -> dict[str, Any]:
    """The response without its prediction id, computed from the active model's artifact."""
    model, forecaster, frame = sales_forecast_frame(days_ahead=days_ahead, level=level, id=id, start_date=start_date)
    predictions = [
        {
            "date": row.date.isoformat(),
            "predicted_sales": round(float(row.predicted_sales), 2),
            "predicted_quantity": round(float(row.predicted_quantity), 2),
            "confidence_lower": round(float(row.confidence_lower), 2),
            "confidence_upper": round(float(row.confidence_upper), 2),
        }
        for row in frame.itertuples(index=False)
    ]
    total_sales = float(frame["predicted_sales"].sum())
    result = {
        "success": True,
        "predictions": predictions,
        "summary": {
            "total_predicted_sales": round(total_sales, 2),
            "avg_daily_sales": round(total_sales / len(frame), 2),
            "total_predicted_quantity": round(float(frame["predicted_quantity"].sum()), 2),
        },
        "level": level,
        "id": id if level != "total" else None,
        "start_date": predictions[0]["date"],
        "end_date": predictions[-1]["date"],
        "last_data_date": level_last_data_date(forecaster, level).isoformat(),
        "interval_level": forecaster.interval_level,
        "model_id": str(model.pk),
        "model_version": model.version,
        "algorithm": model.algorithm,
        "levels_served": served_levels(forecaster),
        "reconciliation": forecaster.reconciliation_method,
        **_series_info(forecaster, level, id),
    }
    return result
