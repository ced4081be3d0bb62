"""Writes of the inventory capability: keep the stored InventoryAlert rows in step with the analysis.

Why it is built this way:
- An admin's daily routine is "look at the analysis, work through the alert list", so the list must be
  the analysis, not last week's training: every analysis (the three GET endpoints, cached or not,
  `refresh_inventory`, its task and `train inventory`) calls `inventory_alerts_sync`.
- Set-based and idempotent: one read of the open alerts, then only the rows whose figures changed are
  updated, new ones are bulk-created and the ones no longer true are closed in one UPDATE. Re-running
  the same analysis writes nothing (not even `updated_at`).
- Safe when two analyses run at once: the sync runs in one transaction behind a PostgreSQL advisory
  lock (the second waits, then sees the first's rows and finds nothing to do); on other databases the
  partial unique constraint "one open alert per product and type" and `ignore_conflicts` keep
  duplicates out.
- The alert list follows the latest analysis date: a look back (`?as_of=` earlier than the date the
  stored alerts were computed for) never rewrites today's list.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd
from django.conf import settings
from django.core.cache import caches
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone, translation

from ml_predictions.capabilities.inventory.selectors import InventoryAnalysis, cached_inventory_analysis
from ml_predictions.capabilities.inventory.text import alert_messages
from ml_predictions.conf import ml_settings
from ml_predictions.data_changes import mark_alerts_changed
from ml_predictions.models import InventoryAlert

logger = logging.getLogger(__name__)

# Fields an analysis writes; comparing them decides whether an open row needs an UPDATE.
SYNCED_FIELDS = ("product_name", "current_stock", "recommended_stock", "predicted_demand_7days",
                 "predicted_demand_30days", "urgency_level", "estimated_stockout_date", "product_class",
                 "message", "as_of")
ADVISORY_LOCK_KEY = 0x6D6C5F696E76  # "ml_inv": one key for the whole alert table
SYNC_TOKEN_KEY = "ml_predictions:inventory_alerts_synced"


@dataclass
class AlertSync:
    """What one sync did (`skipped` says why it wrote nothing on purpose)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    auto_resolved: int = 0
    snoozed: int = 0
    skipped: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "auto_resolved": self.auto_resolved, "snoozed": self.snoozed, "skipped": self.skipped}


def _wanted_alerts(alerts: pd.DataFrame, as_of: date) -> dict[tuple[str, str], dict[str, Any]]:
    """(product_id, alert_type) -> the stored row's figures (rows are alerts, not orders)."""
    # stored messages are in the site's language, whatever the request's, so a request in another
    # language does not rewrite every row
    with translation.override(settings.LANGUAGE_CODE):
        messages = alert_messages(alerts) if len(alerts) else []
    classes = alerts["abc_xyz"] if "abc_xyz" in alerts.columns else pd.Series("", index=alerts.index)
    cols = ["product_id", "alert_type", "product_name", "current_stock", "recommended_stock",
            "predicted_demand_7days", "predicted_demand_30days", "urgency_level", "estimated_stockout_date"]
    wanted: dict[tuple[str, str], dict[str, Any]] = {}
    rows = zip(*(alerts[c].tolist() for c in cols), classes.tolist(), messages, strict=True)
    for pid, atype, name, stock, target, d7, d30, urgency, stockout, klass, message in rows:
        wanted[(str(pid), str(atype))] = {
            "product_name": str(name)[:255],
            "current_stock": int(stock) if pd.notna(stock) else 0,
            "recommended_stock": int(target),
            "predicted_demand_7days": round(float(d7), 1),
            "predicted_demand_30days": round(float(d30), 1),
            "urgency_level": int(urgency),
            "estimated_stockout_date": stockout if isinstance(stockout, date) else None,
            "product_class": str(klass or "")[:2],
            "message": message,
            "as_of": as_of,
        }
    return wanted


