"""The three inventory GET answers as rendered bytes, reused while nothing they show can have changed.

Why: once the analysis is cached and the data stamp spares the fingerprint, a warm GET at 10k products
still spent ~150 ms of CPU cutting the analysis into rows (itertuples over ~6k alerts), reading every
open alert for its id, and JSON-encoding ~2 MB. The answer is a pure function of the analysis, the
filters, the request's language and the stored alerts, so its bytes are cached under a key made of
exactly those: the analysis' own cache key (settings, overrides, date, active models, data
fingerprint), the validated filters, the language and the alerts' change stamp
(`ml_predictions.data_changes.alerts_version`, moved by every sync that wrote and every save of an
alert). Both stamps are read before the answer is computed, so an answer is never stored under a key
older than the state it was computed from would allow; a concurrent change only costs a recomputation.
Only with the reused fingerprint (INVENTORY_FINGERPRINT_SECONDS > 0, the default).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from ml_predictions.answer_cache import KEY_PREFIX, answer_key, read_answer, store_answer
from ml_predictions.capabilities.inventory.reports import (
    health_report,
    inventory_analysis_report,
    reorder_report,
)
from ml_predictions.capabilities.inventory.selectors import analysis_cache_key, build_optimizer, parse_as_of
from ml_predictions.capabilities.inventory.services import inventory_analysis_refresh
from ml_predictions.conf import ml_settings
from ml_predictions.data_changes import alerts_version

logger = logging.getLogger(__name__)

ANSWER_KEY_PREFIX = f"{KEY_PREFIX}inventory_"  # + kind (answer_cache.answer_key)
REPORTS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "analysis": inventory_analysis_report, "reorder": reorder_report, "health": health_report,
}


def _analysis_key(filters: dict[str, Any]) -> str | None:
    """The key of the analysis the answer is cut from; None when answers must not be cached."""
    if int(ml_settings.INVENTORY_CACHE_SECONDS or 0) <= 0 or int(ml_settings.INVENTORY_FINGERPRINT_SECONDS or 0) <= 0:
        # without the reused fingerprint this key would cost a second fingerprint per request (~200 ms
        # at 10k products), more than the answer it would save
        return None
    optimizer = build_optimizer({"service_level": filters.get("service_level")})
    optimizer._validate()  # bad settings: the report raises the 400, nothing is cached
    return analysis_cache_key(parse_as_of(filters.get("as_of")) or timezone.localdate(), optimizer)


def answer_cache_key(kind: str, filters: dict[str, Any], analysis_key: str, alerts: str) -> str:
    """One rendered answer's key: what it is cut from, how, in which language (answer_key adds it), with
    which stored alerts."""
    return answer_key(f"inventory_{kind}", {"filters": filters, "analysis": analysis_key, "alerts": alerts})


def inventory_answer(kind: str, filters: dict[str, Any], render: Callable[[dict[str, Any]], bytes]) -> bytes:
    """The rendered answer of `kind` ("analysis", "reorder", "health") for validated `filters`.

    A miss refreshes the analysis (cached analysis + alert sync) first and reads the alerts' stamp after
    that sync, so the sync's own writes do not make the next request miss; the analysis part of the key
    is read before, so a data change during the miss can only leave a newer answer under an older key.
    Errors propagate unchanged (a 400 or 422 is never cached); a cache failure only costs the report.
    """
    analysis_key = _analysis_key(filters)
    alerts = alerts_version() if analysis_key is not None else None
    if analysis_key is None or alerts is None:
        return render(REPORTS[kind](filters))
    body = read_answer(answer_cache_key(kind, filters, analysis_key, alerts))
    if isinstance(body, bytes):
        return body
    analysis, _sync = inventory_analysis_refresh(as_of=filters.get("as_of"), service_level=filters.get("service_level"))
    alerts = alerts_version()
    body = render(REPORTS[kind](filters, analysis=analysis))
    if alerts is not None:
        store_answer(answer_cache_key(kind, filters, analysis_key, alerts), body, int(ml_settings.INVENTORY_CACHE_SECONDS))
    return body
