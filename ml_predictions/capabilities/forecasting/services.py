"""Django glue of sales forecasting: read the data source, fit the service, serve stored forecasts.

Training fits every configured level (total, category, product) into ONE artifact, so the active
sales_forecast model always carries the per-product demand that inventory optimization needs
(`forecast_product_demand`). Forecasts are computed at training time for FORECAST_MAX_HORIZON_DAYS
days; a prediction request only slices them, which keeps it far inside its latency budget.
"""
from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
from django.utils.translation import gettext_noop

from ml_predictions.capabilities.predictions import record_prediction
from ml_predictions.conf import ml_settings
from ml_predictions.data import canonical_id, get_data_source
from ml_predictions.errors import (
    ArtifactError,
    InvalidParameterError,
    NoActiveModelError,
)
from ml_predictions.estimators.forecasting import LEVELS, MODEL_TYPES, SalesForecaster
from ml_predictions.models import MLModel, ModelType
from ml_predictions.training.registry import get_active_artifact
from ml_predictions.training.types import ProgressCallback, TrainingOutcome

MODEL_CHOICES: tuple[str, ...] = (*MODEL_TYPES, "auto")
LEVEL_CHOICES: tuple[str, ...] = LEVELS
# Every parameter `train` reads; `manage.py train` rejects other keys and routes `train all` keys by it.
TRAIN_PARAMS = ("model_type", "level")


def _levels(level: str | None) -> tuple[str, ...]:
    if level in (None, "", "all"):
        levels = tuple(ml_settings.FORECAST_LEVELS)
    elif level in LEVELS:
        levels = (level,)
    else:
        raise InvalidParameterError(f"level must be one of {[*LEVELS, 'all']}; got {level!r}.", field="level")
    return levels


def build_forecaster(model_type: str, levels: tuple[str, ...]) -> SalesForecaster:
    return SalesForecaster(
        model_type,
        levels=levels,
        holidays=tuple(str(d)[:10] for d in ml_settings.FORECAST_HOLIDAYS or ()),
        test_days=int(ml_settings.FORECAST_TEST_DAYS),
        interval_level=float(ml_settings.FORECAST_INTERVAL_LEVEL),
        max_horizon=int(ml_settings.FORECAST_MAX_HORIZON_DAYS),
        max_train_rows=int(ml_settings.FORECAST_MAX_TRAIN_ROWS),
        product_train_rows=int(ml_settings.FORECAST_PRODUCT_TRAIN_ROWS),
        min_history_days=int(ml_settings.FORECAST_MIN_HISTORY_DAYS),
        random_state=ml_settings.RANDOM_STATE,
    )


def train(params: dict[str, Any], progress: ProgressCallback) -> TrainingOutcome:
    """Trainer for the runner: params model_type (default FORECAST_DEFAULT_MODEL) and level."""
    model_type = params.get("model_type") or ml_settings.FORECAST_DEFAULT_MODEL
    if model_type not in MODEL_CHOICES:
        raise InvalidParameterError(f"model_type must be one of {list(MODEL_CHOICES)}; got {model_type!r}.",
                                    field="model_type")
    levels = _levels(params.get("level"))
    progress(5, "Reading order lines")
    source = get_data_source()
    lines = source.order_lines()
    products = source.products() if "category" in levels or "product" in levels else None
    progress(15, f"{len(lines)} order lines read")
    forecaster = build_forecaster(model_type, levels)
    forecaster.fit(lines, products, progress=progress)
    progress(90, "Forecasts computed")
    metrics = forecaster.metrics_
    days = (forecaster.last_date_ - forecaster.first_date_).days + 1
    chosen = metrics.get("model") or model_type
    return TrainingOutcome(
        artifact=forecaster,
        algorithm=chosen if model_type != "auto" else f"auto:{chosen}",
        metrics=metrics,
        parameters={"model_type": model_type, "levels": list(levels), "interval_level": forecaster.interval_level,
                    "max_horizon_days": forecaster.max_horizon},
        n_samples=days,
        data_start=forecaster.first_date_,
        data_end=forecaster.last_date_,
        message=gettext_noop("Sales forecast model trained successfully"),
        response={
            "levels": list(levels),
            "forecast_start": forecaster.forecast_start_.isoformat(),
            "max_horizon_days": forecaster.max_horizon,
        },
    )


def _active() -> tuple[MLModel, SalesForecaster]:
    model, artifact = get_active_artifact(ModelType.SALES_FORECAST)
    if not isinstance(artifact, SalesForecaster):
        raise ArtifactError(f"{model} does not hold a sales forecaster; retrain it with "
                            "POST /api/ml/train-sales-forecast/.")
    return model, artifact


def sales_forecast_frame(
    *, days_ahead: int, level: str = "total", id: str | None = None, start_date: date | None = None
) -> tuple[MLModel, SalesForecaster, pd.DataFrame]:
    """The active model's daily forecast for one series, as a DataFrame (for the API and the plot)."""
    model, forecaster = _active()
    if level == "product":
        id = canonical_id(id)
    frame = forecaster.predict(days_ahead, level=level, id=id, start_date=start_date)
    return model, forecaster, frame


def sales_forecast_predict(
    *, days_ahead: int, level: str = "total", id: str | None = None, start_date: date | None = None, user: Any = None
) -> dict[str, Any]:
    """Seed 004's predict-sales response, stored as a Prediction row."""
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
        "last_data_date": forecaster.last_date_.isoformat(),
        "interval_level": forecaster.interval_level,
        "model_id": str(model.pk),
        "model_version": model.version,
        "algorithm": model.algorithm,
    }
    target = "total" if level == "total" else f"{level}:{id}"
    prediction = record_prediction(
        model=model,
        kind=ModelType.SALES_FORECAST,
        target=target,
        inputs={"days_ahead": days_ahead, "level": level, "id": id,
                "start_date": start_date.isoformat() if start_date else None},
        output=result,
        user=user,
    )
    result["prediction_id"] = str(prediction.pk)
    return result


def forecast_product_demand(horizon_days: int) -> pd.DataFrame | None:
    """Per-product daily unit forecast of the active sales_forecast model, for inventory.

    Columns product_id, date, predicted_quantity: one row per product per day, starting the day after
    the model's last day of data, for every product the model covers. None when there is no active
    model or it was trained without the product level. Raises InvalidParameterError when
    horizon_days is outside 1..the model's precomputed horizon.
    """
    try:
        _model, forecaster = _active()
    except NoActiveModelError:
        return None
    return forecaster.product_demand(int(horizon_days))
