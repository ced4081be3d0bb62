"""The one place where domain errors (ml_predictions.errors) become HTTP answers.

    {"success": false, "error": {"code": "...", "message": "...", "fields": {"field": ["..."]}}}

DRF's own errors (validation, auth, 404, 405, throttling) and our domain errors all come out in this
shape, so a client handles errors in one place. A 500 is a bug: its traceback is logged under a
correlation id that the answer carries too (`error.request_id` and the `X-Request-ID` header), so an
operator finds the traceback a user quotes; the answer itself never shows the exception's text (a
database error's message names the host and port).
"""
from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import Http404, HttpRequest, JsonResponse
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


REQUEST_ID_HEADER = "X-Request-ID"
# A proxy's id is reused only when it looks like one: it goes into logs and headers verbatim.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


def request_id(request: Any) -> str:
    """The correlation id of this request: the caller's (or proxy's) X-Request-ID when it is a sane
    token, else a fresh one; stored on the request so every log line and the answer agree."""
    django_request = getattr(request, "_request", request)
    existing = getattr(django_request, "ml_request_id", None)
    if existing:
        return existing
    incoming = (getattr(django_request, "META", {}) or {}).get("HTTP_X_REQUEST_ID", "")
    rid = incoming if _REQUEST_ID.match(incoming or "") else uuid.uuid4().hex
    try:
        django_request.ml_request_id = rid
    except AttributeError:  # a request object that refuses attributes: the id is still answered and logged
        pass
    return rid


def server_error_body(rid: str) -> dict[str, Any]:
    """A 500's answer: the correlation id, never the exception's text."""
    body = error_body("server_error", f"Internal server error; quote request id {rid} to the operator.")
    body["error"]["request_id"] = rid
    return body


def log_unexpected(exc: BaseException, rid: str, where: str) -> None:
    """The traceback of a bug, under the id its answer carries."""
    logger.error("unexpected %s at %s [request_id=%s]", exc.__class__.__name__, where, rid,
                 exc_info=(type(exc), exc, exc.__traceback__))


def json_error(request: HttpRequest, status_code: int, code: str, message: str) -> JsonResponse:
    """An error in the documented shape for plain Django views (404/500 handlers, the catch-all route)."""
    if status_code >= 500:
        rid = request_id(request)
        response = JsonResponse(server_error_body(rid), status=status_code)
        response[REQUEST_ID_HEADER] = rid
        return response
    return JsonResponse(error_body(code, message), status=status_code)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every error in the documented shape, an unexpected one included (a JSON
    500 with a correlation id instead of the host's HTML error page)."""
    if isinstance(exc, MLError):
        fields = {exc.field: [exc.message]} if exc.field else None
        response = Response(error_body(exc.code, exc.message, fields, exc.details), status=http_status(exc))
        if response.status_code >= 500:
            rid = request_id(context.get("request"))
            response.data["error"]["request_id"] = rid
            response[REQUEST_ID_HEADER] = rid
            log_unexpected(exc, rid, _where(context))
        return response
    if isinstance(exc, RequestDataTooBig):
        return Response(error_body("request_too_large", "The request body is larger than this endpoint accepts."),
                        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        # Django's DATA_UPLOAD_MAX_NUMBER_FIELDS/FILES guard a form body; long lists belong in a JSON body
        return Response(error_body("too_many_fields", "The form body has more fields than the server accepts "
                                   "(DATA_UPLOAD_MAX_NUMBER_FIELDS); send the lists as a JSON body."),
                        status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, SuspiciousOperation):
        # Django answers these 400 outside DRF (a malformed multipart body, an invalid Host): a client's doing
        return Response(error_body("bad_request", "The request is malformed."), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        rid = request_id(context.get("request"))
        log_unexpected(exc, rid, _where(context))
        response = Response(server_error_body(rid), status=status.HTTP_500_INTERNAL_SERVER_ERROR)
        response[REQUEST_ID_HEADER] = rid
        return response
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


def _where(context: dict[str, Any]) -> str:
    request = context.get("request")
    view = context.get("view")
    path = getattr(request, "path", "?")
    return f"{getattr(request, 'method', '?')} {path} ({view.__class__.__name__ if view else '?'})"
