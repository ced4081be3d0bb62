"""Reads of the inventory capability: configure the optimiser, read the shop, fit, cache the analysis.

Why it is built this way:
- The math lives in `ml_predictions.estimators.inventory` (no Django); here we only read the data
  source once per table, choose where demand comes from, and hand the fitted optimiser on.
- Demand source: the sales-forecasting capability's `forecast_product_demand(horizon_days)` is imported
  lazily, because it may not be installed (or trained). When it is missing or returns None, demand falls
  back to the optimiser's robust recent average, and every response says which source was used
  (`demand_source`: forecast, history, or mixed when only some products are forecast). Only named domain
  errors of the forecast fall back; anything else is a bug and propagates.
- Nothing here writes: alert rows are kept in step by `services.inventory_alerts_sync`.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from django.core.cache import caches
from django.utils import timezone

from ml_predictions.conf import ml_settings
from ml_predictions.data import data_version, get_data_source
from ml_predictions.errors import InsufficientDataError, InvalidParameterError, MLError
from ml_predictions.estimators.inventory.optimizer import InventoryOptimizer
from ml_predictions.models import InventoryAlert, MLModel, ModelType

logger = logging.getLogger(__name__)

FORECAST_HORIZON_DAYS = 30
# The earliest analysis date: the optimiser reads up to 365 + window days before it, which must stay a
# real calendar date (0001-01-01 used to overflow into a 500).
MIN_AS_OF = date(1970, 1, 1)
# A day of slack after today absorbs the server's and the client's time zones disagreeing.
MAX_AS_OF_DAYS_AHEAD = 1


@dataclass
class InventoryAnalysis:
    """A fitted optimiser plus what the responses need to say about how it was computed."""

    optimizer: InventoryOptimizer
    as_of: date
    demand_source: str
    forecast_products: int
    inactive_excluded: int
    duration_seconds: float
    read_seconds: float = 0.0
    computed_at: str = field(default_factory=lambda: timezone.now().isoformat())
    # "requested" (given by the caller), "today", or "last_order" when the history ends before today
    as_of_source: str = "requested"


def build_optimizer(overrides: dict[str, Any] | None = None) -> InventoryOptimizer:
    """An optimiser configured from ML_PREDICTIONS, with per-run overrides (validated by the optimiser).

    An explicit `service_level` override without `class_service_levels` turns the per-class levels off
    for that run: whoever asks for "0.99" means 0.99 for every product, not only for unlisted classes.
    """
    s = ml_settings
    params: dict[str, Any] = {
        "service_level": s.SERVICE_LEVEL,
        "category_service_levels": dict(s.INVENTORY_CATEGORY_SERVICE_LEVELS or {}),
        "class_service_levels": dict(s.INVENTORY_CLASS_SERVICE_LEVELS or {}),
        "service_type": s.INVENTORY_SERVICE_TYPE,
        "abc_thresholds": tuple(s.INVENTORY_ABC_THRESHOLDS),
        "xyz_thresholds": tuple(s.INVENTORY_XYZ_THRESHOLDS),
        "default_lead_time_days": s.DEFAULT_LEAD_TIME_DAYS,
        "lead_time_cv": s.INVENTORY_LEAD_TIME_CV,
        "demand_window_days": s.INVENTORY_DEMAND_WINDOW_DAYS,
        "review_period_days": s.INVENTORY_REVIEW_PERIOD_DAYS,
        "order_policy": s.INVENTORY_ORDER_POLICY,
        "ordering_cost": s.INVENTORY_ORDERING_COST,
        "holding_cost_rate": s.INVENTORY_HOLDING_COST_RATE,
        "low_stock_horizon_days": s.INVENTORY_LOW_STOCK_HORIZON_DAYS,
        "slow_moving_days": s.INVENTORY_SLOW_MOVING_DAYS,
        "slow_moving_sell_through": s.INVENTORY_SLOW_MOVING_SELL_THROUGH,
        "overstock_cover_days": s.INVENTORY_OVERSTOCK_COVER_DAYS,
        "high_demand_days": s.INVENTORY_HIGH_DEMAND_DAYS,
        "high_demand_ratio": s.INVENTORY_HIGH_DEMAND_RATIO,
        "high_demand_min_units": s.INVENTORY_HIGH_DEMAND_MIN_UNITS,
        "seasonal_adjustment": s.INVENTORY_SEASONAL_ADJUSTMENT,
    }
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    if "service_level" in overrides and "class_service_levels" not in overrides:
        # one service level asked for explicitly: it applies to every class (category levels still win)
        params["class_service_levels"] = {}
    params.update(overrides)
    return InventoryOptimizer(**params)


def product_demand_forecast(horizon_days: int = FORECAST_HORIZON_DAYS) -> pd.DataFrame | None:
    """The forecasting capability's product-level forecast, or None (not installed, untrained, no product level)."""
    if not ml_settings.INVENTORY_USE_FORECAST:
        return None
    try:
        from ml_predictions.capabilities.forecasting.selectors import (
            forecast_product_demand,  # lazy: the capability may not be installed
        )
    except ImportError:
        return None
    try:
        frame = forecast_product_demand(horizon_days)
    except MLError as exc:  # e.g. no active forecast model: the documented fallback applies
        logger.info("product forecast unavailable (%s); using recent sales", exc)
        return None
    if frame is None or len(frame) == 0:
        return None
    missing = {"product_id", "date", "predicted_quantity"} - set(frame.columns)
    if missing:
        logger.warning("product forecast lacks columns %s; using recent sales", sorted(missing))
        return None
    return frame


