"""What GET /api/ml/dashboard-summary/ is computed from, for its cached answer (ml_predictions/answer_cache.py).

Why: the summary cost eight queries (one of them an UPDATE freeing dead trainings' slots) and two
serialisations per request, 0.14x the bare view's throughput. Its figures come from four tables, so
the key is one query of the latest write of each (predictions: created_at; training logs and alerts:
updated_at, which every write path sets) and the row counts of the two small ones, plus the registry's
fingerprint and stamp (recent models and their key metric). Those are database reads, so a training
finishing in the worker process, an alert synced or a prediction logged by another web process changes
the key at once, whatever the cache. The prediction log is not counted per request (a COUNT over the
whole log was 3.7 ms of a 6 ms request on PostgreSQL at 23k rows, and the log only grows): the newest
created_at (an index read) sees every new row, and the predictions stamp (`data_changes`, moved by
every save and delete of a row) sees deletions and edits, at once in this process and in every process
with a shared cache; with a per-process cache another process's deletion shows within ANSWER_CACHE_SECONDS.

Two figures move with the clock alone: "predictions in the last 7 days" (a prediction ages out) and a
training that stops making progress (freed after STALE_TRAINING_MINUTES by `fail_stale_trainings`, which
the summary runs). A cached summary therefore lives at most until the first of those moments.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import connection
from django.db.models import Min
from django.utils import timezone

from ml_predictions.answer_cache import registry_identity
from ml_predictions.conf import ml_settings
from ml_predictions.data_changes import predictions_version
from ml_predictions.models import InventoryAlert, MLTrainingLog, Prediction
from ml_predictions.training.logs import IN_FLIGHT

RECENT_DAYS = 7  # the summary's predictions_last_7days


def dashboard_identity() -> dict[str, Any] | None:
    """The latest writes and small tables' counts (one query), the prediction stamp and the registry;
    None = do not cache."""
    registry = registry_identity()
    predictions = predictions_version()
    if registry is None or predictions is None:
        return None
    qn = connection.ops.quote_name

    def latest(model: type, field: str) -> str:
        return f"(SELECT MAX({qn(model._meta.get_field(field).column)}) FROM {qn(model._meta.db_table)})"

    def count(model: type) -> str:
        return f"(SELECT COUNT(*) FROM {qn(model._meta.db_table)})"

    # the prediction log is the one large table: its newest created_at is an index read, its count is not
    columns = ", ".join([latest(Prediction, "created_at"),
                         count(MLTrainingLog), latest(MLTrainingLog, "updated_at"),
                         count(InventoryAlert), latest(InventoryAlert, "updated_at")])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns}")  # noqa: S608 — table and column names from the models, quoted
        row = cursor.fetchone()
    return {**registry, "predictions": predictions, "tables": [str(value) for value in row]}


def dashboard_expiry() -> float | None:
    """Seconds until the clock alone changes the summary; None when nothing in it waits on the clock."""
    now = timezone.now()
    moments = []
    oldest = Prediction.objects.filter(created_at__gte=now - timedelta(days=RECENT_DAYS)).aggregate(
        t=Min("created_at"))["t"]
    if oldest is not None:
        moments.append(oldest + timedelta(days=RECENT_DAYS))
    quiet = MLTrainingLog.objects.filter(status__in=IN_FLIGHT).aggregate(t=Min("updated_at"))["t"]
    if quiet is not None:
        moments.append(quiet + timedelta(minutes=ml_settings.STALE_TRAINING_MINUTES))
    if not moments:
        return None
    return max((min(moments) - now).total_seconds(), 0.0)
