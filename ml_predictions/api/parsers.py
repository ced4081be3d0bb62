"""A JSON parser that refuses deep nesting with a 400 instead of a RecursionError (a 500).

Python's decoder recurses once per nesting level, so a few kilobytes of `[[[[...` exhaust the stack;
no request of this API nests deeper than a handful of levels, so MAX_DEPTH is generous.
"""
from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from ml_predictions.jsondepth import MAX_DEPTH, bracket_depth, json_depth  # noqa: F401  (re-exported)


class SafeJSONParser(JSONParser):
    """DRF's JSONParser with a nesting limit; everything else (encoding, strict floats) unchanged."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
        except UnicodeDecodeError as exc:
            raise ParseError(f"JSON parse error - the body is not valid {encoding}") from exc
        if json_depth(text) > MAX_DEPTH:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels")
        try:
            return json.loads(text, parse_constant=_reject_constant)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc


def _reject_constant(name: str) -> Any:
    # DRF's strict mode: NaN and Infinity are not JSON
    raise ValueError(f"{name} is not valid JSON")
