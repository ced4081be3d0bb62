"""Settings of the boutique host project, read from the environment.

Everything a deployment changes comes from environment variables so the same code runs the demo
(SQLite file, immediate defaults) and production (PostgreSQL, workers) without edits.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# Under pytest the suite adds a second, differently shaped shop (tests.altshop) to prove the data
# source is configured by settings alone, and runs background jobs inline unless told otherwise.
TESTING = "pytest" in sys.modules

# Production is the default: DEBUG must be asked for, and without it the process refuses to start on a
# missing or public SECRET_KEY (a key in this repository lets anyone forge a staff JWT).
DEBUG = env_bool("DEBUG", False)
DEV_SECRET_KEY = "dev-insecure-secret-key-change-me-in-production-0123456789"
SECRET_KEY = os.environ.get("SECRET_KEY", "")


def insecure_secret_key(key: str) -> bool:
    """Django's own --deploy rule (length, variety, the startproject prefix) plus the repository's keys."""
    return (len(key) < 50 or len(set(key)) < 5 or key.startswith("django-insecure-") or key == DEV_SECRET_KEY
            or "change-me" in key or "changeme" in key)


if not SECRET_KEY or insecure_secret_key(SECRET_KEY):
    if TESTING and not SECRET_KEY:
        # tests/conftest.py exports this key so the suite's subprocesses (workers, servers) share it
        import secrets

        SECRET_KEY = "pytest-" + secrets.token_urlsafe(48)
    elif DEBUG:
        SECRET_KEY = SECRET_KEY or DEV_SECRET_KEY
    else:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "SECRET_KEY is missing or insecure (shorter than 50 characters, too few distinct characters, or "
            "a public development key) and DEBUG is off. Set SECRET_KEY to a long random value, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(64))'`, or set DEBUG=1 for local "
            "development (see docs/operations.md, \"Production settings\")."
        )
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")

# HTTPS hardening: on by default outside DEBUG and the test suite; docs/operations.md lists the environment
# a production deployment sets (it passes `manage.py check --deploy` with no warnings).
_HARDENED = not DEBUG and not TESTING
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", _HARDENED)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", _HARDENED)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    # behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips it from clients)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks",
    "django_tasks_db",
    "backend_django.shop",
    "ml_predictions",
]
if TESTING:
    INSTALLED_APPS.append("tests.altshop")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "backend_django.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "backend_django.wsgi.application"
ASGI_APPLICATION = "backend_django.asgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes a training log. IMMEDIATE makes every
    # transaction take the write lock when it begins, so a busy writer waits out the busy timeout
    # instead of failing at once with "database is locked" when a deferred read tries to upgrade.
    # See docs/deployment.md ("SQLite under load").
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 30)  # busy timeout, seconds
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = os.environ.get("LANGUAGE_CODE", "en")
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "ml_predictions" / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))

# The ML API sets its own authentication, filters, pagination and error shape (ML_PREDICTIONS overrides
# them); these lines are the host's own policy for its other views (the JWT token endpoints).
REST_FRAMEWORK = {
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "ml_predictions.exceptions.exception_handler",
    # JSON with a nesting limit: 6 KB of `[[[...` is a 400, not a RecursionError (docs/deployment.md)
    "DEFAULT_PARSER_CLASSES": ["ml_predictions.api.parsers.SafeJSONParser",
                               "rest_framework.parsers.FormParser", "rest_framework.parsers.MultiPartParser"],
}

from ml_predictions.spectacular import ML_SPECTACULAR_SETTINGS  # noqa: E402  (plain data, no Django import)

SPECTACULAR_SETTINGS = {
    **ML_SPECTACULAR_SETTINGS,
    "TITLE": "ml_predictions API",
    "DESCRIPTION": "Sales forecasting, product recommendations, customer segmentation and inventory "
    "optimization for a Django shop. Staff-only; authenticate with a JWT from /api/auth/token/.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

SIMPLE_JWT = {
    "AUTH_HEADER_TYPES": ("Bearer",),
    # each refresh returns a new refresh token and blacklists the old one, so a stolen one works once
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
}

# Background jobs: Django's Tasks API. The database backend needs nothing else installed;
# TASKS_BACKEND=immediate runs jobs inline (tests), TASKS_BACKEND=rq uses Redis workers.
_tasks_backend = os.environ.get("TASKS_BACKEND", "immediate" if TESTING else "database")
if _tasks_backend == "immediate":
    TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
elif _tasks_backend == "rq":
    INSTALLED_APPS += ["django_rq"]
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
else:
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# Throttle counts (and the inventory analysis cache) live in Redis when REDIS_URL is set, so the limits
# hold across web workers; otherwise in each process's local memory (Django's default).
if os.environ.get("REDIS_URL") and not TESTING:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": os.environ["REDIS_URL"]}}

RQ_QUEUES = {"default": {"URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")}}

ML_PREDICTIONS = {
    "DATA_SOURCE": "ml_predictions.data.orm.DjangoORMDataSource",
    "ORDER_ITEM_MODEL": "shop.OrderItem",
    "PRODUCT_MODEL": "shop.Product",
    "CUSTOMER_MODEL": "shop.Customer",
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
            "description": "description",
            "category": "category__name",
            "price": "price",
            "cost": "cost",
            "stock": "stock_quantity",
            "lead_time_days": "lead_time_days",
            "image_url": "image_url",
            "active": "is_active",
            "min_order_quantity": "min_order_quantity",
            "case_pack": "case_pack",
            "lead_time_std_days": "lead_time_std_days",
            "supplier": "supplier",
        },
        "customer": {"id": "id", "created_at": "created_at", "key": "external_id"},
    },
    "EXCLUDED_ORDER_STATUSES": ["cancelled", "refunded"],
    # import_orders --returns refund stores returns (UCI's "C" invoices) as separate "returned" orders;
    # a "refunded" order is a sale refunded in full (the generator's), left out by the line above
    "REFUND_ORDER_STATUSES": ["returned"],
    "ANONYMOUS_CUSTOMER_KEYS": ["guest"],
    # the suite logs in and calls the API far more often than a person; tests/api/test_throttling.py
    # sets low rates itself
    # (DISABLE_THROTTLING=1 does the same for a fuzz run against a live server, .ci/schemathesis.sh)
    **({"THROTTLE_RATES": {"api": None, "token_ip": None, "token_username": None}}
       if TESTING or os.environ.get("DISABLE_THROTTLING") == "1" else {}),
    "MODEL_DIR": os.environ.get("ML_MODEL_DIR", str(BASE_DIR / "ml_models")),
}

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
LOG_DIR = Path(os.environ.get("LOG_DIR", BASE_DIR / "logs"))
LOG_DIR.mkdir(parents=True, exist_ok=True)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        # The console stays quiet below WARNING so commands' progress bars are readable; logs/ml.log
        # gets everything from LOG_LEVEL up.
        "console": {"class": "logging.StreamHandler", "formatter": "plain",
                    "level": os.environ.get("CONSOLE_LOG_LEVEL", "WARNING").upper()},
        "ml_file": {
            "class": "logging.handlers.RotatingFileHandler",
            "filename": str(LOG_DIR / "ml.log"),
            "maxBytes": 5 * 1024 * 1024,
            "backupCount": 3,
            "formatter": "plain",
            "delay": True,
        },
    },
    "loggers": {
        "ml_predictions": {"handlers": ["console", "ml_file"], "level": LOG_LEVEL, "propagate": False},
        "django": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "WARNING")},
    },
}
