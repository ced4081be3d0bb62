"""Django glue of inventory optimization: read the shop, pick the demand source, fit, persist, answer.

Why it is built this way:
- The math lives in `services.inventory_optimization` (no Django); here we only read the data source
  once per table, choose where demand comes from, and turn results into responses and alert rows.
- Demand source: the sales-forecasting capability's `forecast_product_demand(horizon_days)` is imported
  lazily, because it may not be installed (or trained). When it is missing, returns None, or fails,
  demand falls back to the robust recent average of the service, and every response says which
  source was used (`demand_source`: forecast, history, or mixed when only some products are forecast).
- Alerts are persisted set-based: one read of the open alerts, one bulk_update, one bulk_create and one
  UPDATE closing the alerts that are no longer true; resolved alerts are history and never touched.
- Human-readable text is built here with gettext so the host translates it; the service only returns
  codes and counts.
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
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ml_predictions.conf import ml_settings
from ml_predictions.data import get_data_source
from ml_predictions.errors import InsufficientDataError, InvalidParameterError, MLError
from ml_predictions.estimators.inventory.optimizer import InventoryOptimizer
from ml_predictions.models import InventoryAlert, MLModel, ModelType
from ml_predictions.training.types import ProgressCallback, TrainingOutcome

logger = logging.getLogger(__name__)

FORECAST_HORIZON_DAYS = 30
# Parameters a training run (or the management command) may override; everything else is a setting.
TRAIN_PARAMS = ("service_level", "order_policy", "lead_time_cv", "review_period_days", "as_of")


@dataclass
class InventoryAnalysis:
    """A fitted optimizer plus what the responses need to say about how it was computed."""

    optimizer: InventoryOptimizer
    as_of: date
    demand_source: str
    forecast_products: int
    inactive_excluded: int
    duration_seconds: float
    read_seconds: float = 0.0
    computed_at: str = field(default_factory=lambda: timezone.now().isoformat())


def build_optimizer(overrides: dict[str, Any] | None = None) -> InventoryOptimizer:
    """An optimizer configured from ML_PREDICTIONS, with per-run overrides (validated by the service)."""
    s = ml_settings
    params: dict[str, Any] = {
        "service_level": s.SERVICE_LEVEL,
        "category_service_levels": dict(s.INVENTORY_CATEGORY_SERVICE_LEVELS or {}),
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
    params.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return InventoryOptimizer(**params)


def product_demand_forecast(horizon_days: int = FORECAST_HORIZON_DAYS) -> pd.DataFrame | None:
    """The forecasting capability's product-level forecast, or None (not installed, untrained, failing)."""
    if not ml_settings.INVENTORY_USE_FORECAST:
        return None
    try:
        from ml_predictions.capabilities.forecasting.services import (
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


def _parse_as_of(value: Any) -> date:
    if value in (None, ""):
        return timezone.localdate()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise InvalidParameterError(f"as_of must be a date (YYYY-MM-DD); got {value!r}.", field="as_of") from exc


def run_inventory_analysis(*, as_of: date | str | None = None, overrides: dict[str, Any] | None = None) -> InventoryAnalysis:
    """Compute the policy, alerts and health for every active product as of `as_of` (default today).

    Reads products once and the order lines of the optimizer's history window once; writes nothing.
    """
    started = time.perf_counter()
    as_of_date = _parse_as_of(as_of)
    optimizer = build_optimizer(overrides)
    optimizer._validate()  # bad settings/params -> 400 before any read
    source = get_data_source()
    read_started = time.perf_counter()
    products = source.products()
    active = products["active"].astype(bool).to_numpy() if len(products) else np.array([], dtype=bool)
    inactive = int((~active).sum())
    products = products[active].reset_index(drop=True)
    if products.empty:
        raise InsufficientDataError("There are no active products to analyse.")
    windows = optimizer.history_windows(as_of_date)
    frames = [source.order_lines(start=start, end=end)[["product_id", "ordered_at", "quantity"]]
              for start, end in windows]
    lines = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    read_seconds = time.perf_counter() - read_started
    if lines.empty:
        start = windows[0][0]
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
                             round(time.perf_counter() - started, 3), round(read_seconds, 3))


