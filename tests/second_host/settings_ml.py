# Appended to the settings.py that `django-admin startproject` wrote: everything the plugin needs, by
# settings alone (the README's "Plug into another shop" section). No REST_FRAMEWORK setting on purpose.
INSTALLED_APPS += [  # noqa: F821
    "rest_framework",
    "django_filters",
    "django_tasks",
    "django_tasks_db",
    "legacy",
    "ml_predictions",
]
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
ML_PREDICTIONS = {
    "ORDER_ITEM_MODEL": "legacy.SaleLine",
    "PRODUCT_MODEL": "legacy.Article",
    "CUSTOMER_MODEL": "legacy.Client",
    "FIELDS": {
        "order_line": {
            "order_id": "sale_id",
            "customer_id": "sale__client_id",
            "product_id": "article_id",
            "ordered_at": "sale__sold_on",
            "quantity": "qty",
            "unit_price": "price",
            "status": "sale__state",
        },
        "product": {"id": "id", "name": "title", "category": "family", "price": "list_price",
                    "cost": "unit_cost", "stock": "on_hand"},
        "customer": {"id": "id", "created_at": "signed_up"},
    },
    "EXCLUDED_ORDER_STATUSES": ["void"],
    "MODEL_DIR": str(BASE_DIR / "ml_models"),  # noqa: F821
}
