"""Queueing a training: the one write every caller (API, dashboard retrain, commands) goes through.

`training_queue` creates the queued log (refusing a second training of the same type) and hands it
to the background task. With the immediate backend the task has run when it returns, so the caller
sees the finished log; with a queueing backend (database, RQ) it sees a queued one to poll.
"""
from __future__ import annotations

from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from ml_predictions.errors import InvalidParameterError
from ml_predictions.models import MLTrainingLog
from ml_predictions.training.champion import ACTIVATION_POLICIES, ALWAYS
from ml_predictions.training.runner import check_train_params, start_training
from ml_predictions.training.tasks import train_model_task


def _enqueue(log_id: str, activation: str) -> None:
    try:
        result = train_model_task.enqueue(log_id, activation)
    except Exception:
        # The task never reached the queue: free the slot so the type is not blocked until the stale timeout.
        MLTrainingLog.objects.filter(pk=log_id).update(
            status=MLTrainingLog.Status.FAILED, error="Could not enqueue the training task.", message="Failed",
            updated_at=timezone.now(),  # update() skips auto_now; the dashboard's cache key reads it
        )
        raise
    MLTrainingLog.objects.filter(pk=log_id).update(task_id=str(result.id)[:64], updated_at=timezone.now())


def training_queue(
    *, model_type: str, params: dict[str, Any] | None = None, user: Any = None, trigger: str = "api",
    check_params: bool = False, activation: str = ALWAYS,
) -> MLTrainingLog:
    """Queue a training of `model_type` and return its log, refreshed after the enqueue.

    Raises TrainingInProgressError when one is already queued or running, InvalidParameterError for a
    model type this installation cannot train (or, with `check_params`, a parameter its trainer does
    not read). `activation` is the champion/challenger policy (training/champion.py).
    """
    if activation not in ACTIVATION_POLICIES:
        raise InvalidParameterError(f"activation must be one of {ACTIVATION_POLICIES}; got {activation!r}.",
                                    field="activation")
    params = dict(params or {})
    if check_params:
        check_train_params(model_type, params)
    log = start_training(model_type, params, user=user if getattr(user, "pk", None) else None, trigger=trigger)
    if transaction.get_connection().in_atomic_block and not _is_immediate():
        # Inside the host's request transaction (ATOMIC_REQUESTS): a Redis worker could pick the task
        # up before the log row is committed and find nothing. Enqueue once the row is visible.
        transaction.on_commit(partial(_enqueue, str(log.pk), activation))
    else:
        _enqueue(str(log.pk), activation)
    log.refresh_from_db()
    return log


def _is_immediate() -> bool:
    from django_tasks.backends.immediate import ImmediateBackend

    return isinstance(train_model_task.get_backend(), ImmediateBackend)