# --------------------------------------------------------------------------- cached analysis (GET endpoints)
CACHE_KEY_PREFIX = "ml_predictions:inventory_analysis:"


def analysis_cache_key(as_of: date, optimizer: InventoryOptimizer) -> str | None:
    """Everything the analysis depends on, hashed; None when the data source cannot fingerprint its data.

    The key holds the analysis date, the optimizer's parameters (settings), the active inventory and
    forecast model ids (the forecast is the demand source; a retrain or a rollback changes the id) and the
    data source's fingerprint of exactly what the analysis reads: the products and the order lines of
    its history windows. Any change of stock or orders therefore changes the key, so a cached analysis
    is never served for data it was not computed from. The response filters (category, alert type,
    urgency, limit) are not in it: they are cheap cuts of one analysis, which all three endpoints share.
    """
    source = get_data_source()
    fingerprint = source.fingerprint(order_windows=optimizer.history_windows(as_of), products=True)
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


def cached_inventory_analysis(*, as_of: date | str | None = None) -> tuple[InventoryAnalysis, bool]:
    """The analysis for `as_of`, from Django's cache when nothing it depends on changed; (analysis, hit).

    The GET endpoints recompute on demand (stock moves every day), which costs seconds at 10k products,
    almost all of it reading order lines. Checking a fingerprint costs one aggregate query per history
    window plus a read of the (small) product table, so a repeated request skips the read and the fit.
    INVENTORY_CACHE_SECONDS = 0 turns this off; a cache backend failure only costs a recomputation.
    """
    ttl = int(ml_settings.INVENTORY_CACHE_SECONDS or 0)
    if ttl <= 0:
        return run_inventory_analysis(as_of=as_of), False
    as_of_date = _parse_as_of(as_of)
    optimizer = build_optimizer()
    optimizer._validate()
    key = analysis_cache_key(as_of_date, optimizer)
    if key is None:
        return run_inventory_analysis(as_of=as_of_date), False
    cache = caches[ml_settings.INVENTORY_CACHE_ALIAS]
    try:
        cached = cache.get(key)
    except Exception:  # noqa: BLE001 — an unreachable cache must not fail the request
        logger.warning("inventory analysis cache unreadable; recomputing", exc_info=True)
        cached = None
    if isinstance(cached, InventoryAnalysis):
        return cached, True
    analysis = run_inventory_analysis(as_of=as_of_date)
    try:
        cache.set(key, analysis, ttl)
    except Exception:  # noqa: BLE001 — e.g. an item larger than memcached's limit
        logger.warning("inventory analysis not cached", exc_info=True)
    return analysis, False


# --------------------------------------------------------------------------- text (translatable)
def health_recommendations(codes: list[tuple[str, int]], history_days: int) -> list[str]:
    """Plain-language advice in the active language (seed 004: "Reabastecer 8 productos con stock bajo")."""
    texts = {
        "out_of_stock": lambda n: ngettext(
            "%(count)d product with demand is already out of stock: order it today",
            "%(count)d products with demand are already out of stock: order them today", n),
        "restock_low": lambda n: ngettext(
            "Restock %(count)d product with low stock", "Restock %(count)d products with low stock", n),
        "high_demand": lambda n: ngettext(
            "Check supply for %(count)d product selling well above its forecast",
            "Check supply for %(count)d products selling well above their forecast", n),
        "promote_overstock": lambda n: ngettext(
            "Consider promotions for %(count)d overstocked product",
            "Consider promotions for %(count)d overstocked products", n),
        "liquidate_slow": lambda n: ngettext(
            "Apply a clearance strategy to %(count)d slow-moving product",
            "Apply a clearance strategy to %(count)d slow-moving products", n),
        "no_history": lambda n: ngettext(
            "%(count)d product has no sales in the last %(days)d days: check that it is still on sale",
            "%(count)d products have no sales in the last %(days)d days: check that they are still on sale", n),
        "missing_cost": lambda n: ngettext(
            "Enter the unit cost of %(count)d product so order costs can be estimated",
            "Enter the unit cost of %(count)d products so order costs can be estimated", n),
        "all_good": lambda n: _("Inventory is healthy: no action needed"),
    }
    return [texts[code](count) % {"count": count, "days": history_days} for code, count in codes]


