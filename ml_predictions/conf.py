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
            # optional supplier terms for the reorder policy (None = the shop has none: not applied)
            "min_order_quantity": None,
            "case_pack": None,
            "lead_time_std_days": None,
            "supplier": None,
        },
        # key: the host's own customer key (optional), matched against ANONYMOUS_CUSTOMER_KEYS
        "customer": {"id": "id", "created_at": "created_at", "key": None},
    },
    "EXCLUDED_ORDER_STATUSES": ["cancelled", "refunded"],
    # Orders with these statuses are return documents (a separate order holding what came back): never
    # sales, and segmentation and CLV take their value off the customer's latest earlier purchases
    # (docs/segmentation.md). Empty by default: in most shops "refunded" marks a sale refunded in full,
    # which EXCLUDED_ORDER_STATUSES already leaves out; netting it as well would count the refund twice.
    "REFUND_ORDER_STATUSES": [],
    # Customers that stand for many people (the importer's "guest" for lines without a customer id): left
    # out of segmentation and CLV. Matched against FIELDS["customer"]["key"], or the id when no key is mapped.
    "ANONYMOUS_CUSTOMER_KEYS": ["guest"],
    "CSV_DIRECTORY": None,  # for ml_predictions.data.csv_source.CSVDataSource
    # --- storage and registry ----------------------------------------------------------------
    "MODEL_DIR": "ml_models",
    # Dotted path of a Storage class; None = FileSystemStorage rooted at MODEL_DIR.
    "ARTIFACT_STORAGE": None,
    "ARTIFACT_STORAGE_OPTIONS": {},
    "KEEP_VERSIONS": 5,
    # Retrains activate a challenger only if its holdout score is at most this much (relative) worse.
    "CHAMPION_TOLERANCE": 0.02,
    # A training log that has not moved for this long is considered dead (worker killed).
    "STALE_TRAINING_MINUTES": 30,
    # model_type -> dotted path of a trainer, adding to or replacing the built-in ones.
    "TRAINERS": {},
    # --- API ------------------------------------------------------------------------------------
    "PERMISSION_CLASSES": ["ml_predictions.api.permissions.IsStaffOrSuperuser"],
    # The API's own DRF parts (api/base.py), independent of the host's REST_FRAMEWORK setting.
    # JWT first so that an anonymous call gets 401 with a WWW-Authenticate header.
    "AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "EXCEPTION_HANDLER": "ml_predictions.exceptions.exception_handler",
    "FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
        "rest_framework.filters.SearchFilter",
    ],
    "PAGINATION_CLASS": "ml_predictions.api.pagination.StandardPagination",
    # DRF throttle rates ("N/second|minute|hour|day"; None = off): the ML API per user, the token
    # endpoints (ml_predictions.api.auth) per client IP and per attempted username.
    "THROTTLE_RATES": {"api": "600/min", "token_ip": "10/min", "token_username": "10/min"},
    # The Django cache alias that counts them: local memory by default (per process); point it at a
    # Redis cache so the limits hold across workers.
    "THROTTLE_CACHE": "default",
    # JSON bodies nested deeper than this are a 400 (Python's decoder would overflow its stack).
    "JSON_MAX_DEPTH": 32,
    # segments/apply's body limit in bytes: its documented 100,000 rows (~8 MB as RFM rows, ~20 MB as
    # sales lines) do not fit Django's DATA_UPLOAD_MAX_MEMORY_SIZE, which every other route keeps.
    "APPLY_MAX_BODY_BYTES": 32 * 1024 * 1024,
    # Paths under which the host's handler404/handler500 (ml_predictions.api.fallback) answer JSON.
    "API_PATH_PREFIX": "/api/",
    "RANDOM_STATE": 42,
    # --- defaults used by the capabilities --------------------------------------------------------
    "DEFAULT_LEAD_TIME_DAYS": 7,
    "SERVICE_LEVEL": 0.95,
    "MIN_CLUSTERS": 4,
    "MAX_CLUSTERS": 8,
    # --- inventory optimization (docs/inventory.md) ----------------------------------------------
    # SERVICE_LEVEL (above) is the default cycle service level; these override it per category name.
    "INVENTORY_CATEGORY_SERVICE_LEVELS": {},  # e.g. {"Abrigos": 0.98, "Accesorios": 0.90}
    # Service level per ABC-XYZ class (ABC by revenue share, XYZ by weekly demand variability); a class left
    # out uses SERVICE_LEVEL, a category level above wins; {} = SERVICE_LEVEL for every product.
    "INVENTORY_CLASS_SERVICE_LEVELS": {
        "AX": 0.98, "AY": 0.97, "AZ": 0.95, "BX": 0.96, "BY": 0.95, "BZ": 0.93, "CX": 0.93, "CY": 0.92, "CZ": 0.90,
    },
    "INVENTORY_ABC_THRESHOLDS": (0.8, 0.95),  # cumulative revenue share closing class A, then B
    "INVENTORY_XYZ_THRESHOLDS": (0.5, 1.0),  # weekly coefficient of variation closing class X, then Y
    # "cycle" (type 1: probability of no stockout per cycle) or "fill_rate" (type 2: share of demand served).
    "INVENTORY_SERVICE_TYPE": "cycle",
    # Lead-time variability as a coefficient of variation (0 = lead times are certain).
    "INVENTORY_LEAD_TIME_CV": 0.0,
    # "order_up_to" (order S - stock, S = demand over lead time + review period + safety stock) or "eoq".
    "INVENTORY_ORDER_POLICY": "order_up_to",
    "INVENTORY_REVIEW_PERIOD_DAYS": 14,
    "INVENTORY_ORDERING_COST": 25.0,  # per purchase order, for EOQ
    "INVENTORY_HOLDING_COST_RATE": 0.25,  # per year, as a fraction of unit cost, for EOQ
    "INVENTORY_DEMAND_WINDOW_DAYS": 56,  # history behind the robust recent average
    "INVENTORY_LOW_STOCK_HORIZON_DAYS": 7,  # low_stock: crosses the reorder point within this many days
    "INVENTORY_SLOW_MOVING_DAYS": 30,
    "INVENTORY_SLOW_MOVING_SELL_THROUGH": 0.10,  # slow_moving: sold < 10 % of (sold + stock) in those days
    "INVENTORY_OVERSTOCK_COVER_DAYS": 90,  # overstock: more days of cover than this (and above S)
    "INVENTORY_HIGH_DEMAND_DAYS": 14,
    "INVENTORY_HIGH_DEMAND_RATIO": 1.5,  # high_demand: recent rate >= 1.5 x forecast / earlier rate
    "INVENTORY_HIGH_DEMAND_MIN_UNITS": 5,
    # Scale the history estimate by a shop-wide year-over-year seasonal index (needs > 1 year of sales;
    # the analysis then reads 365 + INVENTORY_DEMAND_WINDOW_DAYS days of order lines).
    "INVENTORY_SEASONAL_ADJUSTMENT": True,
    # Use the sales-forecasting capability's product-level forecast when it has one.
    "INVENTORY_USE_FORECAST": True,
    # A (product, alert type) resolved by a user is not re-opened for this many days (the plugin does
    # not see open purchase orders, so "reorder_now" stays true until the goods arrive).
    "INVENTORY_RESOLVED_SNOOZE_DAYS": 7,
    # The GET endpoints' analysis is cached this many seconds in the Django cache INVENTORY_CACHE_ALIAS,
    # keyed by everything it depends on (settings, as_of, active inventory/forecast models, and the data
    # source's fingerprint of stock and order lines), so a change of data is never served stale; the TTL
    # bounds memory and the rare edit a fingerprint cannot see. 0 disables the cache.
    "INVENTORY_CACHE_SECONDS": 300,
    "INVENTORY_CACHE_ALIAS": "default",
    # Reuse the data fingerprint behind the cache key while no change of orders or products was signalled
    # (ORM save()/delete() of the configured models, or ml_predictions.data.mark_changed() after a bulk
    # write), for at most this many seconds: a warm GET then costs cache reads instead of the
    # fingerprint's queries. A write nobody signalled (QuerySet.update() or SQL without mark_changed())
    # shows within this time. 0 = check the data on every request (exact, ~200 ms at 10k products).
    "INVENTORY_FINGERPRINT_SECONDS": 60,
    # Read answers (GET /models/, predict-sales, the dashboard summary) are kept this many seconds in the
    # cache INVENTORY_CACHE_ALIAS, keyed on the request and the registry/data stamps they are computed from
    # (ml_predictions/answer_cache.py), so a training, an activation or a new row is a new key. 0 = off.
    "ANSWER_CACHE_SECONDS": 300,
    # --- customer segmentation -------------------------------------------------------------------
    # RFM window in days before calc_date (the RFM + K-means peer system's RFM_WINDOW_DAYS).
    "SEGMENTATION_WINDOW_DAYS": 365,
    # "silhouette", "davies_bouldin" or "calinski_harabasz": how automatic k is chosen (as the peer RFM clustering API does).
    "SEGMENTATION_SELECTION_METRIC": "silhouette",
    # Silhouette is O(n^2): it is computed on a fixed random sample of this many customers
    # (~0.2 s per k at 3,000 on 2 cores; 10,000 costs ~2 s per k, i.e. 18 s for k = 2..10).
    "SEGMENTATION_SILHOUETTE_SAMPLE": 3000,
    # Customers registered but without orders in the window are clustered too (as the RFM + K-means peer system does) unless False.
    "SEGMENTATION_INCLUDE_CUSTOMERS_WITHOUT_ORDERS": True,
    # CLV: horizon of expected purchases (days), CLV horizon (months) and monthly discount rate.
    "CLV_PURCHASE_HORIZON_DAYS": 30,
    "CLV_HORIZON_MONTHS": 12,
    "CLV_MONTHLY_DISCOUNT_RATE": 0.01,
    # Fewer repeat buyers than this -> the documented simple CLV fallback instead of BG/NBD.
    "CLV_MIN_REPEAT_CUSTOMERS": 30,
    # CLV model selection: the last N days of history are held out to score every candidate (shortened
    # to a third of the history when it is short); the best one is refitted on all history.
    "CLV_HOLDOUT_DAYS": 90,
    # Multiply the chosen CLV by the holdout's total actual / total predicted (reported either way as
    # clv.selection.calibration). Off by default: on four CDNOW windows it moved the six-month totals
    # from 0.72-1.37x to 0.48-1.34x the actual (a 90-day holdout's ratio does not carry to a year).
    "CLV_CALIBRATE_TOTALS": False,
    # Record one of every N GET /customer-segment/{id}/ calls as a Prediction row (per process);
    # 1 = every call, 0 = none. POST /segments/predict/ and /segments/apply/ always record one row per call.
    "SEGMENTATION_LOG_EVERY": 20,
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
    # How the levels are made to add up (products -> categories -> total) when all three are trained
    # together: "mint_shrink" (falls back to "bottom_up" when it cannot be estimated), "bottom_up", "none".
    "FORECAST_RECONCILIATION": "mint_shrink",
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
    # The offline evaluation scores at most this many held-out baskets and customers (a sample seeded by
    # RANDOM_STATE; the tuning's validation split at most 3,000): on the ~1M-line benchmark shop 5,000 moved
    # no recall@10 by more than ~0.011 (~3 %) from every query's figure, at a quarter of 20,000's cost.
    # The figures' "queries" and offline_evaluation.sample say how many were evaluated.
    "RECOMMENDATION_EVALUATION_QUERIES": 5000,
    # Fewer orders than this -> 422 insufficient_data.
    "RECOMMENDATION_MIN_ORDERS": 20,
    # Record one of every N recommendation calls as a Prediction row (per process); 1 = every call,
    # 0 = none. A busy shop page would otherwise write one row per page view.
    "RECOMMENDATION_LOG_EVERY": 20,
    # --- monitoring: models against what happened next ------------------------------------------
    # A drift alert when the active forecast's realised MASE exceeds its backtest MASE by this fraction.
    "FORECAST_DRIFT_TOLERANCE": 0.25,
    "FORECAST_DRIFT_MIN_DAYS": 14,  # realised days needed before a drift is judged
    "RECOMMENDATION_OUTCOME_DAYS": 30,
    # A CLV drift alert at a segmentation retrain when an earlier run's lifetime values missed the revenue
    # that followed (per-customer MAE over its holdout days) by more than this fraction of its holdout MAE.
    "CLV_DRIFT_TOLERANCE": 0.25,  # a list counts as followed by a purchase within this many days
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
        ml_settings.reload()  # ml_predictions.data resets its own cached source on the same signal
