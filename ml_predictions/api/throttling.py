"""Throttles of the ML API and of the token endpoints, on a Django cache named in ML_PREDICTIONS.

DRF's SimpleRateThrottle reads its rates from the host's REST_FRAMEWORK and always uses the default
cache; these read ML_PREDICTIONS["THROTTLE_RATES"] and ["THROTTLE_CACHE"] instead, so the plugin's
limits hold in a host that configures no REST_FRAMEWORK. Local memory (Django's default cache) counts
per process; a Redis cache (CACHES) makes the limit hold across every worker. A rate of None turns a
scope off.

- `api`: every ML API call, per authenticated user (per IP for anonymous callers, who only get 401s).
- `token_ip` and `token_username`: the token endpoints, per client IP and per attempted username, so
  neither one client guessing many passwords nor many clients guessing one account get far.
"""
from __future__ import annotations

import hashlib
from typing import Any

from django.core.cache import caches
from rest_framework.throttling import SimpleRateThrottle

from ml_predictions.conf import ml_settings


class MLRateThrottle(SimpleRateThrottle):
    """SimpleRateThrottle over the plugin's settings (rates and cache read at request time, so
    `override_settings` works)."""

    scope = "api"

    def __init__(self) -> None:  # the parent reads THROTTLE_RATES from REST_FRAMEWORK here
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)

    @property
    def cache(self) -> Any:  # type: ignore[override]
        return caches[ml_settings.THROTTLE_CACHE]

    def get_rate(self) -> str | None:
        return (ml_settings.THROTTLE_RATES or {}).get(self.scope)

    def _key(self, ident: str) -> str:
        return self.cache_format % {"scope": f"ml_predictions:{self.scope}", "ident": ident}


class MLUserThrottle(MLRateThrottle):
    scope = "api"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        user = getattr(request, "user", None)
        ident = f"user:{user.pk}" if user is not None and user.is_authenticated else self.get_ident(request)
        return self._key(ident)


class TokenIPThrottle(MLRateThrottle):
    scope = "token_ip"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        return self._key(self.get_ident(request))


class TokenUsernameThrottle(MLRateThrottle):
    scope = "token_username"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        data = request.data if hasattr(request.data, "get") else {}
        username = data.get("username")
        if not isinstance(username, str) or not username:
            return None  # no account named: the IP throttle still counts the call
        return self._key(hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32])