def alert_messages(alerts: pd.DataFrame) -> list[str]:
    """One sentence per alert row (rows are alerts, a few thousand at most, not orders)."""
    templates = {
        "reorder_now": _("Stock %(stock)d is at or below the reorder point; order up to %(target)d units."),
        "low_stock": _("Stock %(stock)d will reach the reorder point within a week; prepare an order."),
        "slow_moving": _("Stock %(stock)d is barely selling (last sale: %(last)s)."),
        "overstock": _("Stock %(stock)d covers more than %(cover)d days of demand."),
        "high_demand": _("Selling %(recent).1f a day, well above the expected %(ref).1f a day."),
    }
    never = _("none in the history read")
    out = []
    for row in alerts.itertuples(index=False):
        since = row.days_since_last_sale
        last = never if not np.isfinite(since) else ngettext("%(n)d day ago", "%(n)d days ago", int(since)) % {"n": since}
        cover = row.current_stock / row.daily_demand if row.daily_demand > 0 else 0
        out.append(templates[row.alert_type] % {
            "stock": row.current_stock, "target": row.recommended_stock, "last": last, "cover": cover,
            "recent": row.recent_daily, "ref": row.reference_daily if np.isfinite(row.reference_daily) else 0.0,
        })
    return out


# --------------------------------------------------------------------------- persistence
def sync_alerts(alerts: pd.DataFrame, *, now: Any = None) -> dict[str, int]:
    """Make the open InventoryAlert rows equal to `alerts`, set-based.

    Open alert of the same (product, type) -> updated in place; open alerts no longer true -> closed;
    new ones -> created, unless the same (product, type) was resolved within
    INVENTORY_RESOLVED_SNOOZE_DAYS. Resolved and closed rows are history and are never modified.
    """
    now = now or timezone.now()
    messages = alert_messages(alerts) if len(alerts) else []
    wanted: dict[tuple[str, str], dict[str, Any]] = {}
    for i, row in enumerate(alerts.itertuples(index=False)):
        wanted[(str(row.product_id), row.alert_type)] = {
            "product_name": str(row.product_name)[:255],
            "current_stock": int(row.current_stock),
            "recommended_stock": int(row.recommended_stock),
            "predicted_demand_7days": float(row.predicted_demand_7days),
            "predicted_demand_30days": float(row.predicted_demand_30days),
            "urgency_level": int(row.urgency_level),
            "estimated_stockout_date": row.estimated_stockout_date,
            "message": messages[i],
        }
    fields = ["product_name", "current_stock", "recommended_stock", "predicted_demand_7days",
              "predicted_demand_30days", "urgency_level", "estimated_stockout_date", "message", "updated_at"]
    snooze = int(ml_settings.INVENTORY_RESOLVED_SNOOZE_DAYS or 0)
    with transaction.atomic():
        open_rows = list(
            InventoryAlert.objects.select_for_update()
            .filter(status=InventoryAlert.Status.OPEN)
            .values_list("id", "product_id", "alert_type")
        )
        snoozed: set[tuple[str, str]] = set()
        if snooze:
            snoozed = set(
                InventoryAlert.objects.filter(
                    status=InventoryAlert.Status.RESOLVED, resolved_at__gte=now - timedelta(days=snooze)
                ).values_list("product_id", "alert_type")
            )
        to_update, to_close, seen = [], [], set()
        for pk, product_id, alert_type in open_rows:
            key = (product_id, alert_type)
            if key in wanted and key not in seen:
                seen.add(key)
                to_update.append(InventoryAlert(pk=pk, product_id=product_id, alert_type=alert_type,
                                                updated_at=now, **wanted[key]))
            else:
                to_close.append(pk)
        to_create = [
            InventoryAlert(product_id=pid, alert_type=atype, status=InventoryAlert.Status.OPEN, created_at=now,
                           updated_at=now, **values)
            for (pid, atype), values in wanted.items()
            if (pid, atype) not in seen and (pid, atype) not in snoozed
        ]
        if to_close:
            InventoryAlert.objects.filter(pk__in=to_close).update(status=InventoryAlert.Status.CLOSED, updated_at=now)
        if to_update:
            InventoryAlert.objects.bulk_update(to_update, fields, batch_size=500)
        if to_create:
            InventoryAlert.objects.bulk_create(to_create, batch_size=1000)
    return {"created": len(to_create), "updated": len(to_update), "closed": len(to_close),
            "snoozed": len([k for k in wanted if k in snoozed and k not in seen])}


