"""JSON parsers that refuse deep nesting with a 400 instead of a RecursionError (a 500), and a body
over a route's size limit with a JSON 413.

Python's decoder recurses once per nesting level, so a few kilobytes of `[[[[...` exhaust the stack;
no request of this API nests deeper than a handful of levels, so the limit (ML_PREDICTIONS
JSON_MAX_DEPTH, default 32) is generous. The plugin's views use these parsers whatever the host's
REST_FRAMEWORK says (api/base.py).
"""
from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser, JSONParser

from ml_predictions.conf import ml_settings
from ml_predictions.jsondepth import MAX_DEPTH, bracket_depth, json_depth  # noqa: F401  (re-exported)


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"
    default_detail = "The request body is larger than this endpoint accepts."


def _decode(raw: bytes, encoding: str) -> Any:
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ParseError(f"JSON parse error - the body is not valid {encoding}") from exc
    limit = int(ml_settings.JSON_MAX_DEPTH)
    if json_depth(text, limit) > limit:
        raise ParseError(f"JSON parse error - nested deeper than {limit} levels")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise ParseError(f"JSON parse error - {exc}") from exc


class SafeJSONParser(JSONParser):
    """DRF's JSONParser with a nesting limit; everything else (encoding, strict floats) unchanged.
    DRF reads the body through `request.body` for it, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE applies
    (a JSON 413 beyond it, exceptions.exception_handler)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        return _decode(stream.read(), encoding)


class LargeJSONParser(BaseParser):
    """The nesting-limited JSON parser for a route whose documented input is larger than Django's
    upload limit (segments/apply: 100,000 rows): not a JSONParser subclass, so DRF hands it the raw
    stream instead of `request.body`, and it enforces its own limit (the setting named by
    `limit_setting`, in bytes) with a JSON 413."""

    media_type = "application/json"
    limit_setting = "APPLY_MAX_BODY_BYTES"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        parser_context = parser_context or {}
        limit = int(ml_settings.get(self.limit_setting))
        request = parser_context.get("request")
        declared = getattr(request, "META", {}).get("CONTENT_LENGTH") if request is not None else None
        if declared and str(declared).isdigit() and int(declared) > limit:
            raise RequestTooLarge(f"The request body is {int(declared):,} bytes; this endpoint accepts "
                                  f"at most {limit:,}.")
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestTooLarge(f"The request body is over this endpoint's {limit:,}-byte limit.")
        return _decode(raw, parser_context.get("encoding", settings.DEFAULT_CHARSET))


def _reject_constant(name: str) -> Any:
    # DRF's strict mode: NaN and Infinity are not JSON
    raise ValueError(f"{name} is not valid JSON")
