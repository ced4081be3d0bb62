"""URLs of the host project: the shop admin, JWT auth, the ML plugin and its API docs."""
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from ml_predictions.api.docs import MLRedocView
from ml_predictions.api.views import HealthView

TOKEN_PAIR = {"refresh": "eyJhbGciOiJIUzI1NiIs…", "access": "eyJhbGciOiJIUzI1NiIs…"}


@extend_schema_view(post=extend_schema(
    tags=["auth"],
    summary="Get a JWT pair (staff credentials) for the ML API",
    examples=[OpenApiExample("Credentials", value={"username": "admin", "password": "admin"}, request_only=True),
              OpenApiExample("Tokens", value=TOKEN_PAIR, response_only=True)],
))
class TokenView(TokenObtainPairView):
    pass


@extend_schema_view(post=extend_schema(
    tags=["auth"],
    summary="Refresh the access token",
    examples=[OpenApiExample("Refresh", value={"refresh": TOKEN_PAIR["refresh"]}, request_only=True),
              OpenApiExample("New access", value={"access": TOKEN_PAIR["access"]}, response_only=True)],
))
class RefreshView(TokenRefreshView):
    pass


urlpatterns = [
    path("", RedirectView.as_view(pattern_name="ml_predictions:dashboard"), name="home"),
    path("admin/", admin.site.urls),
    path("api/auth/token/", TokenView.as_view(), name="token_obtain_pair"),
    path("api/auth/token/refresh/", RefreshView.as_view(), name="token_refresh"),
    path("api/ml/", include("ml_predictions.urls")),
    path("health", HealthView.as_view(), name="health"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", MLRedocView.as_view(url_name="schema"), name="redoc"),
]

# /api/ paths get JSON errors in the documented shape; other paths keep Django's pages.
handler404 = "ml_predictions.api.fallback.handler404"
handler500 = "ml_predictions.api.fallback.handler500"
