"""Reads of the segmentation capability: runs, segment names and filters, marketing actions.

The marketing texts live here, not in the pure estimators, because they are translatable
(gettext_lazy): the English source strings are translated by the host's locale files (the spec shows
them in Spanish).
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from django.db.models import Avg, Count, QuerySet, Sum
from django.utils.translation import gettext_lazy as _

from ml_predictions.errors import NoActiveModelError, NotFoundError
from ml_predictions.models import CustomerSegmentAssignment, MLModel, ModelType
from ml_predictions.training.registry import load_artifact

MODEL_TYPE = ModelType.CUSTOMER_SEGMENTATION

# The spec shows these in Spanish ("Ofrecer descuentos exclusivos VIP", ...); the source strings are
# English and translated through the host's locale (LANGUAGE_CODE / Accept-Language).
MARKETING_ACTIONS: dict[str, list[Any]] = {
    "vip": [_("Offer exclusive VIP discounts"), _("Early access to new collections"),
            _("Premium loyalty programme")],
    "frequent": [_("Reward programme points on every purchase"), _("Personalised recommendations"),
                 _("Invite to the loyalty programme")],
    "occasional": [_("Seasonal promotions"), _("Reminder emails with new arrivals"),
                   _("Free shipping on the next order")],
    "at_risk": [_("Win-back campaign with a personal discount"), _("Ask for feedback on the last purchase"),
                _("Remind them of their favourite products")],
    "new": [_("Welcome series with a second-purchase discount"), _("Show best sellers in their category"),
            _("Invite them to create a wish list")],
    "inactive": [_("Reactivation campaign with a strong offer"), _("Survey: why did you stop buying?"),
                 _("Remove from frequent mailings to protect deliverability")],
}


def marketing_actions(segment_type: str) -> list[str]:
    """The segment type's actions as text in the active language."""
    return [str(text) for text in MARKETING_ACTIONS.get(segment_type, [])]


def resolve_run(calc_date: date | None = None) -> MLModel:
    """The active run, or the newest stored run computed for `calc_date` (past runs stay readable)."""
    if calc_date is None:
        model = MLModel.objects.filter(model_type=MODEL_TYPE, is_active=True).first()
        if model is None:
            raise NoActiveModelError(
                "No active customer segmentation. Train one first (POST /api/ml/train-customer-segmentation/).")
        return model
    model_ids = CustomerSegmentAssignment.objects.filter(calc_date=calc_date).values("model_id").distinct()
    model = MLModel.objects.filter(pk__in=model_ids).order_by("-version").first()
    if model is None:
        raise NoActiveModelError(f"No stored segmentation run for calc_date {calc_date.isoformat()}.",
                                 details={"calc_date": calc_date.isoformat()})
    return model


def segment_names(model: MLModel) -> dict[str, str]:
    """cluster_name -> segment_type of a run, from its metrics (no row scan)."""
    names = model.metrics.get("cluster_names", {})
    types = model.metrics.get("segment_types", {})
    return {names[c]: types.get(c, names[c]) for c in names}


def segments_filter(model: MLModel, segment: str) -> dict[str, Any]:
    """Queryset filter for a segment given as a cluster name ('frequent_2'), a type ('vip') or a number."""
    names = segment_names(model)
    if segment in names:
        return {"cluster_name": segment}
    if segment in set(names.values()):
        return {"segment_type": segment}
    if segment.isdigit() and segment in model.metrics.get("cluster_names", {}):
        return {"cluster": int(segment)}
    known = sorted(set(names) | set(names.values()))
    raise NotFoundError(f"Unknown segment {segment!r}; this run has: {', '.join(known)}.", field="segment")


def clv_diagnostics(calc_date: date | None = None) -> tuple[MLModel, dict[str, Any]]:
    """The purchase-model diagnostics stored with a run (computed at training; see clv_diagnostics.py)."""
    model = resolve_run(calc_date)
    diagnostics = load_artifact(model).get("clv_diagnostics")
    if not diagnostics:
        raise NotFoundError("This segmentation run has no CLV diagnostics (trained before they existed); retrain it.",
                            field="calc_date")
    return model, diagnostics


# --- per-run reads for the API (one query each; the views only shape the answer) ------------------------

CUSTOMER_FIELDS = [
    "customer_id", "cluster", "cluster_name", "segment_type", "rfm_segment", "rfm_name", "recency_days",
    "frequency", "monetary", "avg_order_value", "unique_products", "tenure_days", "purchases_per_month",
    "confidence", "p_alive", "expected_purchases", "clv",
]
RFM_FIELDS = ["customer_id", "recency_days", "frequency", "monetary", "avg_order_value", "unique_products",
              "tenure_days", "purchases_per_month", "rfm_segment", "rfm_name"]


