"""Answers of read endpoints kept in Django's cache, keyed on everything they are computed from.

Why: under load the reads that serve stored models (the model list, the sales forecast, the dashboard
figures) spent most of their time recomputing the same answer: serialising every model's metrics,
slicing the forecast, eight counting queries. Each answer is a pure function of a few inputs: the
validated request, the language, the model registry and the rows it counts. So the answer is cached
under a hash of exactly those, and a change of any of them is a new key, never a stale answer.

What the keys are made of (each caller names its own parts):
- the registry: `registry_fingerprint()` (one small query over the MLModel rows: which ones exist and
  which are active, so a training or an activation in any process is seen at once) plus the registry's
  change stamp (`data_changes.registry_version`, moved by every MLModel write, e.g. a monitoring note
  in `metrics`, which the fingerprint cannot see);
- the shop data: `data_changes.data_version` / `alerts_version` (what inventory's answers use);
- the request: validated parameters, the page and the absolute URL (pagination links carry it), the
  negotiated media type and the language.

The cache sits after authentication, permission and validation (the views call it once those passed),
errors are never cached (the compute raises through), and a cache that cannot be reached costs only
the computation. ANSWER_CACHE_SECONDS bounds each entry's life (0 turns the cache off); an entry whose
answer changes with the clock alone (the dashboard's "last 7 days") is given the time until then.
The stamps live in the cache INVENTORY_CACHE_ALIAS, so with a per-process cache (LocMemCache) another
process's writes that only a stamp sees show within ANSWER_CACHE_SECONDS: use a shared cache (Redis).
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import caches
from django.utils import translation

from ml_predictions.conf import ml_settings
from ml_predictions.data_changes import registry_version

logger = logging.getLogger(__name__)

KEY_PREFIX = "ml_predictions:answer:"
T = TypeVar("T")


def answer_ttl() -> int:
    """Seconds an answer is kept; 0 = answers are not cached."""
    return max(int(ml_settings.ANSWER_CACHE_SECONDS or 0), 0)


def answer_key(namespace: str, identity: Any) -> str:
    """The cache key of one answer: `namespace` plus a hash of `identity` and the active language."""
    text = json.dumps({"identity": identity, "language": translation.get_language()}, sort_keys=True, default=str)
    return f"{KEY_PREFIX}{namespace}:{hashlib.sha256(text.encode()).hexdigest()}"


def read_answer(key: str) -> Any | None:
    """The stored answer under `key`, or None (missing, or the cache unreachable)."""
    try:
        return caches[ml_settings.INVENTORY_CACHE_ALIAS].get(key)
    except Exception:  # noqa: BLE001 — an unreachable cache must not fail the request
        logger.warning("answer cache unreadable", exc_info=True)
        return None


def store_answer(key: str, value: Any, seconds: float) -> None:
    """Keep `value` under `key` for `seconds` (whole seconds, rounded down: never too long); failures are logged."""
    seconds = int(seconds)
    if seconds <= 0:
        return
    try:
        caches[ml_settings.INVENTORY_CACHE_ALIAS].set(key, value, seconds)
    except Exception:  # noqa: BLE001 — e.g. an item larger than memcached's limit
        logger.warning("answer not cached", exc_info=True)


def cached_answer(namespace: str, identity: Any, compute: Callable[[], T], *,
                  timeout: Callable[[T], float | None] | None = None,
                  keep: Callable[[T], bool] | None = None) -> T:
    """The answer for `identity`, from the cache or from `compute()` (then stored).

    `identity` must hold every input of the answer, stamps included, read *before* computing: a
    change during the computation then leaves the newer answer under the older key, which nobody
    asks for again. `timeout(answer)` can shorten an entry's life (None: the default); `keep(answer)`
    False leaves an answer out of the cache (e.g. anything but a 200). Exceptions propagate uncached.
    """
    if answer_ttl() <= 0 or identity is None:
        return compute()
    key = answer_key(namespace, identity)
    found = read_answer(key)
    if found is not None:
        return found
    answer = compute()
    if keep is None or keep(answer):
        shorter = timeout(answer) if timeout is not None else None
        store_answer(key, answer, answer_ttl() if shorter is None else min(shorter, answer_ttl()))
    return answer


def registry_fingerprint() -> str:
    """Which model versions exist and which are active, as one hash (one query over a few rows).

    A registration, a pruning or an activation in any process (the training worker included) changes
    it; edits of a row's other fields are seen through `registry_version()`.
    """
    from ml_predictions.models import MLModel  # noqa: PLC0415 — models load after the app registry

    rows = list(MLModel.objects.order_by("id").values_list("id", "is_active", "artifact_sha256"))
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def registry_identity() -> dict[str, Any] | None:
    """The registry part of a key (fingerprint and stamp); None when the stamp cannot be read."""
    stamp = registry_version()
    if stamp is None:
        return None
    return {"registry": registry_fingerprint(), "registry_stamp": stamp}
