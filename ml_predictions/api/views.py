"""Registry viewsets (the spec's ViewSets: models, predictions, alerts, training logs) and the health check."""
from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from ml_predictions.answer_cache import registry_identity
from ml_predictions.api.answers import rendered_answer
from ml_predictions.api.base import MLReadOnlyViewSet, SettingClasses
from ml_predictions.api.permissions import MLAPIPermission
from ml_predictions.api.serializers import (
    ActivateModelOutputSerializer,
    HealthSerializer,
    InventoryAlertSerializer,
    MLModelSerializer,
    MLTrainingLogSerializer,
    PredictionSerializer,
    ResolveAlertSerializer,
    error_responses,
)
from ml_predictions.capabilities.alerts import alert_list, alert_resolve
from ml_predictions.capabilities.predictions import prediction_list
from ml_predictions.dashboard.health import health_report
from ml_predictions.training.registry import model_activate
from ml_predictions.training.selectors import model_list, training_log_list

MODEL_EXAMPLE = {
    "id": "6f1c2c1e-8a5e-4f8e-9d52-2b1f8d0f7a10",
    "model_type": "sales_forecast",
    "version": 3,
    "algorithm": "random_forest",
    "parameters": {"model_type": "random_forest"},
    "metrics": {"test_r2": 0.85, "test_rmse": 45.23, "train_r2": 0.92, "cv_r2_mean": 0.83},
    "is_active": True,
    "trained_at": "2026-11-23T10:00:00Z",
    "training_duration_seconds": 4.2,
    "data_start": "2024-11-23",
    "data_end": "2026-11-22",
    "n_samples": 730,
    "artifact_path": "sales_forecast_v3.pkl",
    "artifact_sha256": "9f2c…",
    "artifact_size": 183422,
    "library_versions": {"scikit-learn": "1.9.1", "numpy": "2.4.6"},
}