def _serialize_syncs() -> None:
    """Make concurrent syncs run one after the other (PostgreSQL); a no-op elsewhere."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])


def inventory_alerts_sync(*, analysis: InventoryAnalysis, now: Any = None, force: bool = False) -> AlertSync:
    """Make the open InventoryAlert rows equal to the analysis' alerts, in one transaction.

    Open alert of the same (product, type) -> its figures updated in place (only if they changed); open
    alerts no longer true -> `auto_resolved` with `resolved_at`; new ones -> created, unless the same
    (product, type) was resolved by a person within INVENTORY_RESOLVED_SNOOZE_DAYS (snoozed). Resolved
    and auto-resolved rows are history and are never modified. An analysis dated before the stored
    alerts' latest `as_of` writes nothing unless `force` (a look back does not rewrite today's list).
    """
    now = now or timezone.now()
    wanted = _wanted_alerts(analysis.optimizer.alerts(), analysis.as_of)
    snooze = int(ml_settings.INVENTORY_RESOLVED_SNOOZE_DAYS or 0)
    result = AlertSync()
    with transaction.atomic():
        _serialize_syncs()
        latest = InventoryAlert.objects.aggregate(latest=Max("as_of"))["latest"]
        if latest is not None and analysis.as_of < latest and not force:
            result.skipped = f"analysis date {analysis.as_of} is before the stored alerts' {latest}"
            return result
        open_rows = list(
            InventoryAlert.objects.select_for_update()
            .filter(status=InventoryAlert.Status.OPEN)
            .values("id", "product_id", "alert_type", *SYNCED_FIELDS)
        )
        snoozed: set[tuple[str, str]] = set()
        if snooze:
            snoozed = set(InventoryAlert.objects.filter(
                status=InventoryAlert.Status.RESOLVED, resolved_at__gte=now - timedelta(days=snooze),
            ).values_list("product_id", "alert_type"))
        to_update, to_close, seen = [], [], set()
        for row in open_rows:
            key = (row["product_id"], row["alert_type"])
            if key not in wanted or key in seen:
                to_close.append(row["id"])
                continue
            seen.add(key)
            values = wanted[key]
            if all(row[f] == values[f] for f in SYNCED_FIELDS):
                result.unchanged += 1
            else:
                to_update.append(InventoryAlert(pk=row["id"], updated_at=now, **values))
        to_create = [
            InventoryAlert(product_id=pid, alert_type=atype, status=InventoryAlert.Status.OPEN, created_at=now,
                           updated_at=now, **values)
            for (pid, atype), values in wanted.items() if (pid, atype) not in seen and (pid, atype) not in snoozed
        ]
        if to_close:
            InventoryAlert.objects.filter(pk__in=to_close).update(
                status=InventoryAlert.Status.AUTO_RESOLVED, resolved_at=now, updated_at=now, as_of=analysis.as_of)
        if to_update:
            InventoryAlert.objects.bulk_update(to_update, [*SYNCED_FIELDS, "updated_at"], batch_size=500)
        if to_create:
            # another database's concurrent sync may have created the same open alert a moment ago
            InventoryAlert.objects.bulk_create(to_create, batch_size=1000, ignore_conflicts=True)
        if to_close or to_update or to_create:
            mark_alerts_changed()  # bulk writes send no signals; rendered answers name the open rows
    result.created, result.updated, result.auto_resolved = len(to_create), len(to_update), len(to_close)
    result.snoozed = sum(1 for k in wanted if k in snoozed and k not in seen)
    return result


def _sync_token(analysis: InventoryAnalysis) -> str:
    return f"{analysis.as_of}|{analysis.computed_at}"


def inventory_analysis_refresh(*, as_of: date | str | None = None,
                               service_level: float | None = None) -> tuple[InventoryAnalysis, AlertSync]:
    """The (cached) analysis with the stored alerts synced to it: what every GET endpoint and
    `refresh_inventory` run.

    A cache hit whose analysis was already synced skips the sync (the warm GET stays a cache read); the
    token is cleared by any other sync (a training, another date), so the next GET syncs again.
    A `service_level` override is a what-if ("what would 0.99 cost?"): it is computed and cached on its
    own and never synced, because the alert list an admin works from follows the configured levels.
    """
    if service_level is not None:
        analysis, _hit = cached_inventory_analysis(as_of=as_of, overrides={"service_level": service_level})
        return analysis, AlertSync(skipped="what-if service level: stored alerts follow the configured levels")
    analysis, hit = cached_inventory_analysis(as_of=as_of)
    cache = caches[ml_settings.INVENTORY_CACHE_ALIAS]
    token = _sync_token(analysis)
    if hit:
        try:
            if cache.get(SYNC_TOKEN_KEY) == token:
                return analysis, AlertSync(skipped="already synced")
        except Exception:  # noqa: BLE001 — an unreachable cache only costs a sync
            logger.warning("inventory sync token unreadable; syncing", exc_info=True)
    sync = inventory_alerts_sync(analysis=analysis)
    _remember_sync(token if sync.skipped is None else None)
    return analysis, sync


def _remember_sync(token: str | None) -> None:
    try:
        cache = caches[ml_settings.INVENTORY_CACHE_ALIAS]
        if token is None:
            cache.delete(SYNC_TOKEN_KEY)
        else:
            cache.set(SYNC_TOKEN_KEY, token, int(ml_settings.INVENTORY_CACHE_SECONDS or 0) or None)
    except Exception:  # noqa: BLE001 — the token only saves work
        logger.warning("inventory sync token not stored", exc_info=True)


def inventory_alerts_sync_uncached(*, analysis: InventoryAnalysis, force: bool = False) -> AlertSync:
    """Sync from an analysis computed outside the cache (a training with its own parameters)."""
    sync = inventory_alerts_sync(analysis=analysis, force=force)
    _remember_sync(None)
    return sync
