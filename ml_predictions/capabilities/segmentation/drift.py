"""Segment and CLV drift per retrain: reads of the kept history, the alert, and the drift endpoint's read.

At each segmentation training, before the new run is registered, `retrain_drift` compares it with the
kept history (CustomerSegmentHistory, which outlives pruned versions):

- segments: the new assignments against the active run's (who changed segment, the transition counts);
- CLV: the newest earlier run whose check window has passed (its calc date + its CLV holdout days is on
  or before the new calc date) against the revenue its customers really spent in that window, read
  from the order lines the training already holds (no extra query for the revenue).

The result is stored in the new model's metrics (`metrics["drift"]`); when the realised CLV error
exceeds the error the earlier run's holdout promised by CLV_DRIFT_TOLERANCE, `clv_drift_alert` writes a
training-log entry and a warning, as the forecast drift check does.
"""
from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

import pandas as pd
from django.utils import timezone

from ml_predictions.conf import ml_settings
from ml_predictions.errors import NotFoundError
from ml_predictions.estimators.segmentation.drift import clv_realised, is_drifting, segment_changes
from ml_predictions.models import CustomerSegmentHistory, MLModel, MLTrainingLog, ModelType

logger = logging.getLogger(__name__)
MODEL_TYPE = ModelType.CUSTOMER_SEGMENTATION


def _history(run_id: Any, fields: tuple[str, ...]) -> pd.DataFrame:
    rows = CustomerSegmentHistory.objects.filter(run_id=run_id).values_list("customer_id", *fields)
    return pd.DataFrame(list(rows), columns=["customer_id", *fields]).set_index("customer_id")


def _clv_settings(metrics: dict[str, Any]) -> tuple[int, int, float, dict[str, Any] | None]:
    """(check window days, horizon months, monthly discount, the chosen candidate's holdout scores)."""
    clv = metrics.get("clv") or {}
    selection = clv.get("selection") or {}
    window = int(selection.get("holdout_days") or ml_settings.CLV_HOLDOUT_DAYS)
    horizon = int(clv.get("horizon_months") or ml_settings.CLV_HORIZON_MONTHS)
    discount = clv.get("monthly_discount_rate")
    discount = float(ml_settings.CLV_MONTHLY_DISCOUNT_RATE if discount is None else discount)
    promised = (selection.get("candidates") or {}).get(selection.get("chosen") or "")
    return window, horizon, discount, promised if isinstance(promised, dict) and "mae" in promised else None


def _runs_before(calc_date: date) -> list[dict[str, Any]]:
    rows = (CustomerSegmentHistory.objects.filter(calc_date__lt=calc_date)
            .values("run_id", "run_version", "calc_date").distinct().order_by("-calc_date", "-run_version"))
    return list(rows)


def _segments_part(previous: MLModel | None, frame: pd.DataFrame) -> dict[str, Any] | None:
    if previous is None:
        return None
    before = _history(previous.pk, ("segment_type", "cluster_name"))
    if before.empty:
        return None
    after = pd.DataFrame({"segment_type": frame["segment_type"].to_numpy(),
                          "cluster_name": frame["cluster_name"].to_numpy()}, index=frame.index.astype(str))
    return {"previous_model_id": str(previous.pk), "previous_version": previous.version,
            "previous_calc_date": (previous.metrics or {}).get("calc_date"), **segment_changes(before, after)}


def _clv_part(lines: pd.DataFrame, calc_date: date) -> dict[str, Any]:
    runs = _runs_before(calc_date)
    if not runs:
        return {"status": "no_earlier_run"}
    models = {m.pk: m for m in MLModel.objects.filter(pk__in={r["run_id"] for r in runs}).only("id", "metrics")}
    pending = None
    for run in runs:  # newest first: the most recent run whose window is over
        model = models.get(run["run_id"])
        window, horizon, discount, promised = _clv_settings((model.metrics or {}) if model else {})
        ends = run["calc_date"] + timedelta(days=window)
        if ends > calc_date:
            pending = pending or {"status": "pending", "model_id": str(run["run_id"]), "version": run["run_version"],
                                  "calc_date": run["calc_date"].isoformat(), "window_days": window,
                                  "available_from": ends.isoformat()}
            continue
        rows = _history(run["run_id"], ("clv", "monetary"))
        rows = rows[rows["clv"].notna() & ((rows["clv"] > 0) | (rows["monetary"] > 0))]  # customers who had bought
        start = pd.Timestamp(run["calc_date"], tz="UTC")
        stop = pd.Timestamp(ends, tz="UTC")
        when = pd.to_datetime(lines["ordered_at"], utc=True)
        inside = lines[(when >= start) & (when < stop)]
        revenue = (inside["quantity"].astype(float) * inside["unit_price"].astype(float)).groupby(
            inside["customer_id"].astype(str)).sum()
        realised = clv_realised(rows["clv"], revenue, window_days=window, horizon_months=horizon,
                                monthly_discount=discount)
        tolerance = float(ml_settings.CLV_DRIFT_TOLERANCE)
        promised_mae = promised.get("mae") if promised else None
        drifting = is_drifting(realised["mae"], promised_mae, tolerance)
        return {"status": "drifting" if drifting else "ok", "model_id": str(run["run_id"]),
                "version": run["run_version"], "calc_date": run["calc_date"].isoformat(),
                "window_end": ends.isoformat(), **realised,
                "holdout_spearman": promised.get("spearman") if promised else None,
                "holdout_mae": promised_mae, "tolerance": tolerance, "drifting": drifting}
    return pending or {"status": "no_earlier_run"}


