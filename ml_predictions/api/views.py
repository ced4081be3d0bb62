"""Registry viewsets (seed 004's ViewSets) and the health check."""
from __future__ import annotations

from importlib import metadata

from django.db import DatabaseError, connection
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from ml_predictions.api.base import MLReadOnlyViewSet
from ml_predictions.api.serializers import (
    ActivateModelOutputSerializer,
    InventoryAlertSerializer,
    MLModelSerializer,
    MLTrainingLogSerializer,
    PredictionSerializer,
    ResolveAlertSerializer,
)
from ml_predictions.errors import ConflictError
from ml_predictions.models import InventoryAlert, MLModel, MLTrainingLog, ModelType, Prediction
from ml_predictions.training.registry import model_activate

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
    queryset = MLModel.objects.all()
    serializer_class = MLModelSerializer
    filterset_fields = ["model_type", "is_active", "algorithm"]
    ordering_fields = ["trained_at", "version", "model_type"]
    search_fields = ["algorithm"]

    @extend_schema(
        summary="Activate this version (rollback)",
        description=(
            "Makes this version the active one of its model type, e.g. to roll back a bad retrain. The artifact "
            "must still exist and load (else 409); refused with 409 while a training of the same type is queued "
            "or running, because that training would replace the version a moment later. Activating the "
            "active version is a no-op."
        ),
        request=None,
        responses={200: ActivateModelOutputSerializer},
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
    queryset = Prediction.objects.all()
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
    queryset = InventoryAlert.objects.select_related("resolved_by")
    serializer_class = InventoryAlertSerializer
    filterset_fields = {"alert_type": ["exact"], "status": ["exact"], "urgency_level": ["exact", "gte"], "product_id": ["exact"]}
    ordering_fields = ["urgency_level", "created_at", "estimated_stockout_date"]
    search_fields = ["product_name"]

    @extend_schema(
        summary="Resolve an alert",
        description="Marks the alert resolved and records who resolved it and when. Resolving twice is a 409.",
        request=ResolveAlertSerializer,
        responses={200: InventoryAlertSerializer},
        examples=[
            OpenApiExample("Resolved", value={**ALERT_EXAMPLE, "status": "resolved", "resolved_at": "2026-11-23T11:00:00Z",
                                               "resolved_by": "admin"}, response_only=True)
        ],
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        serializer = ResolveAlertSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        alert = self.get_object()
        if alert.status != InventoryAlert.Status.OPEN:
            raise ConflictError(f"Alert {alert.pk} is already {alert.status}.")
        alert.status = InventoryAlert.Status.RESOLVED
        alert.resolved_at = timezone.now()
        alert.resolved_by = request.user
        note = serializer.validated_data.get("note")
        if note:
            alert.message = f"{alert.message}\n{note}".strip()
        alert.save(update_fields=["status", "resolved_at", "resolved_by", "message", "updated_at"])
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
    queryset = MLTrainingLog.objects.select_related("triggered_by")
    serializer_class = MLTrainingLogSerializer
    filterset_fields = ["model_type", "status", "trigger"]
    ordering_fields = ["created_at", "finished_at"]


class HealthView(APIView):
    """Public liveness/readiness probe: database reachable, versions, active model per type."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        summary="Health check",
        responses={
            200: inline_serializer(
                "Health",
                {
                    "status": serializers.CharField(),
                    "database": serializers.DictField(),
                    "versions": serializers.DictField(),
                    "active_models": serializers.DictField(),
                },
            ),
            503: OpenApiTypes.OBJECT,
        },
        examples=[
            OpenApiExample(
                "Healthy",
                value={
                    "status": "ok",
                    "database": {"ok": True, "vendor": "postgresql"},
                    "versions": {"ml_predictions": "0.1.0", "django": "5.2.19", "scikit-learn": "1.9.1"},
                    "active_models": {"sales_forecast": {"version": 3, "trained_at": "2026-11-23T10:00:00Z"},
                                      "product_recommendation": None},
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        from ml_predictions import __version__

        versions = {"ml_predictions": __version__}
        for lib in ("django", "djangorestframework", "scikit-learn", "pandas", "numpy"):
            versions[lib] = metadata.version(lib)
        db = {"vendor": connection.vendor}
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            db["ok"] = True
        except Exception as exc:  # noqa: BLE001 — the probe reports, it does not crash
            db["ok"] = False
            db["error"] = str(exc)
            return Response({"status": "error", "database": db, "versions": versions, "active_models": {}},
                            status=status.HTTP_503_SERVICE_UNAVAILABLE)
        active = {t: None for t in ModelType.values}
        try:
            rows = list(MLModel.objects.filter(Q(is_active=True)).only("model_type", "version", "trained_at", "id"))
        except DatabaseError as exc:
            # reachable but unusable (typically an unmigrated database): a probe must say so, not crash
            db["ok"] = False
            db["error"] = f"the ml_predictions tables cannot be read; run `manage.py migrate` ({exc})"
            return Response({"status": "error", "database": db, "versions": versions, "active_models": {}},
                            status=status.HTTP_503_SERVICE_UNAVAILABLE)
        for m in rows:
            active[m.model_type] = {"id": str(m.id), "version": m.version, "trained_at": m.trained_at}
        return Response({"status": "ok", "database": db, "versions": versions, "active_models": active})
