"""Include with `path("api/ml/", include("ml_predictions.urls"))`."""
from django.urls import include, path

app_name = "ml_predictions"

urlpatterns = [path("", include("ml_predictions.api.urls"))]
