"""Output serializers of the registry viewsets (read-only tables of the plugin)."""
from __future__ import annotations

from rest_framework import serializers

from ml_predictions.models import InventoryAlert, MLModel, MLTrainingLog, Prediction


class MLModelSerializer(serializers.ModelSerializer):
    class Meta:
        model = MLModel
        fields = [
            "id", "model_type", "version", "algorithm", "parameters", "metrics", "is_active", "trained_at",
            "training_duration_seconds", "data_start", "data_end", "n_samples", "artifact_path",
            "artifact_sha256", "artifact_size", "library_versions",
        ]
        read_only_fields = fields


class ActivateModelOutputSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()
    previous_model_id = serializers.UUIDField(allow_null=True)
    model = MLModelSerializer()


class PredictionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Prediction
        fields = ["id", "model", "kind", "target", "input", "output", "created_at"]
        read_only_fields = fields


class InventoryAlertSerializer(serializers.ModelSerializer):
    resolved_by = serializers.StringRelatedField()

    class Meta:
        model = InventoryAlert
        fields = [
            "id", "product_id", "product_name", "alert_type", "current_stock", "recommended_stock",
            "predicted_demand_7days", "predicted_demand_30days", "urgency_level", "estimated_stockout_date",
            "message", "status", "created_at", "updated_at", "resolved_at", "resolved_by",
        ]
        read_only_fields = fields


class ResolveAlertSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class MLTrainingLogSerializer(serializers.ModelSerializer):
    triggered_by = serializers.StringRelatedField()

    class Meta:
        model = MLTrainingLog
        fields = [
            "id", "model_type", "status", "progress", "message", "error", "parameters", "metrics", "result",
            "ml_model", "task_id", "created_at", "updated_at", "started_at", "finished_at", "duration_seconds",
            "triggered_by", "trigger",
        ]
        read_only_fields = fields


class HealthDatabaseSerializer(serializers.Serializer):
    vendor = serializers.CharField()
    ok = serializers.BooleanField()
    error = serializers.CharField(required=False, help_text="Why the database cannot be used (only when ok is false).")


class ActiveModelSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    version = serializers.IntegerField()
    trained_at = serializers.DateTimeField()


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "error"])
    database = HealthDatabaseSerializer()
    versions = serializers.DictField(child=serializers.CharField())
    active_models = serializers.DictField(
        child=ActiveModelSummarySerializer(allow_null=True),
        help_text="Per model type, its active version, or null when none is active.",
    )
