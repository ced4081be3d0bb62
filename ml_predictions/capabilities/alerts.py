"""Inventory alerts as the API's alert endpoints see them: the list (a read) and resolving one (a write).

The inventory capability writes the alerts when it trains; these two are the operator's side.
"""
from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from ml_predictions.errors import ConflictError
from ml_predictions.models import InventoryAlert


def alert_list() -> QuerySet[InventoryAlert]:
    return InventoryAlert.objects.select_related("resolved_by")


def alert_resolve(*, alert: InventoryAlert, user: Any = None, note: str = "") -> InventoryAlert:
    """Mark an open alert resolved, by whom and when, appending the operator's note to its message.

    Resolving an alert that is not open is a ConflictError (409): two operators must not both think
    they handled it.
    """
    if alert.status != InventoryAlert.Status.OPEN:
        raise ConflictError(_("Alert %(id)s is already %(status)s.") % {"id": alert.pk, "status": alert.status})
    alert.status = InventoryAlert.Status.RESOLVED
    alert.resolved_at = timezone.now()
    alert.resolved_by = user if getattr(user, "pk", None) else None
    if note:
        alert.message = f"{alert.message}\n{note}".strip()
    alert.save(update_fields=["status", "resolved_at", "resolved_by", "message", "updated_at"])
    return alert
