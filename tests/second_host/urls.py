"""The second host's routes: its admin, simplejwt's token view and the plugin, nothing else."""
from django.contrib import admin
from django.urls import include, path
from rest_framework_simplejwt.views import TokenObtainPairView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/token/", TokenObtainPairView.as_view()),
    path("api/ml/", include("ml_predictions.urls")),
]
