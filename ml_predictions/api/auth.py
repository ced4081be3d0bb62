"""simplejwt's token views as the plugin serves them: throttled per IP and per username, errors in the
documented shape and JSON with a nesting limit, whatever the host's REST_FRAMEWORK says. A host routes
these (or subclasses them) instead of simplejwt's own views."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.module_loading import import_string
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from ml_predictions.api.parsers import SafeJSONParser
from ml_predictions.api.throttling import TokenIPThrottle, TokenUsernameThrottle
from ml_predictions.conf import ml_settings


class _TokenMixin:
    parser_classes = [SafeJSONParser]
    throttle_classes = [TokenIPThrottle, TokenUsernameThrottle]

    def get_exception_handler(self) -> Callable[..., Any]:
        return import_string(ml_settings.EXCEPTION_HANDLER)


class MLTokenObtainPairView(_TokenMixin, TokenObtainPairView):
    pass


class MLTokenRefreshView(_TokenMixin, TokenRefreshView):
    pass
