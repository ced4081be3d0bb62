"""The one figure that says how good a model is, per model type, for the compact summaries
(`GET /api/ml/dashboard-summary/`, the dashboard page): a reader of the summary should not have to
know each capability's metrics dict. The first metric present wins, so older models still show one."""
from __future__ import annotations

from typing import Any

from ml_predictions.models import ModelType

KEY_METRICS: dict[str, tuple[str, ...]] = {
    # scale-free forecast error against the seasonal naive (lower is better), then the plain ones
    ModelType.SALES_FORECAST: ("mase", "test_mae", "test_rmse"),
    ModelType.PRODUCT_RECOMMENDATION: ("recall_at_10", "precision_at_10", "avg_similarity"),
    ModelType.CUSTOMER_SEGMENTATION: ("silhouette_score", "davies_bouldin"),
    ModelType.INVENTORY: ("health_score", "total_alerts"),
}


def key_metric(model_type: str, metrics: dict[str, Any] | None) -> dict[str, Any] | None:
    """{"name": ..., "value": ...} of the model's headline metric, or None when it has none."""
    metrics = metrics or {}
    for name in KEY_METRICS.get(model_type, ()):
        value = metrics.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return {"name": name, "value": round(float(value), 4)}
    return None
