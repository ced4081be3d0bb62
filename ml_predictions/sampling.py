"""Deterministic "one call in N" sampling of Prediction rows for high-volume lookups.

A per-entity lookup (a product's recommendations, a customer's segment) can be called once per page
view; writing a history row for each would turn a read endpoint into a write-heavy one. A counter per
process (not a random draw) spreads the recorded calls evenly and makes the rule testable.
"""
from __future__ import annotations

import itertools
import threading

from ml_predictions.conf import ml_settings


class EveryNth:
    """Say yes to the 1st, (N+1)th, (2N+1)th… call in this process; N is read from a setting each time.

    N = 1 records every call, N = 0 (or unset) none; reading the setting per call keeps
    override_settings working in tests.
    """

    def __init__(self, setting: str) -> None:
        self.setting = setting
        self._lock = threading.Lock()
        self._counter = itertools.count()

    def should_record(self) -> bool:
        every = int(getattr(ml_settings, self.setting) or 0)
        if every <= 0:
            return False
        with self._lock:
            n = next(self._counter)
        return n % every == 0

    def reset(self) -> None:
        """The next call is the first of a sampling window (tests, fresh workers)."""
        with self._lock:
            self._counter = itertools.count()
