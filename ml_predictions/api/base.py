"""Base classes every ML API view shares: authentication, permission, errors, filtering, pagination.

The plugin does not rely on the host's REST_FRAMEWORK settings: a host that only adds the app and
includes its routes gets the documented behaviour (JWT or session auth, the documented error shape,
`?model_type=` filters, `?page=` pagination). Each part is named by a dotted path in ML_PREDICTIONS
(AUTHENTICATION_CLASSES, EXCEPTION_HANDLER, FILTER_BACKENDS, PAGINATION_CLASS) so a host can swap one
without subclassing; the paths are resolved at request time so `override_settings` works in tests.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.module_loading import import_string
from rest_framework import generics, viewsets
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.routers import APIRootView
from rest_framework.views import APIView

from ml_predictions.api.parsers import SafeJSONParser
from ml_predictions.api.permissions import MLAPIPermission
from ml_predictions.api.schema import MLAutoSchema
from ml_predictions.api.throttling import MLUserThrottle
from ml_predictions.conf import ml_settings


class SettingClasses:
    """A class attribute read from ML_PREDICTIONS[key]: a list of dotted paths (or one path when
    `single`), imported on each access. A descriptor rather than a property so that DRF and
    drf-spectacular, which read these attributes on the class as well as on instances, see classes."""

    def __init__(self, key: str, single: bool = False) -> None:
        self.key = key
        self.single = single

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        value = ml_settings.get(self.key)
        if self.single:
            return import_string(value) if value else None
        return [import_string(path) for path in value or ()]


# No docstrings on these classes: drf-spectacular would show an inherited docstring as the description
# of every operation whose view has none.
class MLAPIMixin:
    # What every ML view sets itself instead of inheriting from the host's REST_FRAMEWORK.

    authentication_classes = SettingClasses("AUTHENTICATION_CLASSES")
    # JSON with a nesting limit (JSON_MAX_DEPTH) whatever the host's DEFAULT_PARSER_CLASSES say
    parser_classes = [SafeJSONParser, FormParser, MultiPartParser]
    throttle_classes = [MLUserThrottle]  # THROTTLE_RATES["api"], per user
    permission_classes = [MLAPIPermission]
    schema = MLAutoSchema()

    def get_exception_handler(self) -> Callable[..., Any]:
        return import_string(ml_settings.EXCEPTION_HANDLER)


class MLAPIView(MLAPIMixin, APIView):
    pass


class MLGenericAPIView(MLAPIMixin, generics.GenericAPIView):
    filter_backends = SettingClasses("FILTER_BACKENDS")
    pagination_class = SettingClasses("PAGINATION_CLASS", single=True)


class MLReadOnlyViewSet(MLAPIMixin, viewsets.ReadOnlyModelViewSet):
    filter_backends = SettingClasses("FILTER_BACKENDS")
    pagination_class = SettingClasses("PAGINATION_CLASS", single=True)


class MLAPIRootView(MLAPIMixin, APIRootView):
    """The router's index of /api/ml/, behind the same authentication and permission as the rest."""

    schema = None  # an index, not an operation (as DRF's own root view)


def ml_paginator() -> Any:
    """An instance of the configured pagination class, for views that paginate a hand-built list."""
    return import_string(ml_settings.PAGINATION_CLASS)()
