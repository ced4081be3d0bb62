"""Data sources: how the plugin reads the host's orders, products and customers."""
from __future__ import annotations

from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from ml_predictions.conf import ml_settings
from ml_predictions.data.base import (
    CUSTOMER_COLUMNS,
    ORDER_LINE_COLUMNS,
    PRODUCT_COLUMNS,
    DataSource,
    canonical_id,
)
from ml_predictions.data_changes import data_version, mark_changed

__all__ = ["DataSource", "canonical_id", "data_version", "get_data_source", "mark_changed", "ORDER_LINE_COLUMNS", "PRODUCT_COLUMNS", "CUSTOMER_COLUMNS"]

_instance: DataSource | None = None


def get_data_source() -> DataSource:
    """The configured source (ML_PREDICTIONS['DATA_SOURCE']), built once per settings change; inside
    `shared_reads()` (a run of several trainings) the run's one snapshot of it."""
    from ml_predictions.data.snapshot import active_snapshot

    snapshot = active_snapshot()
    return snapshot if snapshot is not None else configured_data_source()


def configured_data_source() -> DataSource:
    """The configured source itself, never a snapshot."""
    global _instance
    if _instance is None:
        _instance = import_string(ml_settings.DATA_SOURCE)()
    return _instance


def reset_data_source_cache() -> None:
    global _instance
    _instance = None


@receiver(setting_changed)
def _reset_on_settings_change(*, setting: str, **kwargs: Any) -> None:
    """Here rather than in conf.py, so the settings module does not depend on the data sources."""
    if setting == "ML_PREDICTIONS":
        reset_data_source_cache()
