"""API routes and views of the operations capability: dashboard summary, retraining, sales history chart,
and the staff dashboard page (HTML, under the same prefix so the plugin needs one include)."""
from __future__ import annotations

from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.response import Response

from ml_predictions.api.base import MLAPIView
from ml_predictions.api.plots import new_figure, png_response
from ml_predictions.api.serializers import MLModelSerializer, MLTrainingLogSerializer, error_responses
from ml_predictions.api.training import TRAIN_RESPONSES, training_response
from ml_predictions.api.views import MODEL_EXAMPLE
from ml_predictions.dashboard.selectors import (
    daily_sales,
    dashboard_page,
    dashboard_summary,
    recent_models,
    recent_trainings,
)
from ml_predictions.errors import InsufficientDataError
from ml_predictions.models import ModelType

# The names `python manage.py train` accepts, so the API and the command speak the same language.
MODEL_TYPE_ALIASES = {
    "segmentation": ModelType.CUSTOMER_SEGMENTATION,
    "forecast": ModelType.SALES_FORECAST,
    "recommendation": ModelType.PRODUCT_RECOMMENDATION,
    "inventory": ModelType.INVENTORY,
}


class SummarySerializer(serializers.Serializer):
    total_active_models = serializers.IntegerField()
    total_predictions = serializers.IntegerField()
    predictions_last_7days = serializers.IntegerField()
    active_inventory_alerts = serializers.IntegerField()
    critical_inventory_alerts = serializers.IntegerField()


class DashboardSummaryOutputSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    summary = SummarySerializer()
    recent_models = MLModelSerializer(many=True)
    recent_trainings = MLTrainingLogSerializer(many=True)


TRAINING_EXAMPLE = {
    "id": "a1b2c3d4-0000-4000-8000-000000000001", "model_type": "customer_segmentation", "status": "succeeded",
    "progress": 100, "message": "Done", "error": "", "parameters": {}, "metrics": {"silhouette_score": 0.41},
    "result": {"success": True, "model_id": "6f1c…"}, "ml_model": "6f1c…", "task_id": "…",
    "created_at": "2026-11-23T10:00:00Z", "updated_at": "2026-11-23T10:00:09Z",
    "started_at": "2026-11-23T10:00:01Z", "finished_at": "2026-11-23T10:00:09Z", "duration_seconds": 8.1,
    "triggered_by": None, "trigger": "schedule",
}


