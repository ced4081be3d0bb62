"""Routes of /api/ml/. Each capability keeps its own routes in its own module (listed here)."""
from django.urls import include, path, re_path
from rest_framework.routers import DefaultRouter

from ml_predictions.api import forecasting, inventory, monitoring, operations, recommendations, segmentation
from ml_predictions.api.base import MLAPIRootView
from ml_predictions.api.fallback import api_not_found
from ml_predictions.api.views import (
    InventoryAlertViewSet,
    MLModelViewSet,
    MLTrainingLogViewSet,
    PredictionViewSet,
)


class MLRouter(DefaultRouter):
    APIRootView = MLAPIRootView


router = MLRouter()
router.register("models", MLModelViewSet, basename="mlmodel")
router.register("predictions", PredictionViewSet, basename="prediction")
router.register("inventory-alerts", InventoryAlertViewSet, basename="inventoryalert")
router.register("training-logs", MLTrainingLogViewSet, basename="traininglog")

urlpatterns = [
    *segmentation.urlpatterns,
    *forecasting.urlpatterns,
    *recommendations.urlpatterns,
    *inventory.urlpatterns,
    *operations.urlpatterns,
    *monitoring.urlpatterns,
    path("", include(router.urls)),
    re_path(r"", api_not_found),  # last: an unknown path under the prefix is a JSON 404, not an HTML page
]
