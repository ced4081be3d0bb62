"""A cheap stamp of "the shop's data changed", so a cached result can skip re-checking the data.

Why: a warm inventory GET spent ~200 ms of its ~250 ms proving the data unchanged (the data source's
fingerprint: aggregates over the order lines and a read of every product). The stamp is one cache read.

How it moves:
- Saves and deletes through the ORM of the models the data source reads (the configured order-line and
  product models and every model their mapped fields pass through, e.g. the order for its status and
  date) bump it, through `post_save`/`post_delete` receivers. The plugin learns those models from its
  own settings; it never imports the host.
- Bulk writers that bypass signals (`QuerySet.update()`, COPY, raw SQL: the host's importer and
  generator) call `mark_changed()` themselves.
- The stamp lives in the inventory cache (INVENTORY_CACHE_ALIAS), so clearing that cache drops it too
  and the next reader starts a new one: a lost stamp can only cause a recheck, never a stale answer.
- A bump happens at once and again when the writer's transaction commits: a reader that computed a
  fingerprint from the data before the commit keyed it by the stamp of that moment, which the commit's
  bump retires.

It sits outside `ml_predictions.data` (which re-exports `mark_changed` and `data_version`) because the
app's ready() connects the receivers and must not import pandas with the data sources.

Writes the signals cannot see (another program writing the tables, a forgotten `mark_changed()`) are
caught by the fingerprint's own expiry, INVENTORY_FINGERPRINT_SECONDS.
"""
from __future__ import annotations

import logging
import uuid
from functools import lru_cache
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import FieldDoesNotExist
from django.core.signals import setting_changed
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from ml_predictions.conf import ml_settings

logger = logging.getLogger(__name__)

VERSION_KEY = "ml_predictions:data_version"
ALERTS_KEY = "ml_predictions:inventory_alerts_version"
REGISTRY_KEY = "ml_predictions:registry_version"
PREDICTIONS_KEY = "ml_predictions:predictions_version"
# the data-source tables whose writes are signalled (customers are not read by any cached result)
TRACKED_TABLES = (("ORDER_ITEM_MODEL", "order_line"), ("PRODUCT_MODEL", "product"))


def _cache() -> Any | None:
    """The stamps' cache; None when the alias is not configured (allowed while INVENTORY_CACHE_SECONDS is 0,
    and reported by check ml_predictions.E005 otherwise), so writes do not log a failure each."""
    alias = ml_settings.INVENTORY_CACHE_ALIAS
    return caches[alias] if alias in settings.CACHES else None


def _read_stamp(key: str) -> str | None:
    """The stamp under `key` (a new one when none is stored); None when the cache cannot be reached."""
    cache = _cache()
    if cache is None:
        return None
    try:
        version = cache.get(key)
        if version is None:
            cache.add(key, uuid.uuid4().hex, None)  # two first readers agree on one stamp
            version = cache.get(key)
    except Exception:  # noqa: BLE001 — no cache: callers must check the data itself
        logger.warning("change stamp %s unreadable", key, exc_info=True)
        return None
    return version if isinstance(version, str) else None


def _bump(key: str = VERSION_KEY) -> None:
    cache = _cache()
    if cache is None:
        return
    try:
        cache.set(key, uuid.uuid4().hex, None)
    except Exception:  # noqa: BLE001 — a cache that cannot be written cannot serve a stale stamp either
        logger.warning("change stamp %s not bumped", key, exc_info=True)


def _bump_now_and_on_commit(key: str) -> None:
    _bump(key)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: _bump(key))


def data_version() -> str | None:
    """The shop data's current stamp; None when the cache cannot be reached."""
    return _read_stamp(VERSION_KEY)


def mark_changed() -> None:
    """Tell the plugin the shop's orders or products changed outside the ORM's save()/delete().

    Call it after a bulk write (`QuerySet.update()`, `bulk_create`, COPY, raw SQL) of the tables the data
    source reads; inside a transaction it bumps the stamp now and again when the transaction commits.
    """
    _bump_now_and_on_commit(VERSION_KEY)


def alerts_version() -> str | None:
    """The stored inventory alerts' stamp: a rendered inventory answer names each alert's open row, so it
    is only reused while no alert was synced, resolved or edited."""
    return _read_stamp(ALERTS_KEY)


def mark_alerts_changed() -> None:
    """Called by the alert sync after its bulk writes; saves and deletes of an alert are signalled."""
    _bump_now_and_on_commit(ALERTS_KEY)


def registry_version() -> str | None:
    """The model registry's stamp: moved by every save/delete of an MLModel and by the registry's bulk
    writes (activation, restore, a monitoring note in `metrics`), so a cached answer that shows models
    (GET /models/, the dashboard) is reused only while none of them changed in a way it shows."""
    return _read_stamp(REGISTRY_KEY)


def mark_registry_changed() -> None:
    """Called after a write of MLModel rows that bypasses save() (`QuerySet.update()`)."""
    _bump_now_and_on_commit(REGISTRY_KEY)


def predictions_version() -> str | None:
    """The Prediction log's stamp: moved by every save and delete of a row (cascades included), so the
    dashboard's cached counts need no COUNT over the whole log per request."""
    return _read_stamp(PREDICTIONS_KEY)


def mark_predictions_changed() -> None:
    """For writers of Prediction rows that bypass save()/delete() (`QuerySet.update()`, raw SQL)."""
    _bump_now_and_on_commit(PREDICTIONS_KEY)


def _related_models(model: type[models.Model], path: str) -> list[type[models.Model]]:
    """The models a lookup path such as "order__created_at" passes through after `model` (the last part is
    the column itself: "order__customer_id" is a value stored on the order, not a customer's)."""
    found = []
    for part in path.split("__")[:-1]:
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:  # a transform or a wrong path: the data source names those errors
            break
        if not (field.is_relation and field.related_model is not None):
            break
        model = field.related_model
        found.append(model)
    return found


@lru_cache(maxsize=1)
def tracked_models() -> frozenset[type[models.Model]]:
    """The configured models whose saves and deletes change what the data source reads."""
    tracked: set[type[models.Model]] = set()
    for setting, table in TRACKED_TABLES:
        label = getattr(ml_settings, setting)
        if not label:
            continue
        try:
            model = apps.get_model(label)
        except (LookupError, ValueError):
            continue  # misconfigured: the system checks say so
        tracked.add(model)
        for path in (ml_settings.FIELDS or {}).get(table, {}).values():
            if path:
                tracked.update(_related_models(model, path))
    return frozenset(tracked)


def _on_write(sender: type[models.Model], **kwargs: Any) -> None:
    if kwargs.get("raw"):  # loaddata: fixtures load before the stamp matters
        return
    if sender in tracked_models():
        mark_changed()
    elif sender._meta.label == "ml_predictions.InventoryAlert":
        mark_alerts_changed()
    elif sender._meta.label == "ml_predictions.MLModel":
        mark_registry_changed()
    elif sender._meta.label == "ml_predictions.Prediction":
        mark_predictions_changed()


def connect_change_signals() -> None:
    """Called from the app's ready(); one receiver for every model, filtered by `tracked_models()`, so
    override_settings of the models in tests needs no reconnection."""
    post_save.connect(_on_write, dispatch_uid="ml_predictions.data_changes.save")
    post_delete.connect(_on_write, dispatch_uid="ml_predictions.data_changes.delete")


@receiver(setting_changed)
def _reset_on_settings_change(*, setting: str, **kwargs: Any) -> None:
    if setting == "ML_PREDICTIONS":
        tracked_models.cache_clear()
