"""Reads of the segmentation capability: runs, segment names and filters, marketing actions.

The marketing texts live here, not in the pure estimators, because they are translatable
(gettext_lazy): the English source strings are translated by the host's locale files (the spec shows
them in Spanish).
"""
from __future__ import annotations

from datetime import date
from typing import Any

from django.utils.translation import gettext_lazy as _

from ml_predictions.errors import NoActiveModelError, NotFoundError
from ml_predictions.models import CustomerSegmentAssignment, MLModel, ModelType
from ml_predictions.training.registry import load_artifact

MODEL_TYPE = ModelType.CUSTOMER_SEGMENTATION

# Seed 004 shows these in Spanish ("Ofrecer descuentos exclusivos VIP", ...); the source strings are
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
    """The active run, or the newest stored run computed for `calc_date` (seed 001's history)."""
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
