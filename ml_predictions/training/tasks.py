"""Background jobs on Django's Tasks API (django-tasks today, django.tasks in Django 6).

A task is a thin wrapper around the training runner: the same code runs inline (immediate backend,
tests), in `manage.py db_worker` (database backend, the default) or in RQ workers on Redis.
Arguments are plain strings so every backend can serialize them.
"""
from __future__ import annotations

from typing import Any

from django_tasks import task

from ml_predictions.training.runner import run_training


@task()
def train_model_task(log_id: str, activation: str = "always") -> dict[str, Any]:
    log = run_training(log_id, activation=activation)
    return {"training_log_id": str(log.pk), "status": log.status, "model_id": str(log.ml_model_id or "")}
