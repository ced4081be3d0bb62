"""The drf-spectacular settings a host merges into its own SPECTACULAR_SETTINGS.

Plain data with no import of Django or DRF, so that a settings module can import it:
`SPECTACULAR_SETTINGS = {**ML_SPECTACULAR_SETTINGS, "TITLE": ...}`.
"""
from __future__ import annotations

from typing import Any

TAGS = [
    {"name": "forecasting", "description": "Sales forecasting: train, predict, chart."},
    {"name": "recommendations", "description": "Product recommendations: bought together, similar, for a customer."},
    {"name": "segmentation", "description": "Customer segmentation (RFM + K-means) and lifetime value."},
    {"name": "inventory", "description": "Inventory optimisation: analysis, reorder recommendations, alerts."},
    {"name": "models", "description": "The model registry and the prediction history."},
    {"name": "monitoring", "description": "Forecast accuracy, recommendation outcomes and drift after training."},
    {"name": "operations", "description": "Dashboard summary, retraining and training progress."},
]

# Merge into the host's SPECTACULAR_SETTINGS: `SPECTACULAR_SETTINGS = {**ML_SPECTACULAR_SETTINGS, ...}`.
# Swagger UI and ReDoc come from drf-spectacular-sidecar's static files (add "drf_spectacular_sidecar"
# to INSTALLED_APPS), so /api/docs/ works without Internet access.
ML_SPECTACULAR_SETTINGS: dict[str, Any] = {
    "TAGS": TAGS,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Prediction.kind and the registry's model_type are the same choice set: one enum component.
    "ENUM_NAME_OVERRIDES": {"ModelTypeEnum": "ml_predictions.models.ModelType.choices"},
    "COMPONENT_SPLIT_REQUEST": True,
}