def check_as_of(value: date) -> date:
    """Refuse analysis dates the history windows cannot be computed for (a 400 naming `as_of`)."""
    latest = timezone.localdate() + timedelta(days=MAX_AS_OF_DAYS_AHEAD)
    if not MIN_AS_OF <= value <= latest:
        raise InvalidParameterError(
            f"as_of must be between {MIN_AS_OF} and {latest} (stock is only known for today); got {value}.",
            field="as_of")
    return value


def parse_as_of(value: Any) -> date | None:
    """The caller's analysis date, range-checked; None when not given (the analysis picks it)."""
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return check_as_of(value)
    try:
        parsed = date.fromisoformat(str(value))
    except ValueError as exc:
        raise InvalidParameterError(f"as_of must be a date (YYYY-MM-DD); got {value!r}.", field="as_of") from exc
    return check_as_of(parsed)


def last_order_date(source: Any) -> date | None:
    """The date of the most recent order line: the source's cheap `last_ordered_at()` when it has one."""
    reader = getattr(source, "last_ordered_at", None)
    if callable(reader):
        stamp = reader()
    else:
        lines = source.order_lines()
        stamp = lines["ordered_at"].max() if len(lines) else None
    if stamp is None or pd.isna(stamp):
        return None
    stamp = pd.Timestamp(stamp)
    return (stamp.tz_convert("UTC") if stamp.tzinfo else stamp).date()


def _read_lines(source: Any, optimizer: InventoryOptimizer, as_of: date) -> tuple[pd.DataFrame, bool]:
    """The order lines of the optimiser's history windows, and whether the recent window had any."""
    frames = [source.order_lines(start=start, end=end)[["product_id", "ordered_at", "quantity"]]
              for start, end in optimizer.history_windows(as_of)]
    lines = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return lines, not frames[0].empty


