"""The one place where domain errors (ml_predictions.errors) become HTTP answers.

    {"success": false, "error": {"code": "...", "message": "...", "fields": {"field": ["..."]}}}

DRF's own errors (validation, auth, 404, 405, throttling) and our domain errors all come out in this
shape, so a client handles errors in one place. A bare 500 is a bug; it is logged with its traceback.
"""
from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ml_predictions.errors import (
    ArtifactError,
    ConflictError,
    DataSourceError,
    InsufficientDataError,
    InvalidParameterError,
    MLError,
    NoActiveModelError,
    NotFittedBase,
    NotFoundError,
    TrainingInProgressError,
)

logger = logging.getLogger("ml_predictions.api")

# Most specific first: the first class an error is an instance of decides its status.
HTTP_STATUS: tuple[tuple[type[MLError], int], ...] = (
    (InsufficientDataError, 422),
    (InvalidParameterError, 400),
    (NotFoundError, 404),
    (NoActiveModelError, 409),
    (TrainingInProgressError, 409),
    (ArtifactError, 409),
    (NotFittedBase, 409),
    (ConflictError, 409),
    (DataSourceError, 500),
    (MLError, 400),
)


def http_status(exc: BaseException) -> int:
    """The HTTP status a domain error maps to; 500 for anything that is not a domain error (a bug)."""
    for cls, code in HTTP_STATUS:
        if isinstance(exc, cls):
            return code
    return 500


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            inner = _first_message(value)
            return inner if key in ("detail", "non_field_errors") else f"{key}: {inner}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def error_body(code: str, message: str, fields: dict | None = None, details: dict | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    if details:
        error["details"] = details
    return {"success": False, "error": error}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every error in the documented shape."""
    if isinstance(exc, MLError):
        fields = {exc.field: [exc.message]} if exc.field else None
        return Response(error_body(exc.code, exc.message, fields, exc.details), status=http_status(exc))
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    code = getattr(exc, "default_code", "error")
    fields = None
    if isinstance(exc, exceptions.ValidationError):
        code = "invalid"
        fields = detail if isinstance(detail, dict) else {"non_field_errors": detail}
    message = _first_message(detail)
    response.data = error_body(code, message, fields)
    if response.status_code >= status.HTTP_500_INTERNAL_SERVER_ERROR:
        logger.error("API error %s: %s", response.status_code, message)
    return response
