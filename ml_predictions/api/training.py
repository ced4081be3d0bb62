"""How every train endpoint answers: start the log, enqueue the task, report.

With the immediate backend the task has already run when `enqueue` returns, so the endpoint answers
with seed 004's full response; with a queueing backend (database, RQ) it answers 202 with the log id
and a URL to poll. A second training of the same type while one is in flight is refused with 409.
"""
from __future__ import annotations

from functools import partial
from typing import Any

from django.db import transaction
from django.urls import reverse
from django_tasks.backends.immediate import ImmediateBackend
from drf_spectacular.types import OpenApiTypes
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from ml_predictions.models import MLTrainingLog
from ml_predictions.training.runner import start_training
from ml_predictions.training.tasks import train_model_task

# What a train endpoint can answer (documented once for every capability): 200 trained now (immediate
# backend), 202 queued, 400 bad parameters, 409 one already in flight, 422 not enough data to train on.
TRAIN_RESPONSES = {code: OpenApiTypes.OBJECT for code in (200, 202, 400, 409, 422)}


def _enqueue(log_id: str) -> None:
    try:
        result = train_model_task.enqueue(log_id)
    except Exception:
        MLTrainingLog.objects.filter(pk=log_id).update(
            status=MLTrainingLog.Status.FAILED, error="Could not enqueue the training task.", message="Failed"
        )
        raise
    MLTrainingLog.objects.filter(pk=log_id).update(task_id=str(result.id)[:64])


def training_response(request: Request, model_type: str, params: dict[str, Any]) -> Response:
    user = request.user if request.user and request.user.is_authenticated else None
    log = start_training(model_type, params, user=user, trigger="api")
    immediate = isinstance(train_model_task.get_backend(), ImmediateBackend)
    if not immediate and transaction.get_connection().in_atomic_block:
        # Inside the host's request transaction (ATOMIC_REQUESTS): a Redis worker could pick the task
        # up before the log row is committed and find nothing. Enqueue once the row is visible.
        transaction.on_commit(partial(_enqueue, str(log.pk)))
    else:
        _enqueue(str(log.pk))
    log.refresh_from_db()
    if log.status == MLTrainingLog.Status.SUCCEEDED:
        return Response(log.result, status=status.HTTP_200_OK)
    if log.status == MLTrainingLog.Status.FAILED:
        body = log.result or {"success": False, "error": {"code": "training_failed", "message": log.error}}
        code = body.get("error", {}).get("status", 500)
        return Response(body, status=code)
    status_url = request.build_absolute_uri(reverse("ml_predictions:traininglog-detail", args=[log.pk]))
    return Response(
        {
            "success": True,
            "status": log.status,
            "message": "Training queued; poll status_url for progress.",
            "training_log_id": str(log.pk),
            "status_url": status_url,
        },
        status=status.HTTP_202_ACCEPTED,
    )