@extend_schema_view(
    list=extend_schema(
        summary="List trained models",
        examples=[OpenApiExample("Models", value=[MODEL_EXAMPLE], response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One trained model", examples=[OpenApiExample("Model", value=MODEL_EXAMPLE, response_only=True)]
    ),
)
class MLModelViewSet(MLReadOnlyViewSet):
    queryset = model_list()
    serializer_class = MLModelSerializer
    filterset_fields = ["model_type", "is_active", "algorithm"]
    ordering_fields = ["trained_at", "version", "model_type"]
    search_fields = ["algorithm"]

    def list(self, request, *args, **kwargs):
        # The page for this URL (filters, ordering, search, page) from the answer cache while the registry
        # is unchanged: a training, a pruning, an activation or a metrics note is a new key.
        return rendered_answer(self, request, "models", registry_identity(),
                               lambda: super(MLModelViewSet, self).list(request, *args, **kwargs).data)

    @extend_schema(
        summary="Activate this version (rollback)",
        description=(
            "Makes this version the active one of its model type, e.g. to roll back a bad retrain. The artifact "
            "must still exist and load (else 409); refused with 409 while a training of the same type is queued "
            "or running, because that training would replace the version a moment later. Activating the "
            "active version is a no-op."
        ),
        request=None,
        responses={200: ActivateModelOutputSerializer, **error_responses(404, 409)},
        examples=[
            OpenApiExample("Rolled back", value={
                "success": True, "message": "sales_forecast v2 is now active.",
                "previous_model_id": "0d0e…", "model": {**MODEL_EXAMPLE, "version": 2}}, response_only=True),
        ],
    )
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        model = self.get_object()
        activation = model_activate(model_id=model.pk)
        return Response(ActivateModelOutputSerializer({
            "success": True,
            "message": _("%(model)s is now active.")
            % {"model": f"{activation.model.model_type} v{activation.model.version}"},
            "previous_model_id": activation.previous.pk if activation.previous else None,
            "model": activation.model,
        }).data)


@extend_schema_view(
    list=extend_schema(
        summary="Prediction history",
        examples=[
            OpenApiExample(
                "Predictions",
                value=[{
                    "id": "0b8e…", "model": "6f1c…", "kind": "sales_forecast", "target": "total",
                    "input": {"days_ahead": 7}, "output": {"summary": {"total_predicted_sales": 8750.0}},
                    "created_at": "2026-11-23T10:05:00Z",
                }],
                response_only=True,
            )
        ],
    ),
    retrieve=extend_schema(
        summary="One prediction",
        examples=[OpenApiExample("Prediction", response_only=True, value={
            "id": "0b8e…", "model": "6f1c…", "kind": "sales_forecast", "target": "total",
            "input": {"days_ahead": 7}, "output": {"summary": {"total_predicted_sales": 8750.0}},
            "created_at": "2026-11-23T10:05:00Z"})],
    ),
)
class PredictionViewSet(MLReadOnlyViewSet):
    queryset = prediction_list()
    serializer_class = PredictionSerializer
    filterset_fields = ["kind", "model", "target"]
    ordering_fields = ["created_at"]


ALERT_EXAMPLE = {
    "id": "c7d1…", "product_id": "2b9f…", "product_name": "Jean Skinny Negro", "alert_type": "reorder_now",
    "current_stock": 3, "recommended_stock": 25, "predicted_demand_7days": 8, "predicted_demand_30days": 32,
    "urgency_level": 5, "estimated_stockout_date": "2026-11-26", "message": "", "status": "open",
    "created_at": "2026-11-23T10:00:00Z", "updated_at": "2026-11-23T10:00:00Z", "resolved_at": None,
    "resolved_by": None,
}


@extend_schema_view(
    list=extend_schema(
        summary="Inventory alerts",
        examples=[OpenApiExample("Alerts", value=[ALERT_EXAMPLE], response_only=True)],
    ),
    retrieve=extend_schema(
        summary="One inventory alert", examples=[OpenApiExample("Alert", value=ALERT_EXAMPLE, response_only=True)]
    ),
)
class InventoryAlertViewSet(MLReadOnlyViewSet):
    queryset = alert_list()
    serializer_class = InventoryAlertSerializer
    filterset_fields = {"alert_type": ["exact"], "status": ["exact"], "urgency_level": ["exact", "gte"], "product_id": ["exact"]}
    ordering_fields = ["urgency_level", "created_at", "estimated_stockout_date"]
    search_fields = ["product_name"]

    @extend_schema(
        summary="Resolve an alert",
        description="Marks the alert resolved and records who resolved it and when. Resolving twice is a 409.",
        request=ResolveAlertSerializer,
        responses={200: InventoryAlertSerializer, **error_responses(400, 404, 409)},
        examples=[
            OpenApiExample("Resolved", value={**ALERT_EXAMPLE, "status": "resolved", "resolved_at": "2026-11-23T11:00:00Z",
                                               "resolved_by": "admin"}, response_only=True)
        ],
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        serializer = ResolveAlertSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        alert = alert_resolve(alert=self.get_object(), user=request.user,
                              note=serializer.validated_data.get("note") or "")
        return Response(InventoryAlertSerializer(alert).data)


@extend_schema_view(
    list=extend_schema(
        summary="Training runs, with status and progress",
        examples=[
            OpenApiExample(
                "Logs",
                value=[{
                    "id": "a1b2…", "model_type": "customer_segmentation", "status": "running", "progress": 40,
                    "message": "Choosing k (silhouette)", "error": "", "parameters": {"n_clusters": "auto"},
                    "metrics": {}, "result": {}, "ml_model": None, "task_id": "…",
                    "created_at": "2026-11-23T10:00:00Z", "updated_at": "2026-11-23T10:00:03Z",
                    "started_at": "2026-11-23T10:00:01Z", "finished_at": None, "duration_seconds": None,
                    "triggered_by": "admin", "trigger": "api",
                }],
                response_only=True,
            )
        ],
    ),
    retrieve=extend_schema(
        summary="One training run (poll this while a training runs)",
        examples=[OpenApiExample("Running", response_only=True, value={
            "id": "a1b2…", "model_type": "customer_segmentation", "status": "running", "progress": 40,
            "message": "Choosing k (silhouette)", "error": "", "parameters": {"n_clusters": "auto"},
            "metrics": {}, "result": {}, "ml_model": None, "task_id": "…",
            "created_at": "2026-11-23T10:00:00Z", "updated_at": "2026-11-23T10:00:03Z",
            "started_at": "2026-11-23T10:00:01Z", "finished_at": None, "duration_seconds": None,
            "triggered_by": "admin", "trigger": "api"})],
    ),
)
class MLTrainingLogViewSet(MLReadOnlyViewSet):
    queryset = training_log_list()
    serializer_class = MLTrainingLogSerializer
    filterset_fields = ["model_type", "status", "trigger"]
    ordering_fields = ["created_at", "finished_at"]


class HealthView(APIView):
    """Public liveness/readiness probe: the status for anyone, the details for the API's staff."""

    permission_classes = [AllowAny]
    authentication_classes = SettingClasses("AUTHENTICATION_CLASSES")

    def perform_authentication(self, request):
        # A probe never answers 401: a missing, expired or forged token (or a database too broken to
        # look the user up) simply means "not staff", and the caller gets the status alone.
        pass

    def _is_staff(self, request) -> bool:
        try:
            return MLAPIPermission().has_permission(request, self)
        except Exception:  # noqa: BLE001 — see perform_authentication
            return False

    @extend_schema(
        summary="Health check",
        description=(
            "`status` for anyone: ok, degraded (200: an active model's artifact is missing, corrupt or unverified; "
            "the other capabilities serve) or error (503: the database or the plugin's tables cannot be used). "
            "Staff callers (a staff JWT or session) also get the database, the library versions and each active "
            "model with the state of its file."
        ),
        responses={200: HealthSerializer, 503: HealthSerializer},
        examples=[
            OpenApiExample("Anonymous", value={"status": "ok"}, response_only=True),
            OpenApiExample(
                "Staff, one artifact corrupt",
                value={
                    "status": "degraded",
                    "database": {"ok": True, "vendor": "postgresql"},
                    "versions": {"ml_predictions": "0.1.0", "django": "5.2.19", "scikit-learn": "1.9.1"},
                    "active_models": {
                        "sales_forecast": {"id": "6f1c2c1e-8a5e-4f8e-9d52-2b1f8d0f7a10", "version": 3,
                                           "trained_at": "2026-11-23T10:00:00Z", "artifact": "corrupt"},
                        "product_recommendation": None},
                },
                response_only=True,
            ),
        ],
    )
    def get(self, request):
        report = health_report(detailed=self._is_staff(request))
        code = status.HTTP_503_SERVICE_UNAVAILABLE if report["status"] == "error" else status.HTTP_200_OK
        return Response(HealthSerializer(report).data, status=code)
