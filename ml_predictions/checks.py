"""System checks that tell the host at start-up what is misconfigured (instead of a 500 later)."""
from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, register
from django.utils.module_loading import import_string

from ml_predictions.conf import ml_settings


@register(Tags.compatibility)
def check_ml_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors: list[Error] = []
    try:
        source_cls = import_string(ml_settings.DATA_SOURCE)
    except ImportError as exc:
        return [Error(f"ML_PREDICTIONS['DATA_SOURCE'] cannot be imported: {exc}", id="ml_predictions.E001")]
    from ml_predictions.data.orm import DjangoORMDataSource

    if issubclass(source_cls, DjangoORMDataSource):
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