def retrain_drift(*, frame: pd.DataFrame, lines: pd.DataFrame, calc_date: date) -> dict[str, Any]:
    """Segment changes against the active run and the newest checkable earlier run's realised CLV.

    A failure here is logged with its traceback and recorded as `error`, never allowed to fail the
    training: the new segments are sound whether or not the comparison with older runs could be made.
    """
    try:
        previous = MLModel.objects.filter(model_type=MODEL_TYPE, is_active=True).only(
            "id", "version", "metrics").first()
        return {"segments": _segments_part(previous, frame), "clv": _clv_part(lines, calc_date)}
    except Exception:  # noqa: BLE001 — monitoring must not take the training down with it
        logger.exception("segment drift could not be computed")
        return {"segments": None, "clv": {"status": "not_computed"},
                "error": "the comparison with earlier runs failed; see the server log"}


def clv_drift_alert(model: MLModel, drift: dict[str, Any]) -> None:
    """A training-log entry and a warning when an earlier run's realised CLV error ran past its promise."""
    clv = drift.get("clv") or {}
    if not clv.get("drifting"):
        return
    message = (f"CLV drift: the v{clv['version']} lifetime values ({clv['calc_date']}) missed the next "
               f"{clv['window_days']} days' revenue by MAE {clv['mae']:.2f} vs {clv['holdout_mae']:.2f} on its "
               f"holdout (Spearman {clv['spearman']}); check the CLV candidates")
    MLTrainingLog.objects.create(
        model_type=MODEL_TYPE, status=MLTrainingLog.Status.FAILED, trigger="monitor", message=message[:255],
        error=message, metrics=clv, ml_model=model, finished_at=timezone.now(),
        result={"success": False, "error": {"code": "clv_drift", "message": message}})
    logger.warning("customer_segmentation v%s: %s (tolerance %.0f %%)", model.version, message,
                   float(clv["tolerance"]) * 100)


def segment_drift(*, model_id: str | None = None) -> dict[str, Any]:
    """The drift stored with one segmentation version (default: the active one) and every version's summary."""
    versions = list(MLModel.objects.filter(model_type=MODEL_TYPE).only(
        "id", "version", "is_active", "metrics").order_by("-version"))
    if model_id is None:
        chosen = next((m for m in versions if m.is_active), None)
        if chosen is None:
            raise NotFoundError("No active customer segmentation model; train one first "
                                "(POST /api/ml/train-customer-segmentation/).", field="model_id")
    else:
        chosen = next((m for m in versions if str(m.pk) == model_id), None)
        if chosen is None:
            raise NotFoundError(f"No customer segmentation model {model_id}.", field="model_id")
    history = []
    for m in versions:
        drift = (m.metrics or {}).get("drift") or {}
        seg, clv = drift.get("segments") or {}, drift.get("clv") or {}
        history.append({"model_id": str(m.pk), "version": m.version, "is_active": m.is_active,
                        "calc_date": (m.metrics or {}).get("calc_date"), "changed_share": seg.get("changed_share"),
                        "n_changed_segment_type": seg.get("n_changed_segment_type"),
                        "clv_status": clv.get("status"), "clv_spearman": clv.get("spearman"),
                        "clv_mae": clv.get("mae"), "clv_drifting": bool(clv.get("drifting"))})
    drift = (chosen.metrics or {}).get("drift") or {}
    return {"model_id": str(chosen.pk), "version": chosen.version,
            "calc_date": (chosen.metrics or {}).get("calc_date"),
            "segments": drift.get("segments"), "clv": drift.get("clv") or {"status": "not_computed"},
            "history": history}
