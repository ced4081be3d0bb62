"""How every train endpoint answers: queue the training (one service), then report.

With the immediate backend the training has already run when the service returns, so the endpoint
answers with the spec's full train response (the runner's stored result); with a queueing backend
(database, RQ) it answers 202 with the log id and a URL to poll. A second training of the same type
while one is in flight is refused with 409.
"""
from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from ml_predictions.api.serializers import TrainingQueuedSerializer, TrainingResultSerializer, error_responses
from ml_predictions.exceptions import REQUEST_ID_HEADER
from ml_predictions.models import MLTrainingLog
from ml_predictions.training.services import training_queue


def train_responses(result: type[serializers.Serializer] = TrainingResultSerializer) -> dict[int, Any]:
    """What a train endpoint can answer: 200 trained now (immediate backend; `result` is the
    capability's response serializer), 202 queued, 400 bad parameters, 409 one already in flight, 422 not
    enough data to train on, 500 a bug in training (the log holds its traceback)."""
    return {
        200: OpenApiResponse(result, description="Trained now (immediate task backend)."),
        202: OpenApiResponse(TrainingQueuedSerializer, description="Queued; poll status_url."),
        **error_responses(400, 409, 422, 500),
    }


TRAIN_RESPONSES = train_responses()


def _translated(result: dict[str, Any]) -> dict[str, Any]:
    """The stored result with its message in the request's language: trainers store the English
    msgid (gettext_noop) because a worker does not know who will read the answer."""
    message = result.get("message")
    return {**result, "message": gettext(message)} if isinstance(message, str) and message else result


def training_response(
    request: Request, model_type: str, params: dict[str, Any], *, activation: str = "always"
) -> Response:
    user = request.user if request.user and request.user.is_authenticated else None
    log = training_queue(model_type=model_type, params=params, user=user, trigger="api", activation=activation)
    if log.status == MLTrainingLog.Status.SUCCEEDED:
        return Response(_translated(log.result), status=status.HTTP_200_OK)
    if log.status == MLTrainingLog.Status.FAILED:
        body = log.result or {"success": False, "error": {"code": "training_failed", "message": log.error}}
        code = body.get("error", {}).get("status", 500)
        response = Response(body, status=code)
        rid = body.get("error", {}).get("request_id")
        if rid:
            response[REQUEST_ID_HEADER] = rid
        return response
    status_url = request.build_absolute_uri(reverse("ml_predictions:traininglog-detail", args=[log.pk]))
    body = TrainingQueuedSerializer({
        "success": True,
        "status": log.status,
        "message": gettext("Training queued; poll status_url for progress."),
        "training_log_id": log.pk,
        "status_url": status_url,
    }).data
    return Response(body, status=status.HTTP_202_ACCEPTED)
