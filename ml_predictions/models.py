"""The plugin's own tables: model registry, predictions, inventory alerts and training logs.

Nothing here points at the host's models with a foreign key: product and customer ids are stored as
strings so the plugin works with any shop schema (UUID, integer or text keys).
"""
from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ModelType(models.TextChoices):
    SALES_FORECAST = "sales_forecast", _("Sales forecast")
    PRODUCT_RECOMMENDATION = "product_recommendation", _("Product recommendation")
    CUSTOMER_SEGMENTATION = "customer_segmentation", _("Customer segmentation")
    INVENTORY = "inventory", _("Inventory optimization")


class MLModel(models.Model):
    """One trained version of one model type; exactly one version per type is active."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    model_type = models.CharField(max_length=32, choices=ModelType.choices, db_index=True)
    version = models.PositiveIntegerField()
    algorithm = models.CharField(max_length=64)
    parameters = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    artifact_path = models.CharField(max_length=500, blank=True)
    artifact_sha256 = models.CharField(max_length=64, blank=True)
    artifact_size = models.BigIntegerField(default=0)
    library_versions = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=False)
    trained_at = models.DateTimeField(default=timezone.now, db_index=True)
    training_duration_seconds = models.FloatField(default=0)
    data_start = models.DateField(null=True, blank=True)
    data_end = models.DateField(null=True, blank=True)
    n_samples = models.PositiveIntegerField(default=0)
    trained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "ML model"
        verbose_name_plural = "ML models"
        ordering = ["-trained_at"]
        constraints = [
            models.UniqueConstraint(fields=["model_type", "version"], name="mlmodel_unique_version"),
            models.UniqueConstraint(
                fields=["model_type"], condition=Q(is_active=True), name="mlmodel_one_active_per_type"
            ),
        ]
        verbose_name = _("ML model")

    def __str__(self) -> str:
        flag = " (active)" if self.is_active else ""
        return f"{self.model_type} v{self.version}{flag}"


class Prediction(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    model = models.ForeignKey(MLModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="predictions")
    kind = models.CharField(max_length=32, choices=ModelType.choices, db_index=True)
    target = models.CharField(max_length=200, blank=True, help_text="What was predicted: 'total', a product id…")
    input = models.JSONField(default=dict, blank=True)
    output = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.target} @ {self.created_at:%Y-%m-%d %H:%M}"


class InventoryAlert(models.Model):
    class AlertType(models.TextChoices):
        REORDER_NOW = "reorder_now", _("Reorder now")
        LOW_STOCK = "low_stock", _("Low stock")
        SLOW_MOVING = "slow_moving", _("Slow moving")
        OVERSTOCK = "overstock", _("Overstock")
        HIGH_DEMAND = "high_demand", _("High demand")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        RESOLVED = "resolved", _("Resolved")
        AUTO_RESOLVED = "auto_resolved", _("Auto-resolved (no longer true)")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    product_id = models.CharField(max_length=64, db_index=True)
    product_name = models.CharField(max_length=255)
    alert_type = models.CharField(max_length=16, choices=AlertType.choices, db_index=True)
    current_stock = models.IntegerField()
    recommended_stock = models.IntegerField(default=0)
    predicted_demand_7days = models.FloatField(default=0)
    predicted_demand_30days = models.FloatField(default=0)
    urgency_level = models.PositiveSmallIntegerField(default=1, db_index=True)
    estimated_stockout_date = models.DateField(null=True, blank=True)
    # ABC-XYZ class of the product in the analysis that raised or last updated the alert ("" = unknown)
    product_class = models.CharField(max_length=2, blank=True, default="")
    message = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    # Date of the analysis that last wrote this row: a look back at an earlier date never rewrites it.
    as_of = models.DateField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-urgency_level", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["product_id", "alert_type"], condition=Q(status="open"), name="alert_one_open_per_product_type"
            ),
            models.CheckConstraint(condition=Q(urgency_level__gte=1, urgency_level__lte=5), name="alert_urgency_1_5"),
        ]

    def __str__(self) -> str:
        return f"{self.alert_type}: {self.product_name}"


class MLTrainingLog(models.Model):
    """One training run; also the progress channel, since the Tasks API has none."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    model_type = models.CharField(max_length=32, choices=ModelType.choices, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0)
    message = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True, help_text="The train endpoint's response body")
    ml_model = models.ForeignKey(MLModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="training_logs")
    task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    trigger = models.CharField(max_length=16, default="api", help_text="api, command, schedule")

    class Meta:
        verbose_name = "ML training log"
        verbose_name_plural = "ML training logs"
        ordering = ["-created_at"]
        constraints = [
            # Never two writers: at most one queued-or-running training per model type.
            models.UniqueConstraint(
                fields=["model_type"],
                condition=Q(status__in=["queued", "running"]),
                name="traininglog_one_in_flight_per_type",
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="traininglog_progress_le_100"),
        ]

    def __str__(self) -> str:
        return f"{self.model_type} {self.status} {self.progress}%"