class DashboardSummaryView(MLAPIView):
    @extend_schema(
        summary="Dashboard summary",
        description=(
            "Seed 004's daily overview. `critical_inventory_alerts` counts open alerts with urgency_level ≥ 4; "
            "`recent_models` are the 5 newest versions (active or not), `recent_trainings` the 10 newest "
            "training runs with status and progress."
        ),
        responses={200: DashboardSummaryOutputSerializer},
        examples=[
            OpenApiExample(
                "Summary",
                value={
                    "success": True,
                    "summary": {
                        "total_active_models": 4, "total_predictions": 150, "predictions_last_7days": 23,
                        "active_inventory_alerts": 18, "critical_inventory_alerts": 5,
                    },
                    "recent_models": [MODEL_EXAMPLE],
                    "recent_trainings": [TRAINING_EXAMPLE],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        body = {
            "success": True,
            "summary": dashboard_summary(),
            "recent_models": MLModelSerializer(recent_models(), many=True).data,
            "recent_trainings": MLTrainingLogSerializer(recent_trainings(), many=True).data,
        }
        return Response(body)


RETRAIN_CHOICES = list(dict.fromkeys([*ModelType.values, *MODEL_TYPE_ALIASES]))


@extend_schema_field({"type": "string", "example": "segmentation",
                      "description": "One of: " + ", ".join(RETRAIN_CHOICES) + "."})
class RetrainModelTypeField(serializers.ChoiceField):
    """Model type or alias. Documented without an enum component: a second `model_type` enum with other
    values would rename the registry's ModelTypeEnum in the schema."""


class RetrainInputSerializer(serializers.Serializer):
    model_type = RetrainModelTypeField(
        choices=RETRAIN_CHOICES,
        help_text="A model type (sales_forecast, …) or the command's alias (forecast, segmentation, …).",
    )


class RetrainView(MLAPIView):
    @extend_schema(
        summary="Retrain one model type with its default parameters",
        description=(
            "What the weekly schedule does, for one type, on demand (e.g. from the dashboard). Goes through "
            "the same task as the capability's own train endpoint: with a queueing backend (database, RQ) "
            "the answer is 202 with `training_log_id` and `status_url` to poll; with the immediate backend "
            "it is the capability's full train response. A type already training answers 409; a type this "
            "installation cannot train answers 400. Use the capability's train endpoint to pass parameters."
        ),
        request=RetrainInputSerializer,
        responses=TRAIN_RESPONSES,
        examples=[
            OpenApiExample("Request", value={"model_type": "segmentation"}, request_only=True),
            OpenApiExample(
                "Queued (202)",
                value={
                    "success": True, "status": "queued", "message": "Training queued; poll status_url for progress.",
                    "training_log_id": "a1b2c3d4-0000-4000-8000-000000000001",
                    "status_url": "http://127.0.0.1:8000/api/ml/training-logs/a1b2c3d4-0000-4000-8000-000000000001/",
                },
                response_only=True, status_codes=["202"],
            ),
            OpenApiExample(
                "Already training (409)",
                value={"success": False, "error": {
                    "code": "training_in_progress",
                    "message": "A customer_segmentation training is already running; wait for it to finish.",
                    "details": {"training_log_id": "a1b2c3d4-0000-4000-8000-000000000001"}}},
                response_only=True, status_codes=["409"],
            ),
        ],
    )
    def post(self, request):
        serializer = RetrainInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        model_type = serializer.validated_data["model_type"]
        return training_response(request, MODEL_TYPE_ALIASES.get(model_type, model_type), {})


class SalesHistoryQuerySerializer(serializers.Serializer):
    days = serializers.IntegerField(required=False, default=180, min_value=7, max_value=1095)


class SalesHistoryPlotView(MLAPIView):
    @extend_schema(
        summary="Sales history chart (PNG)",
        description=(
            "Daily revenue with its 7-day mean over the last `days` days of trading (the window ends at the "
            "last order: today in a live shop). The dashboard shows it when no sales forecast chart is "
            "available; it needs no trained model."
        ),
        parameters=[OpenApiParameter("days", int, description="7–1095, default 180")],
        responses={(200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="PNG image"),
                   **error_responses(400, 422)},
        examples=[OpenApiExample("Bad days", value={"success": False, "error": {
            "code": "invalid", "message": "days: Ensure this value is greater than or equal to 7.",
            "fields": {"days": ["Ensure this value is greater than or equal to 7."]}}},
            response_only=True, status_codes=["400"])],
    )
    def get(self, request):
        query = SalesHistoryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        days = query.validated_data["days"]
        frame = daily_sales(days)
        if frame.empty or not frame["revenue"].any():
            raise InsufficientDataError(_("There are no orders to chart yet."))
        fig, ax = new_figure(9, 4)
        dates = frame["date"].dt.tz_localize(None)
        ax.bar(dates, frame["revenue"], width=1.0, color="#9ecae1", label=_("Revenue per day"))
        ax.plot(dates, frame["revenue"].rolling(7, min_periods=1).mean(), color="#08519c", linewidth=2,
                label=_("7-day mean"))
        ax.set_title(_("Sales over the last %(days)d days") % {"days": days})
        ax.set_ylabel(_("Revenue"))
        ax.legend(loc="upper left")
        ax.grid(alpha=0.3)
        fig.autofmt_xdate()
        return png_response(fig)


urlpatterns: list[URLPattern] = [
    path("dashboard-summary/", DashboardSummaryView.as_view(), name="dashboard-summary"),
    path("retrain/", RetrainView.as_view(), name="retrain"),
    path("sales-history/plot/", SalesHistoryPlotView.as_view(), name="sales-history-plot"),
    path("dashboard/", dashboard_page, name="dashboard"),
]
