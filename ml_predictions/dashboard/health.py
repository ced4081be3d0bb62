"""The health probe's reads: is the database reachable and migrated, which versions run, what is active."""
from __future__ import annotations

from importlib import metadata
from typing import Any

from django.db import DatabaseError, connection

from ml_predictions.models import MLModel, ModelType

_LIBRARIES = ("django", "djangorestframework", "scikit-learn", "pandas", "numpy")


def health_report() -> dict[str, Any]:
    """The probe's body; `status` is "ok" or "error" (the view answers 503 for "error").

    A probe reports, it never crashes: an unreachable database or unreadable tables become an error
    status with the reason.
    """
    from ml_predictions import __version__

    versions = {"ml_predictions": __version__, **{lib: metadata.version(lib) for lib in _LIBRARIES}}
    db: dict[str, Any] = {"vendor": connection.vendor}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        db["ok"] = True
    except Exception as exc:  # noqa: BLE001 — any driver error means "unreachable" to a probe
        db.update(ok=False, error=str(exc))
        return {"status": "error", "database": db, "versions": versions, "active_models": {}}
    active: dict[str, Any] = {t: None for t in ModelType.values}
    try:
        rows = list(MLModel.objects.filter(is_active=True).only("model_type", "version", "trained_at", "id"))
    except DatabaseError as exc:
        # reachable but unusable (typically an unmigrated database): a probe must say so, not crash
        db.update(ok=False, error=f"the ml_predictions tables cannot be read; run `manage.py migrate` ({exc})")
        return {"status": "error", "database": db, "versions": versions, "active_models": {}}
    for m in rows:
        active[m.model_type] = {"id": str(m.id), "version": m.version, "trained_at": m.trained_at}
    return {"status": "ok", "database": db, "versions": versions, "active_models": active}
