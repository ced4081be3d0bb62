"""API routes and views of the operations capability: dashboard summary, retraining, sales history chart,
and the staff dashboard page (HTML, under the same prefix so the plugin needs one include)."""
from __future__ import annotations

import re

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

from ml_predictions.api.answers import rendered_answer
from ml_predictions.api.base import MLAPIView
from ml_predictions.api.fields import StrictInputSerializer
from ml_predictions.api.plots import new_figure, png_response
from ml_predictions.api.serializers import error_responses
from ml_predictions.api.training import TRAIN_RESPONSES, training_response
from ml_predictions.dashboard.answer import dashboard_expiry, dashboard_identity
from ml_predictions.dashboard.segment_points import DEFAULT_POINTS, MAX_POINTS, segment_points
from ml_predictions.dashboard.selectors import (
    daily_sales,
    dashboard_page,
    dashboard_summary,
    recent_models,
    recent_trainings,
)
from ml_predictions.dashboard.summary import key_metric
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


class KeyMetricSerializer(serializers.Serializer):
    name = serializers.CharField()
    value = serializers.FloatField()


class ShortDateTimeField(serializers.DateTimeField):
    """ISO 8601 to the second ("2026-11-23T10:00:09Z"): microseconds are noise in a summary."""

    def to_representation(self, value):
        text = super().to_representation(value)
        return re.sub(r"\.\d+", "", text) if isinstance(text, str) else text


class RecentModelSerializer(serializers.Serializer):
    """A model version in a few fields; the full record is GET /api/ml/models/{id}/."""

    id = serializers.UUIDField()
    model_type = serializers.CharField()
    version = serializers.IntegerField()
    algorithm = serializers.CharField()
    is_active = serializers.BooleanField()
    key_metric = serializers.SerializerMethodField()
    trained_at = ShortDateTimeField()
    training_duration_seconds = serializers.SerializerMethodField()

    @extend_schema_field(KeyMetricSerializer(allow_null=True))
    def get_key_metric(self, obj) -> dict | None:
        return key_metric(obj.model_type, obj.metrics)

    def get_training_duration_seconds(self, obj) -> float:
        return round(obj.training_duration_seconds or 0.0, 1)


class RecentTrainingSerializer(serializers.Serializer):
    """A training run in a few fields; the version it produced carries the key metric (`recent_models`,
    GET /api/ml/models/), the full log is GET /api/ml/training-logs/{id}/."""

    id = serializers.UUIDField()
    model_type = serializers.CharField()
    status = serializers.CharField()
    progress = serializers.IntegerField()
    version = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()
    created_at = ShortDateTimeField()
    finished_at = ShortDateTimeField(allow_null=True)
    duration_seconds = serializers.SerializerMethodField()

    def get_version(self, obj) -> int | None:
        return obj.ml_model.version if obj.ml_model else None

    def get_error(self, obj) -> str:
        """The first line of a failure: enough to tell what went wrong at a glance."""
        first = (obj.error or "").strip().splitlines()[:1]
        return first[0][:80] if first else ""

    def get_duration_seconds(self, obj) -> float | None:
        return round(obj.duration_seconds, 1) if obj.duration_seconds is not None else None


class DashboardSummaryOutputSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    summary = SummarySerializer()
    recent_models = RecentModelSerializer(many=True)
    recent_trainings = RecentTrainingSerializer(many=True)


RECENT_MODEL_EXAMPLE = {
    "id": "6f1c2c1e-8a5e-4f8e-9d52-2b1f8d0f7a10", "model_type": "sales_forecast", "version": 3,
    "algorithm": "random_forest", "is_active": True, "key_metric": {"name": "mase", "value": 0.82},
    "trained_at": "2026-11-23T10:00:00Z", "training_duration_seconds": 4.2,
}
TRAINING_EXAMPLE = {
    "id": "a1b2c3d4-0000-4000-8000-000000000001", "model_type": "customer_segmentation", "status": "succeeded",
    "progress": 100, "version": 4, "error": "", "created_at": "2026-11-23T10:00:00Z",
    "finished_at": "2026-11-23T10:00:09Z", "duration_seconds": 8.1,
}


