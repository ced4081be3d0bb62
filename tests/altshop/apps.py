from django.apps import AppConfig


class AltshopConfig(AppConfig):
    name = "tests.altshop"
    label = "altshop"
    default_auto_field = "django.db.models.BigAutoField"
