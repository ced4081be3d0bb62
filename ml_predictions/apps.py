from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MLPredictionsConfig(AppConfig):
    name = "ml_predictions"
    verbose_name = _("Machine learning predictions")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        import ml_predictions.capabilities  # noqa: F401  (registers the built-in trainers)
        from ml_predictions import checks  # noqa: F401  (registers system checks)
        from ml_predictions.data_changes import connect_change_signals

        connect_change_signals()