# --------------------------------------------------------------------------- training
def train(params: dict[str, Any], progress: ProgressCallback) -> TrainingOutcome:
    """The "inventory" model type: compute the policy, persist alerts, store the policy as artifact."""
    unknown = sorted(set(params) - set(TRAIN_PARAMS))
    if unknown:
        raise InvalidParameterError(
            f"Unknown inventory parameter(s) {unknown}; allowed: {list(TRAIN_PARAMS)}.", field=unknown[0])
    progress(10, "Reading products and recent sales")
    overrides = {k: v for k, v in params.items() if k != "as_of"}
    analysis = run_inventory_analysis(as_of=params.get("as_of"), overrides=overrides)
    progress(70, "Policy computed")
    opt = analysis.optimizer
    alerts = opt.alerts()
    health = opt.health()
    summary = opt.summary()
    issues = opt.data_issues()
    metrics = {
        "total_products": int(len(opt.policy_)),
        "total_alerts": summary["total_alerts"],
        "by_type": summary["by_type"],
        "health_score": health.health_score,
        "status": health.status,
        "reorder_recommendations": int((opt.policy_["recommended_order_quantity"] > 0).sum()),
        "demand_source": analysis.demand_source,
        "forecast_products": analysis.forecast_products,
        "seasonal_index": round(opt.seasonal_index_, 3),
        "products_without_history": len(issues["no_sales_history"]),
        "products_without_cost": len(issues["missing_cost"]),
        "products_default_lead_time": len(issues["default_lead_time"]),
        "inactive_excluded": analysis.inactive_excluded,
        "analysis_seconds": analysis.duration_seconds,
    }
    sync_result: dict[str, int] = {}

    def persist(model: MLModel) -> None:
        sync_result.update(sync_alerts(alerts))

    artifact = {
        "optimizer": opt,  # fitted: policy_ and alerts_ as of `as_of`
        "as_of": analysis.as_of,
        "demand_source": analysis.demand_source,
    }
    progress(80, "Persisting alerts")

    # alerts_sync is filled by `persist`, which the runner calls before it builds the response
    response = dict(as_of=str(analysis.as_of), demand_source=analysis.demand_source, alerts_sync=sync_result,
                         health_score=health.health_score, status=health.status)
    return TrainingOutcome(
        artifact=artifact,
        algorithm=f"service_level_{opt.order_policy}",
        metrics=metrics,
        parameters={**opt.get_params(), "as_of": str(analysis.as_of)},
        n_samples=int(len(opt.policy_)),
        data_start=analysis.as_of - timedelta(days=opt.history_days_),
        data_end=analysis.as_of - timedelta(days=1),
        message=_("Inventory policy computed and alerts updated"),
        response=response,
        on_registered=persist,
    )

