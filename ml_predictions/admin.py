from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from ml_predictions.models import InventoryAlert, MLModel, MLTrainingLog, Prediction

# Link the ML dashboard from the admin index, unless the host already customised that template.
if admin.site.index_template is None:
    admin.site.index_template = "ml_predictions/admin_index.html"


@admin.register(MLModel)
class MLModelAdmin(admin.ModelAdmin):
    list_display = ["model_type", "version", "algorithm", "is_active", "trained_at", "training_duration_seconds", "n_samples"]
    list_filter = ["model_type", "is_active", "algorithm"]
    search_fields = ["algorithm", "artifact_path"]
    date_hierarchy = "trained_at"
    readonly_fields = [f.name for f in MLModel._meta.fields]
    actions = ["activate_selected"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Activate this version (roll back / forward)"))
    def activate_selected(self, request, queryset):
        from ml_predictions.errors import MLError
        from ml_predictions.training.registry import model_activate

        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one model version."), messages.ERROR)
            return
        try:
            model = model_activate(model_id=queryset.first().pk).model
        except MLError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        self.message_user(request, _("%(model)s is now active.") % {"model": model})


@admin.register(Prediction)
class PredictionAdmin(admin.ModelAdmin):
    list_display = ["kind", "target", "model", "created_at"]
    list_filter = ["kind"]
    search_fields = ["target"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Prediction._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(InventoryAlert)
class InventoryAlertAdmin(admin.ModelAdmin):
    list_display = ["product_name", "alert_type", "urgency_level", "current_stock", "recommended_stock",
                    "estimated_stockout_date", "status"]
    list_filter = ["alert_type", "status", "urgency_level"]
    search_fields = ["product_name", "product_id"]
    readonly_fields = ["product_id", "product_name", "alert_type", "current_stock", "recommended_stock",
                       "predicted_demand_7days", "predicted_demand_30days", "urgency_level",
                       "estimated_stockout_date", "created_at", "updated_at", "resolved_at", "resolved_by"]


@admin.register(MLTrainingLog)
class MLTrainingLogAdmin(admin.ModelAdmin):
    list_display = ["model_type", "status", "progress", "message", "created_at", "duration_seconds", "trigger"]
    list_filter = ["model_type", "status", "trigger"]
    search_fields = ["message", "error"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in MLTrainingLog._meta.fields]

    def has_add_permission(self, request):
        return False