def run_inventory_analysis(*, as_of: date | str | None = None, overrides: dict[str, Any] | None = None) -> InventoryAnalysis:
    """Compute the policy, alerts and health for every active product as of `as_of`.

    Without `as_of` the analysis is for today, unless the shop sold nothing in the recent window and its
    history ends earlier: then it is for the day after the last order (`as_of_source: last_order`). An
    imported history (a year of a real shop that ended months ago) would otherwise always answer "no
    sales"; the response says which date was used so nobody mistakes the figures for today's.
    Reads products once and the order lines of the history windows once (twice in that fallback).
    """
    started = time.perf_counter()
    optimizer = build_optimizer(overrides)
    optimizer._validate()  # bad settings/params -> 400 before any read
    as_of_date = parse_as_of(as_of)
    as_of_source = "requested"
    if as_of_date is None:
        as_of_date, as_of_source = timezone.localdate(), "today"
    source = get_data_source()
    read_started = time.perf_counter()
    products = source.products()
    active = products["active"].astype(bool).to_numpy() if len(products) else np.array([], dtype=bool)
    inactive = int((~active).sum())
    products = products[active].reset_index(drop=True)
    if products.empty:
        raise InsufficientDataError("There are no active products to analyse.")
    lines, recent = _read_lines(source, optimizer, as_of_date)
    if not recent and as_of_source == "today":
        last = last_order_date(source)
        if last is not None and last < as_of_date:
            as_of_date, as_of_source = last + timedelta(days=1), "last_order"
            lines, recent = _read_lines(source, optimizer, as_of_date)
    read_seconds = time.perf_counter() - read_started
    if lines.empty:
        start = optimizer.history_windows(as_of_date)[0][0]
        raise InsufficientDataError(
            f"No sales between {start} and {as_of_date}: inventory optimization needs the last "
            f"{optimizer.product_days_needed} days of order history to estimate demand.",
            details={"as_of": str(as_of_date), "history_days": optimizer.product_days_needed},
        )
    forecast = product_demand_forecast()
    optimizer.fit(lines, products, as_of=as_of_date, forecast=forecast)
    n_forecast = int((optimizer.policy_["demand_source"] == "forecast").sum())
    demand_source = "history" if n_forecast == 0 else "forecast" if n_forecast == len(products) else "mixed"
    return InventoryAnalysis(optimizer, as_of_date, demand_source, n_forecast, inactive,
                             round(time.perf_counter() - started, 3), round(read_seconds, 3),
                             as_of_source=as_of_source)


# --------------------------------------------------------------------------- cached analysis (GET endpoints)
CACHE_KEY_PREFIX = "ml_predictions:inventory_analysis:"


FINGERPRINT_KEY_PREFIX = "ml_predictions:inventory_fingerprint:"


def _data_fingerprint(source: Any, windows: list[tuple[date, date]]) -> str | None:
    """The data source's fingerprint of the analysis' reads, reused while the data change stamp
    (`ml_predictions.data_changes`: ORM saves/deletes and `mark_changed()`) stays the same, for at most
    INVENTORY_FINGERPRINT_SECONDS (the net for writes nobody signalled); 0 checks the data every time."""
    ttl = int(ml_settings.INVENTORY_FINGERPRINT_SECONDS or 0)
    version = data_version() if ttl > 0 else None
    if version is None:
        return source.fingerprint(order_windows=windows, products=True)
    cache = caches[ml_settings.INVENTORY_CACHE_ALIAS]
    key = FINGERPRINT_KEY_PREFIX + hashlib.sha256(
        f"{type(source).__module__}.{type(source).__qualname__}|{windows}|{version}".encode()).hexdigest()
    try:
        stored = cache.get(key)
    except Exception:  # noqa: BLE001 — an unreachable cache only costs the queries
        stored = None
    if isinstance(stored, str):
        return stored
    fingerprint = source.fingerprint(order_windows=windows, products=True)
    if fingerprint is not None:
        try:
            cache.set(key, fingerprint, ttl)
        except Exception:  # noqa: BLE001
            logger.warning("inventory fingerprint not cached", exc_info=True)
    return fingerprint


