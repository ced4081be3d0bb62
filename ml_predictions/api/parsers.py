"""A JSON parser that refuses deep nesting with a 400 instead of a RecursionError (a 500).

Python's decoder recurses once per nesting level, so a few kilobytes of `[[[[...` exhaust the stack;
no request of this API nests deeper than a handful of levels, so MAX_DEPTH is generous.
"""
from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def bracket_depth(raw: bytes) -> int:
    """Deepest bracket nesting of `raw`, vectorised: a megabyte body of apply rows costs milliseconds."""
    if not raw:
        return 0
    return int(np.cumsum(_STEP[np.frombuffer(raw, dtype=np.uint8)], dtype=np.int32).max())


def json_depth(text: str) -> int:
    """An upper bound of the nesting depth, exact when over MAX_DEPTH: depth outside strings, without recursion (the check must not be the thing that overflows).
    Brackets inside strings only ever add depth, so the exact (slower) pass runs only when the fast count
    is over the limit."""
    fast = bracket_depth(text.encode("utf-8", "ignore"))
    if fast <= MAX_DEPTH:
        return fast
    return bracket_depth(_STRING.sub("", text).encode("utf-8", "ignore"))


_STEP = np.zeros(256, dtype=np.int8)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1


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
