"""Reads of the sales forecast: slices of the active model's precomputed forecasts and history."""
from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from ml_predictions.data import canonical_id
from ml_predictions.errors import ArtifactError, NoActiveModelError
from ml_predictions.estimators.forecasting import SalesForecaster
from ml_predictions.models import MLModel, ModelType
from ml_predictions.training.registry import get_active_artifact


def active_forecaster() -> tuple[MLModel, SalesForecaster]:
    model, artifact = get_active_artifact(ModelType.SALES_FORECAST)
    if not isinstance(artifact, SalesForecaster):
        raise ArtifactError(f"{model} does not hold a sales forecaster; retrain it with "
                            "POST /api/ml/train-sales-forecast/.")
    return model, artifact


def served_levels(forecaster: SalesForecaster) -> list[str]:
    """The levels the active artifact answers (a one-level training keeps the others it had)."""
    return list(forecaster.levels_)


def sales_forecast_frame(
    *, days_ahead: int, level: str = "total", id: str | None = None, start_date: date | None = None
) -> tuple[MLModel, SalesForecaster, pd.DataFrame]:
    """The active model's daily forecast for one series, as a DataFrame (for the API and the plot)."""
    model, forecaster = active_forecaster()
    if level == "product":
        id = canonical_id(id)
    frame = forecaster.predict(days_ahead, level=level, id=id, start_date=start_date)
    return model, forecaster, frame


def sales_forecast_plot_data(
    *, days_ahead: int, level: str = "total", id: str | None = None, start_date: date | None = None,
    history_days: int = 120,
) -> dict[str, Any]:
    """What the forecast chart draws: recent history, the forecast with its band, and a title."""
    model, forecaster, frame = sales_forecast_frame(days_ahead=days_ahead, level=level, id=id, start_date=start_date)
    key = canonical_id(id) if level == "product" else id
    history = forecaster.history(level, key).tail(history_days)
    what = "total" if level == "total" else f"{level} {id}"
    return {
        "history_dates": list(history["date"]),
        "history_sales": history["sales"].to_numpy(dtype=float).tolist(),
        "dates": list(frame["date"]),
        "predicted": frame["predicted_sales"].to_numpy(dtype=float).tolist(),
        "lower": frame["confidence_lower"].to_numpy(dtype=float).tolist(),
        "upper": frame["confidence_upper"].to_numpy(dtype=float).tolist(),
        "interval_level": float(forecaster.interval_level),
        "title": f"Sales forecast ({what}), {model.algorithm} v{model.version}",
    }


def level_last_data_date(forecaster: SalesForecaster, level: str) -> date:
    """The last day of data of `level`'s models (older than the artifact's when the level was carried)."""
    return forecaster.levels_[level]["units"].last_date_


def forecast_product_demand(horizon_days: int) -> pd.DataFrame | None:
    """Per-product daily unit forecast of the active sales_forecast model, for inventory.

    Columns product_id, date, predicted_quantity: one row per product per day, starting the day after
    the model's last day of data, for every product the model covers. None when there is no active
    model or it was trained without the product level. Raises InvalidParameterError when
    horizon_days is outside 1..the model's precomputed horizon.
    """
    try:
        _model, forecaster = active_forecaster()
    except NoActiveModelError:
        return None
    return forecaster.product_demand(int(horizon_days))
