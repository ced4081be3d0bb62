"""Retry the training machinery's short database writes when the database is momentarily busy.

Why: on SQLite one writer holds the file lock at a time. With a busy timeout most waits resolve on
their own, but a web request that holds the write lock longer than the timeout (or a deferred read
transaction that SQLite refuses to upgrade) still surfaces as OperationalError "database is locked",
and before this wrapper that one error threw away minutes of training. PostgreSQL's counterparts are
deadlocks and serialization failures. Each write wrapped here is small and idempotent (an UPDATE of
one log row, the registry's version switch), so running it again after a pause is safe.

A retry only makes sense outside any enclosing transaction: inside one, the outer block is already
broken and must be rolled back by its owner, so the error is re-raised unchanged.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError, connection

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Lower-cased fragments of the transient errors: SQLite's lock/busy, PostgreSQL's deadlock, serialization.
_TRANSIENT = ("database is locked", "database table is locked", "database is busy", "deadlock detected",
              "could not serialize access")


def is_transient(exc: BaseException) -> bool:
    """Whether `exc` is a lock/busy error that goes away if the same write is tried again later."""
    text = str(exc).lower()
    return isinstance(exc, OperationalError) and any(fragment in text for fragment in _TRANSIENT)


def retry_on_lock(
    operation: Callable[[], T], *, what: str = "database write", attempts: int = 8, base_delay: float = 0.05,
    max_delay: float = 2.0, sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `operation`; on a transient lock error wait (exponential backoff with jitter) and run it again.

    Total wait with the defaults is about 6 s on top of each attempt's own busy timeout, far more than
    any of our writes holds the lock, but bounded so a database that is really down still fails loudly.
    """
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except OperationalError as exc:
            if not is_transient(exc) or attempt == attempts or connection.in_atomic_block:
                raise
            delay = min(max_delay, base_delay * 2 ** (attempt - 1)) * (0.5 + random.random())
            logger.warning("%s hit %r (attempt %s/%s); retrying in %.2fs", what, str(exc), attempt, attempts, delay)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
