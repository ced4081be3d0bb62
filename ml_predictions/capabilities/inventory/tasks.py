"""Background job for a daily schedule: the same service as `refresh_inventory`, on Django's Tasks API.

A thin wrapper (the argument is a plain string so every backend can serialize it); a scheduler that
can only enqueue tasks (e.g. an RQ or Celery beat wrapper) enqueues this one.
"""
from __future__ import annotations

from typing import Any

from django_tasks import task

from ml_predictions.capabilities.inventory.services import inventory_analysis_refresh


@task()
def refresh_inventory_task(as_of: str | None = None) -> dict[str, Any]:
    analysis, sync = inventory_analysis_refresh(as_of=as_of)
    return {"as_of": str(analysis.as_of), "as_of_source": analysis.as_of_source, "alerts_sync": sync.as_dict()}
