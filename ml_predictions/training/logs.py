"""The training log's state rules, shared by the runner and the registry.

Its own module because both sides need them: the runner frees a dead worker's slot before starting a
training, and the registry refuses an activation while a training of the same type is in flight.
Neither imports the other for it, so there is no cycle.
"""
from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from ml_predictions.conf import ml_settings
from ml_predictions.models import MLTrainingLog

IN_FLIGHT = (MLTrainingLog.Status.QUEUED, MLTrainingLog.Status.RUNNING)
STALE_ERROR = "No progress for too long: the worker was stopped or lost. The previous version stays active."


def fail_stale_trainings(model_type: str | None = None) -> int:
    """Mark trainings that stopped making progress (killed worker) as failed; return how many.

    A worker killed mid-training leaves its log 'running' forever; this frees the slot after
    ML_PREDICTIONS['STALE_TRAINING_MINUTES']. Nothing else has to be undone: the runner registers
    (and activates) a model only at the very end, in one transaction, so a training that died before
    that point left the previous version active.
    """
    cutoff = timezone.now() - timedelta(minutes=ml_settings.STALE_TRAINING_MINUTES)
    stale = MLTrainingLog.objects.filter(status__in=IN_FLIGHT, updated_at__lt=cutoff)
    if model_type is not None:
        stale = stale.filter(model_type=model_type)
    return stale.update(
        status=MLTrainingLog.Status.FAILED,
        error=STALE_ERROR,
        message="Failed",
        finished_at=timezone.now(),
        updated_at=timezone.now(),
    )


def training_in_flight(model_type: str) -> MLTrainingLog | None:
    """The queued or running training of `model_type`, if any (after freeing a dead worker's slot)."""
    fail_stale_trainings(model_type)
    return MLTrainingLog.objects.filter(model_type=model_type, status__in=IN_FLIGHT).first()