class DashboardSummaryView(MLAPIView):
    @extend_schema(
        summary="Dashboard summary",
        description=(
            "The spec's daily overview. `critical_inventory_alerts` counts open alerts with urgency_level ≥ 4; "
            "`recent_models` are the 5 newest versions (active or not), `recent_trainings` the 10 newest "
            "training runs with status, progress, the version they produced and the first line of an error; "
            "each model carries its headline `key_metric` (forecast: mase, recommendations: recall_at_10, "
            "segmentation: silhouette_score, inventory: health_score). Times are to the second. The full "
            "records are under /api/ml/models/ and /api/ml/training-logs/."
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
                    "recent_models": [RECENT_MODEL_EXAMPLE],
                    "recent_trainings": [TRAINING_EXAMPLE],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        def build() -> dict:
            return {
                "success": True,
                "summary": dashboard_summary(),
                "recent_models": RecentModelSerializer(recent_models(), many=True).data,
                "recent_trainings": RecentTrainingSerializer(recent_trainings(), many=True).data,
            }

        # reused while no prediction, training log, alert or model changed, and until the clock moves a figure
        return rendered_answer(self, request, "dashboard", dashboard_identity(), build, timeout=dashboard_expiry)


RETRAIN_CHOICES = list(dict.fromkeys([*ModelType.values, *MODEL_TYPE_ALIASES]))


@extend_schema_field({"type": "string", "example": "segmentation",
                      "description": "One of: " + ", ".join(RETRAIN_CHOICES) + "."})
class RetrainModelTypeField(serializers.ChoiceField):
    """Model type or alias. Documented without an enum component: a second `model_type` enum with other
    values would rename the registry's ModelTypeEnum in the schema."""


class RetrainInputSerializer(StrictInputSerializer):
    model_type = RetrainModelTypeField(
        choices=RETRAIN_CHOICES,
        help_text="A model type (sales_forecast, …) or the command's alias (forecast, segmentation, …).",
    )
    force = serializers.BooleanField(
        default=False,
        help_text="Activate the new version even if it scores worse than the active one on the holdout.",
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
        activation = "force" if serializer.validated_data["force"] else "champion"
        return training_response(request, MODEL_TYPE_ALIASES.get(model_type, model_type), {}, activation=activation)


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


class SegmentPointsQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(required=False, default=DEFAULT_POINTS, min_value=1, max_value=MAX_POINTS)


class SegmentPointSerializer(serializers.Serializer):
    customer_id = serializers.CharField()
    cluster_name = serializers.CharField()
    segment_type = serializers.CharField()
    recency_days = serializers.FloatField()
    frequency = serializers.IntegerField()
    monetary = serializers.FloatField()
    clv = serializers.FloatField(allow_null=True)


class SegmentSizeSerializer(serializers.Serializer):
    name = serializers.CharField()
    segment_type = serializers.CharField()
    size = serializers.IntegerField()


class SegmentPointsOutputSerializer(serializers.Serializer):
    success = serializers.BooleanField(default=True)
    model_id = serializers.UUIDField()
    calc_date = serializers.CharField(allow_null=True)
    n_customers = serializers.IntegerField()
    sampled = serializers.BooleanField()
    segments = SegmentSizeSerializer(many=True)
    points = SegmentPointSerializer(many=True)


class SegmentPointsView(MLAPIView):
    @extend_schema(
        summary="Customers of the active segmentation as points (interactive RFM views)",
        description=(
            "The data behind the dashboard's interactive segment scatter and 3-D RFM view: each customer's "
            "segment and recency/frequency/monetary values. Runs with more customers than `limit` (default "
            "1500, at most 5000) are sampled evenly (`sampled: true`); `segments` always counts every "
            "customer. 409 until a segmentation model is trained."
        ),
        parameters=[OpenApiParameter("limit", int, description="1–5000, default 1500")],
        responses={200: SegmentPointsOutputSerializer, **error_responses(400, 409)},
        examples=[OpenApiExample("Points", response_only=True, value={
            "success": True, "model_id": "9deece23-6b8b-4aab-b661-3f3aa47cf497", "calc_date": "2026-12-03",
            "n_customers": 400, "sampled": False,
            "segments": [{"name": "frequent", "segment_type": "frequent", "size": 128}],
            "points": [{"customer_id": "0022f507-…", "cluster_name": "frequent", "segment_type": "frequent",
                        "recency_days": 12.0, "frequency": 17, "monetary": 5533.34, "clv": 4417.11}]})],
    )
    def get(self, request):
        query = SegmentPointsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = segment_points(query.validated_data["limit"])
        return Response(SegmentPointsOutputSerializer({"success": True, **data}).data)


urlpatterns: list[URLPattern] = [
    path("dashboard-summary/", DashboardSummaryView.as_view(), name="dashboard-summary"),
    path("retrain/", RetrainView.as_view(), name="retrain"),
    path("sales-history/plot/", SalesHistoryPlotView.as_view(), name="sales-history-plot"),
    path("dashboard/", dashboard_page, name="dashboard"),
    path("dashboard/segment-points/", SegmentPointsView.as_view(), name="segment-points"),
]
