from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from ml_predictions.models import (
    CustomerSegmentAssignment,
    InventoryAlert,
    MLModel,
    MLTrainingLog,
    Prediction,
)

# Link the ML dashboard from the admin index, unless the host already customised that template.
if admin.site.index_template is None:
    admin.site.index_template = "ml_predictions/admin_index.html"


def _short_time(value) -> str:
    """"2026-12-02 08:32" instead of "Dec. 2, 2026, 8:32 a.m.": keeps the change lists within the page."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "—"


def _breakable(text: str) -> str:
    """The text with a line-break opportunity after each "+": composite algorithm names such as
    "kmeans_rfm+rank_ensemble_clv" would otherwise widen the change list past a laptop screen."""
    parts = str(text or "").split("+")
    return format_html_join(mark_safe("+<wbr>"), "{}", ((p,) for p in parts))


@admin.register(MLModel)
class MLModelAdmin(admin.ModelAdmin):
    # Few, short columns so the change list fits a laptop screen; the rest is on the detail page.
    list_display = ["model_type", "version", "algorithm_name", "is_active", "trained"]
    list_filter = ["model_type", "is_active", "algorithm"]
    search_fields = ["algorithm", "artifact_path"]
    date_hierarchy = "trained_at"
    readonly_fields = [f.name for f in MLModel._meta.fields]
    actions = ["activate_selected"]

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("Trained"), ordering="trained_at")
    def trained(self, obj):
        return _short_time(obj.trained_at)

    @admin.display(description=_("Algorithm"), ordering="algorithm")
    def algorithm_name(self, obj):
        return _breakable(obj.algorithm)

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
    list_display = ["product_name", "alert_type", "urgency_level", "current_stock", "status"]
    list_filter = ["alert_type", "status", "urgency_level"]
    search_fields = ["product_name", "product_id"]
    readonly_fields = ["product_id", "product_name", "alert_type", "current_stock", "recommended_stock",
                       "predicted_demand_7days", "predicted_demand_30days", "urgency_level",
                       "estimated_stockout_date", "created_at", "updated_at", "resolved_at", "resolved_by"]

    def has_add_permission(self, request):
        return False  # alerts are written by the inventory analysis; staff only resolve them


@admin.register(MLTrainingLog)
class MLTrainingLogAdmin(admin.ModelAdmin):
    list_display = ["model_type", "status", "progress", "created", "duration"]
    list_filter = ["model_type", "status", "trigger"]
    search_fields = ["message", "error"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in MLTrainingLog._meta.fields]

    @admin.display(description=_("Created"), ordering="created_at")
    def created(self, obj):
        return _short_time(obj.created_at)

    @admin.display(description=_("Duration"), ordering="duration_seconds")
    def duration(self, obj):
        return f"{obj.duration_seconds:.1f} s" if obj.duration_seconds is not None else "—"

    def has_add_permission(self, request):
        return False


@admin.register(CustomerSegmentAssignment)
class CustomerSegmentAssignmentAdmin(admin.ModelAdmin):
    """Read-only: the rows are one segmentation run's output, rewritten by the next run."""

    list_display = ["customer_id", "segment_type", "cluster_name", "rfm_segment", "calc_date"]
    list_filter = ["segment_type", "calc_date"]
    search_fields = ["customer_id"]
    list_select_related = ["model"]
    readonly_fields = [f.name for f in CustomerSegmentAssignment._meta.fields]
    show_full_result_count = False  # a count(*) over a million assignments on every page is wasted

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
