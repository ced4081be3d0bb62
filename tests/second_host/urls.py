"""The second host's routes: its admin, the plugin's throttled token views and the plugin, nothing else
(docs/installation.md: route the plugin's token views, not simplejwt's own, which are not throttled)."""
from django.contrib import admin
from django.urls import include, path

from ml_predictions.api.auth import MLTokenObtainPairView, MLTokenRefreshView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/token/", MLTokenObtainPairView.as_view()),
    path("api/token/refresh/", MLTokenRefreshView.as_view()),
    path("api/ml/", include("ml_predictions.urls")),
]
