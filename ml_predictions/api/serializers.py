"""Output serializers of the registry viewsets and the shared response shapes (errors, trainings).

Every answer is rendered through one of these, so the OpenAPI schema shows the real shape of each
response instead of a bare object.
"""
from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
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
    resolved_by = serializers.StringRelatedField(allow_null=True, help_text="Who resolved it; null while open.")

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
    triggered_by = serializers.StringRelatedField(
        allow_null=True, help_text="The user who started it; null for the schedule and commands."
    )

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
    artifact = serializers.ChoiceField(
        choices=["ok", "missing", "corrupt", "unverified"],
        help_text="The stored file: ok (it matches its recorded SHA-256), missing, corrupt (another hash or size) "
                  "or unverified (no hash recorded, so it is not served).")


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["ok", "degraded", "error"],
        help_text="error (503): the database or the plugin's tables cannot be used. degraded (200): an active "
                  "model's artifact is missing, corrupt or unverified. ok (200).")
    database = HealthDatabaseSerializer(required=False, help_text="Staff only.")
    versions = serializers.DictField(child=serializers.CharField(), required=False, help_text="Staff only.")
    active_models = serializers.DictField(
        child=ActiveModelSummarySerializer(allow_null=True), required=False,
        help_text="Staff only. Per model type, its active version and the state of its file, or null when none "
                  "is active.",
    )


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable name (invalid, not_found, insufficient_data, …).")
    message = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False,
        help_text="Per request field, what is wrong with it (validation errors).",
    )
    details = serializers.DictField(required=False, help_text="Facts behind the error (e.g. training_log_id).")
    request_id = serializers.CharField(
        required=False, help_text="On a 500: the correlation id of the logged traceback (also the X-Request-ID header).")


class ErrorSerializer(serializers.Serializer):
    """The documented error shape of every /api/ml/ answer that is not a success."""

    success = serializers.BooleanField(default=False)
    error = ErrorDetailSerializer()


ERROR_DESCRIPTIONS = {
    400: "A parameter is invalid; `error.fields` names it.",
    401: "Not authenticated.",
    403: "Authenticated but not staff.",
    404: "The id does not exist.",
    409: "Conflicts with the current state (no active model, a training in flight, a bad artifact).",
    422: "Not enough data for this.",
    500: "A bug: logged with its traceback.",
    503: "A dependency (database, artifact store) is unavailable.",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """The error answers of an operation, each in the documented error shape."""
    return {code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code]) for code in codes}


class ChallengerVerdictSerializer(serializers.Serializer):
    """Why a retrain did or did not replace the active version (training/champion.py)."""

    accepted = serializers.BooleanField()
    reason = serializers.CharField()
    metric = serializers.CharField(allow_null=True)
    higher_is_better = serializers.BooleanField(allow_null=True)
    challenger_score = serializers.FloatField(allow_null=True)
    champion_score = serializers.FloatField(allow_null=True)
    champion_id = serializers.UUIDField(allow_null=True)
    champion_version = serializers.IntegerField(allow_null=True)
    tolerance = serializers.FloatField(allow_null=True)
    same_holdout = serializers.BooleanField(help_text="Both scored on the challenger's holdout (else each on its own).")


class TrainingQueuedSerializer(serializers.Serializer):
    """The 202 answer of every train endpoint when a worker will run the training."""

    success = serializers.BooleanField(default=True)
    status = serializers.CharField()
    message = serializers.CharField()
    training_log_id = serializers.UUIDField()
    status_url = serializers.URLField(help_text="GET it to follow status and progress.")


class TrainingResultSerializer(serializers.Serializer):
    """The keys every finished training answers with (the runner's stored result); each capability
    adds its own keys beside them (the spec's train response of that capability)."""

    success = serializers.BooleanField()
    message = serializers.CharField()
    model_id = serializers.UUIDField()
    version = serializers.IntegerField()
    metrics = serializers.DictField()
    duration_seconds = serializers.FloatField()
    training_log_id = serializers.UUIDField()
    activated = serializers.BooleanField(
        required=False, help_text="Whether this version became the active one (false: a rejected challenger).")
    challenger = ChallengerVerdictSerializer(required=False, help_text="Retrains only: the champion/challenger verdict.")
