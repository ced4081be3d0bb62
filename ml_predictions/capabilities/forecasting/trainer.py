"""Trainer of the sales forecast: read the data source, fit the requested levels, keep the others.

Training every configured level (total, category, product) yields one artifact, so the active
sales_forecast model carries the per-product demand inventory needs. Training ONE level merges it
into the active artifact (estimators.forecasting.levels): a category-only training never takes the
total-level forecast away from predict-sales and the chart. Forecasts are computed at training time
for FORECAST_MAX_HORIZON_DAYS days; a prediction request only slices them.
"""
from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_noop

from ml_predictions.conf import ml_settings
from ml_predictions.data import get_data_source
from ml_predictions.errors import InvalidParameterError, MLError
from ml_predictions.estimators.forecasting import LEVELS, MODEL_TYPES, SalesForecaster
from ml_predictions.estimators.forecasting.hierarchy import RECONCILIATION_METHODS
from ml_predictions.estimators.forecasting.levels import level_dates, merge_levels
from ml_predictions.estimators.forecasting.report import honest_figures
from ml_predictions.models import ModelType
from ml_predictions.training.registry import get_active_artifact
from ml_predictions.training.types import ProgressCallback, TrainingOutcome

MODEL_CHOICES: tuple[str, ...] = (*MODEL_TYPES, "auto")
LEVEL_CHOICES: tuple[str, ...] = LEVELS
RECONCILIATION_CHOICES: tuple[str, ...] = RECONCILIATION_METHODS
# Every parameter `train` reads; `manage.py train` rejects other keys and routes `train all` keys by it.
TRAIN_PARAMS = ("model_type", "level", "reconciliation")


def requested_levels(level: str | None) -> tuple[tuple[str, ...], bool]:
    """(levels to fit, whether the other levels of the active model are carried over)."""
    if level in (None, "", "all"):
        return tuple(ml_settings.FORECAST_LEVELS), False
    if level in LEVELS:
        return (level,), True
    raise InvalidParameterError(f"level must be one of {[*LEVELS, 'all']}; got {level!r}.", field="level")


def build_forecaster(model_type: str, levels: tuple[str, ...], reconciliation: str | None = None) -> SalesForecaster:
    return SalesForecaster(
        model_type,
        levels=levels,
        reconciliation=reconciliation or ml_settings.FORECAST_RECONCILIATION,
        holidays=tuple(str(d)[:10] for d in ml_settings.FORECAST_HOLIDAYS or ()),
        test_days=int(ml_settings.FORECAST_TEST_DAYS),
        interval_level=float(ml_settings.FORECAST_INTERVAL_LEVEL),
        max_horizon=int(ml_settings.FORECAST_MAX_HORIZON_DAYS),
        max_train_rows=int(ml_settings.FORECAST_MAX_TRAIN_ROWS),
        product_train_rows=int(ml_settings.FORECAST_PRODUCT_TRAIN_ROWS),
        min_history_days=int(ml_settings.FORECAST_MIN_HISTORY_DAYS),
        random_state=ml_settings.RANDOM_STATE,
    )


def _active_forecaster() -> tuple[Any, Any]:
    """(active model row, its artifact), or (None, None) when there is nothing usable to carry over."""
    try:
        return get_active_artifact(ModelType.SALES_FORECAST)
    except MLError:  # no active model, or an artifact that no longer loads: nothing to carry
        return None, None


def train(params: dict[str, Any], progress: ProgressCallback) -> TrainingOutcome:
    """Trainer for the runner: params model_type (default FORECAST_DEFAULT_MODEL) and level."""
    model_type = params.get("model_type") or ml_settings.FORECAST_DEFAULT_MODEL
    if model_type not in MODEL_CHOICES:
        raise InvalidParameterError(f"model_type must be one of {list(MODEL_CHOICES)}; got {model_type!r}.",
                                    field="model_type")
    levels, keep_others = requested_levels(params.get("level"))
    reconciliation = params.get("reconciliation") or ml_settings.FORECAST_RECONCILIATION
    if reconciliation not in RECONCILIATION_CHOICES:
        raise InvalidParameterError(f"reconciliation must be one of {list(RECONCILIATION_CHOICES)}; "
                                    f"got {reconciliation!r}.", field="reconciliation")
    progress(5, "Reading order lines")
    source = get_data_source()
    lines = source.order_lines()
    products = source.products() if "category" in levels or "product" in levels else None
    progress(15, f"{len(lines)} order lines read")
    fresh = build_forecaster(model_type, levels, reconciliation).fit(lines, products, progress=progress)
    progress(90, "Forecasts computed")
    carried: list[str] = []
    artifact = fresh
    carried_from: dict[str, Any] = {}
    if keep_others:
        active_model, active = _active_forecaster()
        artifact, carried = merge_levels(fresh, active)
        if carried:
            origin = active_model.metrics.get("level_versions", {}) if active_model is not None else {}
            carried_from = {lvl: origin.get(lvl, active_model.version) for lvl in carried}
    metrics = honest_figures(artifact.metrics_)
    metrics["levels_trained"] = list(levels)
    metrics["levels_carried"] = carried
    metrics["level_dates"] = level_dates(artifact)
    # the version that fitted each carried level (this version fits the others; the runner knows its number)
    metrics["level_versions"] = carried_from
    chosen = metrics.get("model") or model_type
    days = (fresh.last_date_ - fresh.first_date_).days + 1
    return TrainingOutcome(
        artifact=artifact,
        algorithm=chosen if model_type != "auto" else f"auto:{chosen}",
        metrics=metrics,
        parameters={"model_type": model_type, "levels": list(levels), "levels_served": list(artifact.levels_),
                    "interval_level": fresh.interval_level, "max_horizon_days": fresh.max_horizon,
                    "reconciliation": reconciliation},
        n_samples=days,
        data_start=fresh.first_date_,
        data_end=fresh.last_date_,
        message=gettext_noop("Sales forecast model trained successfully"),
        response={
            "levels": list(levels),
            "levels_served": list(artifact.levels_),
            "levels_carried": carried,
            "forecast_start": fresh.forecast_start_.isoformat(),
            "max_horizon_days": fresh.max_horizon,
            "summary": metrics["summary"],
            "reconciliation": artifact.reconciliation_method,
        },
    )
