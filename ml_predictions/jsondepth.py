"""Nesting depth of a JSON text without parsing it: the guard in front of the API's JSON parser.

It lives outside api/ because it is arithmetic (numpy), which the layer rules keep out of the views.
"""
from __future__ import annotations

import re

import numpy as np

MAX_DEPTH = 32

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def bracket_depth(raw: bytes) -> int:
    """Deepest bracket nesting of `raw`, vectorised: a megabyte body of apply rows costs milliseconds."""
    if not raw:
        return 0
    return int(np.cumsum(_STEP[np.frombuffer(raw, dtype=np.uint8)], dtype=np.int32).max())


def json_depth(text: str, limit: int = MAX_DEPTH) -> int:
    """An upper bound of the nesting depth, exact when over `limit`: depth outside strings, without recursion (the check must not be the thing that overflows).
    Brackets inside strings only ever add depth, so the exact (slower) pass runs only when the fast count
    is over the limit."""
    fast = bracket_depth(text.encode("utf-8", "ignore"))
    if fast <= limit:
        return fast
    return bracket_depth(_STRING.sub("", text).encode("utf-8", "ignore"))


_STEP = np.zeros(256, dtype=np.int8)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1