class CustomerSegmentAssignment(models.Model):
    """One customer's segment in one segmentation run (the RFM + K-means peer system's customer_clusters table).

    Rows belong to the MLModel version that produced them, so the active run answers a lookup with one
    indexed read and past runs stay queryable by calc_date until their version is pruned
    (KEEP_VERSIONS). Written in bulk by the segmentation trainer, never row by row.
    """

    id = models.BigAutoField(primary_key=True)
    model = models.ForeignKey(MLModel, on_delete=models.CASCADE, related_name="segment_assignments")
    customer_id = models.CharField(max_length=64)
    calc_date = models.DateField(db_index=True)
    cluster = models.PositiveSmallIntegerField()
    segment_type = models.CharField(max_length=16, db_index=True)
    cluster_name = models.CharField(max_length=32)
    rfm_segment = models.CharField(max_length=3)
    rfm_name = models.CharField(max_length=32)
    recency_days = models.FloatField()
    frequency = models.PositiveIntegerField()
    monetary = models.FloatField()
    avg_order_value = models.FloatField(default=0)
    unique_products = models.PositiveIntegerField(default=0)
    tenure_days = models.FloatField(default=0)
    purchases_per_month = models.FloatField(default=0)
    confidence = models.FloatField()
    p_alive = models.FloatField(null=True, blank=True)
    expected_purchases = models.FloatField(null=True, blank=True)
    clv = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["model", "cluster", "customer_id"]
        constraints = [
            models.UniqueConstraint(fields=["model", "customer_id"], name="segassign_one_per_customer_per_run"),
        ]
        indexes = [
            models.Index(fields=["customer_id", "calc_date"], name="segassign_customer_date"),
            models.Index(fields=["model", "cluster_name"], name="segassign_model_cluster"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.cluster_name} ({self.calc_date})"


class CustomerSegmentHistory(models.Model):
    """One customer's segment in one segmentation run, kept after the run's version is pruned.

    CustomerSegmentAssignment rows go with their MLModel (KEEP_VERSIONS); this compact copy keys the run
    by its id, version and calc_date (no foreign key), so segment transitions between any two runs stay
    answerable — the list of customers who slipped from a valuable segment into at_risk is what a
    marketer acts on. Written in bulk beside the assignments.
    """

    id = models.BigAutoField(primary_key=True)
    run_id = models.UUIDField(db_index=True)
    run_version = models.PositiveIntegerField()
    calc_date = models.DateField(db_index=True)
    customer_id = models.CharField(max_length=64)
    cluster = models.PositiveSmallIntegerField()
    cluster_name = models.CharField(max_length=32)
    segment_type = models.CharField(max_length=16)
    monetary = models.FloatField(default=0)
    clv = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-run_version", "customer_id"]
        constraints = [
            models.UniqueConstraint(fields=["run_id", "customer_id"], name="seghist_one_per_customer_per_run"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.cluster_name} ({self.calc_date}, v{self.run_version})"
