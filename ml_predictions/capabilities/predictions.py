"""The one way a capability writes its prediction history (the Prediction table), with its sampling.

Batch answers (a forecast, a segmentation of an uploaded list) are recorded on every call. Per-entity
lookups that a shop calls once per page view (a product's recommendations, a customer's segment) are
sampled: recording each would turn a read endpoint into a write-heavy one. The sampling rate per model
type is a setting (RECOMMENDATION_LOG_EVERY, SEGMENTATION_LOG_EVERY: one call in N is recorded, 0 none);
a type without such a setting records every sampled call too.
"""
from __future__ import annotations

import json
from typing import Any

from django.db.models import QuerySet

from ml_predictions.models import MLModel, ModelType, Prediction
from ml_predictions.sampling import EveryNth

# Which setting gives the "one call in N" rate of a model type's sampled lookups.
SAMPLING_SETTINGS: dict[str, str] = {
    ModelType.PRODUCT_RECOMMENDATION: "RECOMMENDATION_LOG_EVERY",
    ModelType.CUSTOMER_SEGMENTATION: "SEGMENTATION_LOG_EVERY",
}
_samplers: dict[str, EveryNth] = {kind: EveryNth(setting) for kind, setting in SAMPLING_SETTINGS.items()}


def reset_prediction_sampling(kind: str | None = None) -> None:
    """The next sampled call (of `kind`, or of every type) is the first of its window: tests, fresh workers."""
    for name, sampler in _samplers.items():
        if kind is None or name == kind:
            sampler.reset()


def jsonable(value: Any) -> Any:
    """numpy scalars/arrays -> Python values, NaN -> None: a JSONField (jsonb) takes neither."""

    def default(obj: Any) -> Any:
        return obj.tolist() if hasattr(obj, "tolist") else str(obj)

    text = json.dumps(value, default=default, allow_nan=True)
    return json.loads(text, parse_constant=lambda _name: None)


def record_prediction(
    *,
    kind: str,
    target: str,
    inputs: dict[str, Any],
    output: dict[str, Any],
    model: MLModel | None = None,
    user: Any = None,
    sampled: bool = False,
) -> Prediction | None:
    """Write one Prediction row and return it; None when `sampled` and this call is not one of the 1-in-N.

    `sampled` is for per-entity lookups; leave it False for batch answers, which are always recorded.
    The target is cut to the column's 200 characters; inputs and output are made JSON-safe.
    """
    if sampled and kind in _samplers and not _samplers[kind].should_record():
        return None
    return Prediction.objects.create(
        model=model,
        kind=kind,
        target=str(target)[:200],
        input=jsonable(inputs),
        output=jsonable(output),
        created_by=user if getattr(user, "pk", None) else None,
    )


def prediction_list() -> QuerySet[Prediction]:
    """The prediction history, newest first by the model's ordering (the API filters and paginates it)."""
    return Prediction.objects.all()