def analysis_cache_key(as_of: date, optimizer: InventoryOptimizer) -> str | None:
    """Everything the analysis depends on, hashed; None when the data source cannot fingerprint its data.

    The key holds the analysis date, the optimiser's parameters (settings), the active inventory and
    forecast model ids (the forecast is the demand source; a retrain or a rollback changes the id) and the
    data source's fingerprint of exactly what the analysis reads: the products and the order lines of
    its history windows. Any change of stock or orders therefore changes the key, so a cached analysis
    is never served for data it was not computed from. The response filters (category, alert type,
    urgency, limit) are not in it: they are cheap cuts of one analysis, which all three endpoints share.
    """
    source = get_data_source()
    fingerprint = _data_fingerprint(source, optimizer.history_windows(as_of))
    if fingerprint is None:
        return None
    active = dict(MLModel.objects.filter(
        is_active=True, model_type__in=[ModelType.INVENTORY, ModelType.SALES_FORECAST],
    ).values_list("model_type", "id"))
    identity = {
        "as_of": as_of.isoformat(),
        "params": optimizer.get_params(),
        "use_forecast": bool(ml_settings.INVENTORY_USE_FORECAST),
        "forecast_horizon": FORECAST_HORIZON_DAYS,
        "inventory_model": str(active.get(ModelType.INVENTORY)),
        "forecast_model": str(active.get(ModelType.SALES_FORECAST)),
        "source": f"{type(source).__module__}.{type(source).__qualname__}",
        "data": fingerprint,
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()
    return CACHE_KEY_PREFIX + digest


def cached_inventory_analysis(*, as_of: date | str | None = None,
                              overrides: dict[str, Any] | None = None) -> tuple[InventoryAnalysis, bool]:
    """The analysis for `as_of`, from Django's cache when nothing it depends on changed; (analysis, hit).

    The GET endpoints recompute on demand (stock moves every day), which costs seconds at 10k products,
    almost all of it reading order lines. Checking a fingerprint costs one aggregate query per history
    window plus a read of the (small) product table, so a repeated request skips the read and the fit.
    INVENTORY_CACHE_SECONDS = 0 turns this off; a cache backend failure only costs a recomputation.
    `overrides` (a what-if such as another service level) are optimiser parameters, so they are part of
    the key and each what-if is cached apart from the configured analysis.
    """
    ttl = int(ml_settings.INVENTORY_CACHE_SECONDS or 0)
    optimizer = build_optimizer(overrides)
    optimizer._validate()
    as_of_date = parse_as_of(as_of)
    if ttl <= 0:
        return run_inventory_analysis(as_of=as_of_date, overrides=overrides), False
    # without as_of the key is today's: an analysis that fell back to the last order is cached under it,
    # and a new order (which changes today's windows' fingerprint) brings the analysis back to today
    key = analysis_cache_key(as_of_date or timezone.localdate(), optimizer)
    if key is None:
        return run_inventory_analysis(as_of=as_of_date, overrides=overrides), False
    cache = caches[ml_settings.INVENTORY_CACHE_ALIAS]
    try:
        cached = cache.get(key)
    except Exception:  # noqa: BLE001 — an unreachable cache must not fail the request
        logger.warning("inventory analysis cache unreadable; recomputing", exc_info=True)
        cached = None
    if isinstance(cached, InventoryAnalysis):
        return cached, True
    analysis = run_inventory_analysis(as_of=as_of_date, overrides=overrides)
    try:
        cache.set(key, analysis, ttl)
    except Exception:  # noqa: BLE001 — e.g. an item larger than memcached's limit
        logger.warning("inventory analysis not cached", exc_info=True)
    return analysis, False


def stored_alert_states(now: Any = None) -> dict[tuple[str, str], tuple[str | None, str]]:
    """(product_id, alert_type) -> (id of the open stored alert, "open"), or (None, "snoozed") when a person
    resolved it within INVENTORY_RESOLVED_SNOOZE_DAYS; two queries, no IN list (SQLite's limit)."""
    now = now or timezone.now()
    states: dict[tuple[str, str], tuple[str | None, str]] = {}
    snooze = int(ml_settings.INVENTORY_RESOLVED_SNOOZE_DAYS or 0)
    if snooze:
        for pid, atype in InventoryAlert.objects.filter(
                status=InventoryAlert.Status.RESOLVED, resolved_at__gte=now - timedelta(days=snooze),
        ).values_list("product_id", "alert_type"):
            states[(pid, atype)] = (None, "snoozed")
    for pk, pid, atype in InventoryAlert.objects.filter(status=InventoryAlert.Status.OPEN).values_list(
            "id", "product_id", "alert_type"):
        states[(pid, atype)] = (str(pk), "open")
    return states
