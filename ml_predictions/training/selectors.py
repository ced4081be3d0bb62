"""Reads of the model registry and the training log, for the API's list and detail views."""
from __future__ import annotations

from django.db.models import QuerySet

from ml_predictions.models import MLModel, MLTrainingLog


def model_list() -> QuerySet[MLModel]:
    """Every registered version (the API filters, orders and paginates it)."""
    return MLModel.objects.all()


def training_log_list() -> QuerySet[MLTrainingLog]:
    """Every training run, with who triggered it (serialized by name: one join, not one query per row)."""
    return MLTrainingLog.objects.select_related("triggered_by")
