"""OpenAPI: one tag per capability (their descriptions are in ml_predictions/spectacular.py).

The views carry their own schema class (api/base.py), so the tags do not depend on the host's
DEFAULT_SCHEMA_CLASS or on where the host mounts the routes (path-based tags would all read "api").
"""
from __future__ import annotations

from drf_spectacular.openapi import AutoSchema

# Tag of the views of each api module; the registry viewsets of api/views.py are tagged by class.
MODULE_TAGS = {
    "ml_predictions.api.forecasting": "forecasting",
    "ml_predictions.api.recommendations": "recommendations",
    "ml_predictions.api.segmentation": "segmentation",
    "ml_predictions.api.segment_history": "segmentation",
    "ml_predictions.api.segment_diagnostics": "segmentation",
    "ml_predictions.api.inventory": "inventory",
    "ml_predictions.api.operations": "operations",
    "ml_predictions.api.monitoring": "monitoring",
    "ml_predictions.api.training": "operations",
}
CLASS_TAGS = {
    "MLModelViewSet": "models",
    "PredictionViewSet": "models",
    "MLTrainingLogViewSet": "operations",
    "InventoryAlertViewSet": "inventory",
    "MLAPIRootView": "operations",
}

class MLAutoSchema(AutoSchema):
    def get_tags(self) -> list[str]:
        view = type(self.view)
        tag = CLASS_TAGS.get(view.__name__) or MODULE_TAGS.get(view.__module__)
        return [tag] if tag else super().get_tags()
