"""System checks that tell the host at start-up what is misconfigured (instead of a 500 later)."""
from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.utils.module_loading import import_string

from ml_predictions.conf import DEFAULTS, ml_settings

IMMEDIATE_BACKEND = "django_tasks.backends.immediate.ImmediateBackend"


@register(Tags.compatibility)
def check_ml_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors: list[Error] = []
    if ml_settings.DATA_SOURCE == DEFAULTS["DATA_SOURCE"]:
        # the shipped adapter needs no import to be known: importing it (pandas) would cost every
        # manage.py command, a migrate or a shell included, about half a second for nothing
        orm_source = True
    else:
        try:
            source_cls = import_string(ml_settings.DATA_SOURCE)
        except ImportError as exc:
            return [Error(f"ML_PREDICTIONS['DATA_SOURCE'] cannot be imported: {exc}", id="ml_predictions.E001")]
        from ml_predictions.data.orm import DjangoORMDataSource

        orm_source = isinstance(source_cls, type) and issubclass(source_cls, DjangoORMDataSource)
    if orm_source:
        for key in ("ORDER_ITEM_MODEL", "PRODUCT_MODEL", "CUSTOMER_MODEL"):
            label = ml_settings.get(key)
            if not label:
                errors.append(Error(f"ML_PREDICTIONS['{key}'] must name a model, e.g. 'shop.OrderItem'.",
                                    id="ml_predictions.E002"))
                continue
            try:
                apps.get_model(label)
            except (LookupError, ValueError):
                errors.append(Error(f"ML_PREDICTIONS['{key}'] = {label!r} is not an installed model.",
                                    id="ml_predictions.E003"))
    for path in ml_settings.PERMISSION_CLASSES:
        try:
            import_string(path)
        except ImportError as exc:
            errors.append(Error(f"ML_PREDICTIONS['PERMISSION_CLASSES'] entry {path!r}: {exc}", id="ml_predictions.E004"))
    alias = ml_settings.INVENTORY_CACHE_ALIAS
    if int(ml_settings.INVENTORY_CACHE_SECONDS or 0) > 0 and alias not in getattr(settings, "CACHES", {"default": {}}):
        errors.append(Error(f"ML_PREDICTIONS['INVENTORY_CACHE_ALIAS'] = {alias!r} is not in CACHES "
                            "(or set INVENTORY_CACHE_SECONDS to 0).", id="ml_predictions.E005"))
    return errors


@register(Tags.compatibility)
def check_unknown_keys(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A misspelt key (e.g. "ORDER_ITEMS_MODEL") would otherwise be ignored without a word."""
    user = getattr(settings, "ML_PREDICTIONS", None) or {}
    unknown = sorted(set(user) - set(DEFAULTS))
    return [
        Warning(f"ML_PREDICTIONS[{key!r}] is not a setting of ml_predictions and is ignored.",
                hint="See docs/installation.md for the settings and their defaults.", id="ml_predictions.W002")
        for key in unknown
    ]


@register(Tags.compatibility)
def check_task_backend(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Training is a background job: with the immediate backend (django-tasks' default when TASKS is
    not set) a train request runs the whole training inside the web request and blocks that worker."""
    backend = (getattr(settings, "TASKS", None) or {}).get("default", {}).get("BACKEND", IMMEDIATE_BACKEND)
    if backend == IMMEDIATE_BACKEND:
        return [Warning(
            "The default task backend is the immediate one: each training runs inside the HTTP request "
            "that starts it.",
            hint="Set TASKS = {'default': {'BACKEND': 'django_tasks_db.DatabaseBackend'}}, add "
                 "'django_tasks_db' to INSTALLED_APPS and run `manage.py db_worker` (docs/installation.md).",
            id="ml_predictions.W001",
        )]
    if backend == "django_tasks_db.DatabaseBackend" and "django_tasks_db" not in settings.INSTALLED_APPS:
        return [Error("TASKS uses django_tasks_db.DatabaseBackend but 'django_tasks_db' is not in INSTALLED_APPS.",
                      id="ml_predictions.E006")]
    return []
