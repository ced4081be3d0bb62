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
    # --- product recommendations (docs/recommendations.md) ----------------------------------------
    # Length of the precomputed neighbour lists per product and method; also the largest top_n accepted.
    "RECOMMENDATION_TOP_K": 50,
    # Co-occurrence normalization: "auto" (chosen by offline evaluation at each training),
    # "conditional", "cosine", "lift" or "bm25".
    "RECOMMENDATION_NORMALIZATION": "auto",
    # Hybrid blend weights; "auto" = tuned by offline evaluation at each training. A dict fixes them:
    # {"bought_together": 1.0, "similar": 0.05, "popularity": 0.05, "customer_popularity": 0.001}.
    "RECOMMENDATION_WEIGHTS": "auto",
    # Weight of same-customer (different order) co-occurrence relative to same-order co-occurrence.
    "RECOMMENDATION_CUSTOMER_WEIGHT": 0.25,
    # Orders with more distinct products than this are left out of the co-occurrence (wholesale noise).
    "RECOMMENDATION_MAX_BASKET_SIZE": 50,
    # Only a customer's most recent N distinct products count as their history.
    "RECOMMENDATION_MAX_HISTORY_ITEMS": 50,
    # Leave inactive and out-of-stock products (as of training) out of the recommendations.
    "RECOMMENDATION_EXCLUDE_UNAVAILABLE": True,
    # Share of the most recent orders held out for the offline evaluation run during training.
    "RECOMMENDATION_TEST_FRACTION": 0.1,
    # Fewer orders than this -> 422 insufficient_data.
    "RECOMMENDATION_MIN_ORDERS": 20,
    # Record one of every N recommendation calls as a Prediction row (per process); 1 = every call,
    # 0 = none. A busy shop page would otherwise write one row per page view.
    "RECOMMENDATION_LOG_EVERY": 20,
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