def customer_segment(model: MLModel, customer_id: str) -> dict[str, Any]:
    """The customer's stored row of the run (every column), or NotFoundError."""
    row = CustomerSegmentAssignment.objects.filter(model=model, customer_id=customer_id).values().first()
    if row is None:
        raise NotFoundError(f"Customer {customer_id} is not in the segmentation of {model.metrics.get('calc_date')}"
                            " (unknown customer, or created after that run).", field="customer_id")
    return row


def segment_summaries(model: MLModel) -> dict[str, Any]:
    """Per cluster: size, shares of customers and revenue, mean R/F/M, CLV, P(alive), marketing actions."""
    rows = list(CustomerSegmentAssignment.objects.filter(model=model)
                .values("cluster", "cluster_name", "segment_type")
                .annotate(size=Count("id"), revenue=Sum("monetary"), mean_recency_days=Avg("recency_days"),
                          mean_frequency=Avg("frequency"), mean_monetary=Avg("monetary"), mean_clv=Avg("clv"),
                          mean_p_alive=Avg("p_alive"))
                .order_by("cluster"))
    n = sum(r["size"] for r in rows) or 1
    revenue = sum(r["revenue"] or 0 for r in rows) or 1.0
    segments = [{
        "cluster": r["cluster"], "name": r["cluster_name"], "segment_type": r["segment_type"], "size": r["size"],
        "customer_share": round(r["size"] / n, 4), "revenue_share": round((r["revenue"] or 0) / revenue, 4),
        "revenue": round(r["revenue"] or 0, 2),
        "mean_recency_days": round(r["mean_recency_days"], 2), "mean_frequency": round(r["mean_frequency"], 3),
        "mean_monetary": round(r["mean_monetary"], 2),
        "mean_clv": None if r["mean_clv"] is None else round(r["mean_clv"], 2),
        "mean_p_alive": None if r["mean_p_alive"] is None else round(r["mean_p_alive"], 4),
        "recommendations": marketing_actions(r["segment_type"]),
    } for r in rows]
    return {"model_id": str(model.pk), "calc_date": model.metrics.get("calc_date"),
            "n_customers": n if rows else 0, "selection_metric": model.metrics.get("selection_metric"),
            "silhouette_score": model.metrics.get("silhouette_score"), "segments": segments}


def segment_members(model: MLModel, segment: str) -> QuerySet:
    """The segment's customers (CUSTOMER_FIELDS as dicts), highest monetary first; the caller paginates."""
    return (CustomerSegmentAssignment.objects.filter(model=model, **segments_filter(model, segment))
            .order_by("-monetary", "customer_id").values(*CUSTOMER_FIELDS))


def segment_export_rows(model: MLModel, segment: str) -> Iterator[tuple[Any, ...]]:
    """The segment's customers as CUSTOMER_FIELDS tuples, streamed in chunks (exports of 100k rows)."""
    qs = (CustomerSegmentAssignment.objects.filter(model=model, **segments_filter(model, segment))
          .order_by("-monetary", "customer_id").values_list(*CUSTOMER_FIELDS))
    return qs.iterator(chunk_size=5000)


def stored_customers(model: MLModel, customer_ids: list[str]) -> dict[str, dict[str, Any]]:
    """customer_id -> CUSTOMER_FIELDS row for the ids the run knows (one query)."""
    return {r["customer_id"]: r for r in CustomerSegmentAssignment.objects.filter(
        model=model, customer_id__in=customer_ids).values(*CUSTOMER_FIELDS)}


def rfm_rows(model: MLModel) -> QuerySet:
    return CustomerSegmentAssignment.objects.filter(model=model).order_by("customer_id").values(*RFM_FIELDS)


def clustering_input_rows(model: MLModel, features: list[str]) -> QuerySet:
    fields = list(dict.fromkeys(("recency_days", "frequency", "monetary", *features)))
    return CustomerSegmentAssignment.objects.filter(model=model).order_by("customer_id").values(
        "customer_id", "cluster", *fields)


def plotted_customers(model: MLModel, features: list[str]) -> list[dict[str, Any]]:
    fields = list(dict.fromkeys(("recency_days", "frequency", "monetary", *features)))
    return list(CustomerSegmentAssignment.objects.filter(model=model).values("cluster_name", *fields))


def run_segmenter(model: MLModel) -> Any:
    """The fitted CustomerSegmenter of a run (from its verified artifact)."""
    return load_artifact(model)["segmenter"]
