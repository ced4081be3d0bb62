"""The health probe's reads: is the database reachable and migrated, which versions run, what is active.

Three states, so that a monitor can tell "down" from "serving with a broken model":
- "error" (HTTP 503): the database cannot be reached or the plugin's tables cannot be read; nothing
  of the API works.
- "degraded" (HTTP 200): the database works, but an active model's artifact is missing, corrupt or
  unverified, so that capability answers 409/503 until it is retrained or rolled back. It stays a 200
  on purpose: the other capabilities still serve, and the remedy (a training through the API or a
  command, an activation of an older version) needs the service up, so a probe must not take it out
  of rotation or restart it in a loop. Alert on `status != "ok"`, not only on the code.
- "ok" (HTTP 200).

Anonymous callers get the status alone; the details (database vendor and error, library versions,
each active model and the state of its file) are for the API's staff. Database errors are logged
with their text, never answered to an anonymous caller, since driver messages name hosts and ports.
"""
from __future__ import annotations

import logging
from importlib import metadata
from typing import Any

from django.db import DatabaseError, connection

from ml_predictions.models import MLModel, ModelType
from ml_predictions.training.registry import artifact_integrity

logger = logging.getLogger(__name__)

_LIBRARIES = ("django", "djangorestframework", "scikit-learn", "pandas", "numpy")


def health_report(*, detailed: bool = False) -> dict[str, Any]:
    """The probe's body: `status` alone, or with `database`, `versions` and `active_models` when `detailed`.

    A probe reports, it never crashes: an unreachable database or unreadable tables become an error
    status (the reason only in the detailed body and the log).
    """
    from ml_predictions import __version__

    db: dict[str, Any] = {"vendor": connection.vendor}
    rows: list[MLModel] = []
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 — any driver error means "unreachable" to a probe
        logger.warning("health: the database cannot be reached: %s", exc)
        db.update(ok=False, error=str(exc))
    else:
        try:
            rows = list(MLModel.objects.filter(is_active=True).only(
                "model_type", "version", "trained_at", "id", "artifact_path", "artifact_sha256", "artifact_size"))
            db["ok"] = True
        except DatabaseError as exc:
            # reachable but unusable (typically an unmigrated database): a probe must say so, not crash
            logger.warning("health: the ml_predictions tables cannot be read: %s", exc)
            db.update(ok=False, error=f"the ml_predictions tables cannot be read; run `manage.py migrate` ({exc})")
    active: dict[str, Any] = {t: None for t in ModelType.values}
    for m in rows:
        active[m.model_type] = {"id": str(m.id), "version": m.version, "trained_at": m.trained_at,
                                "artifact": artifact_integrity(m)}
    if not db["ok"]:
        state = "error"
    elif any(entry and entry["artifact"] != "ok" for entry in active.values()):
        state = "degraded"
    else:
        state = "ok"
    if not detailed:
        return {"status": state}
    versions = {"ml_predictions": __version__, **{lib: metadata.version(lib) for lib in _LIBRARIES}}
    return {"status": state, "database": db, "versions": versions, "active_models": active}
