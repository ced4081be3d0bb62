"""Reads behind the operations dashboard: the summary figures, the sales history, and the HTML page.

Selectors only (HackSoft: reads in selectors): the API view and the staff page call the same
functions, so the page and `GET /api/ml/dashboard-summary/` never disagree.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
from django.contrib.auth.decorators import user_passes_test
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ml_predictions.data import get_data_source
from ml_predictions.models import InventoryAlert, MLModel, MLTrainingLog, ModelType, Prediction
from ml_predictions.training.runner import fail_stale_trainings, trainer_available

# An open alert at or above this urgency (1–5) counts as critical (the spec's urgency_level 5 = act now).
CRITICAL_URGENCY = 4
RECENT_MODELS = 5
RECENT_TRAININGS = 10


def dashboard_summary() -> dict[str, Any]:
    """The spec's dashboard numbers; also frees slots of trainings whose worker died."""
    fail_stale_trainings()
    week_ago = timezone.now() - timedelta(days=7)
    open_alerts = InventoryAlert.objects.filter(status=InventoryAlert.Status.OPEN)
    return {
        "total_active_models": MLModel.objects.filter(is_active=True).count(),
        "total_predictions": Prediction.objects.count(),
        "predictions_last_7days": Prediction.objects.filter(created_at__gte=week_ago).count(),
        "active_inventory_alerts": open_alerts.count(),
        "critical_inventory_alerts": open_alerts.filter(urgency_level__gte=CRITICAL_URGENCY).count(),
    }


def recent_models(limit: int = RECENT_MODELS) -> list[MLModel]:
    return list(MLModel.objects.order_by("-trained_at")[:limit])


def recent_trainings(limit: int = RECENT_TRAININGS) -> list[MLTrainingLog]:
    return list(MLTrainingLog.objects.select_related("triggered_by", "ml_model").order_by("-created_at")[:limit])


def challenger_verdicts(limit: int = RECENT_TRAININGS) -> list[dict[str, Any]]:
    """The latest retrains' champion/challenger verdicts, rejected ones included, newest first.

    For the dashboard: a rejected challenger means the weekly retrain kept last week's model, which an
    operator should see (and may overrule by activating that version).
    """
    logs = (MLTrainingLog.objects.filter(status=MLTrainingLog.Status.SUCCEEDED, result__has_key="challenger")
            .select_related("ml_model").order_by("-created_at")[:limit])
    return [{"model_type": log.model_type, "training_log_id": str(log.pk), "finished_at": log.finished_at,
             "version": log.ml_model.version if log.ml_model else None, **log.result["challenger"]} for log in logs]


def top_alerts(limit: int = 10) -> list[InventoryAlert]:
    return list(InventoryAlert.objects.filter(status=InventoryAlert.Status.OPEN).order_by("-urgency_level", "-created_at")[:limit])


def daily_sales(days: int) -> pd.DataFrame:
    """Revenue and units per day over the last `days` days of trading (columns date, revenue, units).

    The window ends at the last order (today in a live shop; earlier for demo data or an import that
    lags), so the chart is never a long stretch of zeros. At most two reads of the data source.
    """
    source = get_data_source()
    today = pd.Timestamp(timezone.now()).tz_convert("UTC").normalize()
    lines = source.order_lines(start=today - pd.Timedelta(days=days - 1))
    if lines.empty:
        lines = source.order_lines()  # rare: nothing in the window; find where the history stops
        if lines.empty:
            return pd.DataFrame({"date": pd.Series([], dtype="datetime64[ns, UTC]"), "revenue": [], "units": []})
    last_day = lines["ordered_at"].max().normalize()
    end = last_day + pd.Timedelta(days=1)
    if last_day < today:
        lines = source.order_lines(start=end - pd.Timedelta(days=days), end=end)
    day = lines["ordered_at"].dt.floor("D")
    frame = (
        lines.assign(date=day, revenue=lines["quantity"] * lines["unit_price"], units=lines["quantity"])
        .groupby("date", as_index=True)[["revenue", "units"]]
        .sum()
    )
    full = pd.date_range(end - pd.Timedelta(days=days), end - pd.Timedelta(days=1), freq="D", tz="UTC")
    return frame.reindex(full, fill_value=0).rename_axis("date").reset_index()


def capabilities() -> list[dict[str, Any]]:
    """Which model types this installation can train, and their active version (for the page)."""
    active = {m.model_type: m for m in MLModel.objects.filter(is_active=True)}
    return [
        {"model_type": value, "label": label, "available": trainer_available(value), "active": active.get(value)}
        for value, label in ModelType.choices
    ]


def segment_sizes() -> list[dict[str, Any]]:
    """Segment sizes from the active segmentation model's metrics (the spec's cluster_sizes, cluster_names)."""
    model = MLModel.objects.filter(model_type=ModelType.CUSTOMER_SEGMENTATION, is_active=True).first()
    sizes = (model.metrics or {}).get("cluster_sizes") if model else None
    if not isinstance(sizes, dict) or not sizes:
        return []
    names = (model.metrics or {}).get("cluster_names") or {}
    total = sum(int(v) for v in sizes.values()) or 1
    return [
        {"name": names.get(str(k), str(k)), "size": int(v), "percent": round(100 * int(v) / total)}
        for k, v in sorted(sizes.items(), key=lambda kv: -int(kv[1]))
    ]


def segment_drift_note() -> dict[str, Any] | None:
    """What the active segmentation's retrain changed (metrics["drift"]), for one line under the sizes."""
    model = MLModel.objects.filter(model_type=ModelType.CUSTOMER_SEGMENTATION, is_active=True).first()
    drift = (model.metrics or {}).get("drift") if model else None
    if not isinstance(drift, dict):
        return None
    seg, clv = drift.get("segments") or {}, drift.get("clv") or {}
    share = seg.get("changed_share")
    return {"changed": seg.get("n_changed_segment_type"), "common": seg.get("n_common"),
            "percent": None if share is None else round(100 * share, 1),
            "clv_status": clv.get("status"), "clv_spearman": clv.get("spearman"), "clv_mae": clv.get("mae"),
            "clv_holdout_mae": clv.get("holdout_mae"), "clv_version": clv.get("version"),
            "drifting": bool(clv.get("drifting"))}


def _is_ml_staff(user: Any) -> bool:
    return bool(user.is_active and (user.is_staff or user.is_superuser))


@user_passes_test(_is_ml_staff, login_url="admin:login")
def dashboard_page(request: HttpRequest) -> HttpResponse:
    """The staff dashboard: tables rendered here, charts fetched by the browser from the plot endpoints
    so that a capability missing from this installation only blanks its own panel."""
    context = {
        "title": _("ML dashboard"),
        "summary": dashboard_summary(),
        "recent_trainings": recent_trainings(),
        "recent_models": recent_models(),
        "alerts": top_alerts(),
        "capabilities": capabilities(),
        "segment_sizes": segment_sizes(),
        "segment_drift": segment_drift_note(),
        "api_root": reverse("ml_predictions:api-root"),
        "js_messages": {
            "not_available": gettext("The %(model)s chart is not available in this installation."),
            "train_first": gettext("Train the %(model)s model first."),
            "failed": gettext("The chart could not be loaded (%(status)s)."),
            "history_alt": gettext("Daily sales with their 7-day mean"),
        },
    }
    return render(request, "ml_predictions/dashboard.html", context)
