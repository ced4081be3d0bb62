"""The plugin's settings object: one `ML_PREDICTIONS` dict in the host's settings.

Defaults live here, lookups are lazy, and the cache resets on Django's `setting_changed` signal so
`override_settings(ML_PREDICTIONS=...)` works in tests (the django-filter / allauth habit).
Keys a host does not set fall back to DEFAULTS; nested dicts (FIELDS) are merged one level deep.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

DEFAULTS: dict[str, Any] = {
    # --- data source -------------------------------------------------------------------------
    # Dotted path of a class implementing ml_predictions.data.base.DataSource.
    "DATA_SOURCE": "ml_predictions.data.orm.DjangoORMDataSource",
    "ORDER_ITEM_MODEL": None,  # e.g. "shop.OrderItem"
    "PRODUCT_MODEL": None,
    "CUSTOMER_MODEL": None,
    # Canonical column -> ORM lookup path on the configured model.
    "FIELDS": {
        "order_line": {
            "order_id": "order_id",
            "customer_id": "order__customer_id",
            "product_id": "product_id",
            "ordered_at": "order__created_at",
            "quantity": "quantity",
            "unit_price": "unit_price",
            "status": "order__status",
        },
        "product": {
            "id": "id",
            "name": "name",
            "description": None,
            "category": "category__name",
            "price": "price",
            "cost": "cost",
            "stock": "stock",
            "lead_time_days": None,
            "image_url": None,
            "active": None,
        },
        "customer": {"id": "id", "created_at": "created_at"},
    },
    "EXCLUDED_ORDER_STATUSES": ["cancelled", "refunded"],
    "CSV_DIRECTORY": None,  # for ml_predictions.data.csv_source.CSVDataSource
    # --- storage and registry ----------------------------------------------------------------
    "MODEL_DIR": "ml_models",
    # Dotted path of a Storage class; None = FileSystemStorage rooted at MODEL_DIR.
    "ARTIFACT_STORAGE": None,
    "ARTIFACT_STORAGE_OPTIONS": {},
    "KEEP_VERSIONS": 5,
    # A training log that has not moved for this long is considered dead (worker killed).
    "STALE_TRAINING_MINUTES": 30,
    # --- API ------------------------------------------------------------------------------------
    "PERMISSION_CLASSES": ["ml_predictions.api.permissions.IsStaffOrSuperuser"],
    "RANDOM_STATE": 42,
    # --- defaults used by the capabilities --------------------------------------------------------
    "DEFAULT_LEAD_TIME_DAYS": 7,
    "SERVICE_LEVEL": 0.95,
    "MIN_CLUSTERS": 2,
    "MAX_CLUSTERS": 10,
    # --- sales forecasting ------------------------------------------------------------------------
    # Model used when the train request names none: random_forest, gradient_boosting, linear or auto.
    "FORECAST_DEFAULT_MODEL": "random_forest",
    # Levels trained by default; "product" must stay in for inventory's per-product demand.
    "FORECAST_LEVELS": ["total", "category", "product"],
    # ISO dates (or date objects) that get the holiday feature, e.g. ["2026-12-25", "2027-01-01"].
    "FORECAST_HOLIDAYS": [],
    # Nominal coverage of confidence_lower .. confidence_upper.
    "FORECAST_INTERVAL_LEVEL": 0.95,
    # Held-out days at the end of the history for test metrics and interval coverage.
    "FORECAST_TEST_DAYS": 30,
    # Days precomputed at training time; predict-sales accepts days_ahead up to this.
    "FORECAST_MAX_HORIZON_DAYS": 365,
    # Training refuses a history shorter than this (lags + training rows + two backtest windows).
    "FORECAST_MIN_HISTORY_DAYS": 120,
    # Sampled (series, origin, horizon) training rows per model: total/category, and product level.
    "FORECAST_MAX_TRAIN_ROWS": 5000,
    "FORECAST_PRODUCT_TRAIN_ROWS": 40000,
}


class MLSettings:
    """Attribute access to ML_PREDICTIONS merged over DEFAULTS, cached until settings change."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        if self._cache is None:
            user = getattr(settings, "ML_PREDICTIONS", {}) or {}
            merged = {**DEFAULTS, **user}
            fields = {k: dict(v) for k, v in DEFAULTS["FIELDS"].items()}
            for table, mapping in (user.get("FIELDS") or {}).items():
                fields.setdefault(table, {}).update(mapping)
            merged["FIELDS"] = fields
            self._cache = merged
        return self._cache

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        data = self._load()
        if name not in data:
            raise AttributeError(f"Unknown ml_predictions setting {name!r}")
        return data[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self._load().get(name, default)

    def reload(self) -> None:
        self._cache = None


ml_settings = MLSettings()


@receiver(setting_changed)
def _reload_ml_settings(*, setting: str, **kwargs: Any) -> None:
    if setting == "ML_PREDICTIONS":
        ml_settings.reload()
        from .data import reset_data_source_cache

        reset_data_source_cache()
