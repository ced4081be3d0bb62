from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "backend_django.shop"
    label = "shop"
    verbose_name = "Boutique shop"
    default_auto_field = "django.db.models.BigAutoField"
