"""Customers of the active segmentation run as points, for the dashboard's interactive RFM views.

A read only (selector): one grouped count and one query over the stored assignments, an evenly spaced sample by
primary key when the run has more customers than the browser should draw (SVG/canvas stay fluid up to
a few thousand points), so the answer's size does not grow with the shop.
"""
from __future__ import annotations

import math
from typing import Any

from django.db.models import Count, F
from django.db.models.functions import Mod
from django.utils.translation import gettext as _

from ml_predictions.errors import NoActiveModelError
from ml_predictions.models import CustomerSegmentAssignment, MLModel, ModelType

POINT_FIELDS = ("customer_id", "cluster_name", "segment_type", "recency_days", "frequency", "monetary", "clv")
DEFAULT_POINTS = 1500
MAX_POINTS = 5000


def segment_points(limit: int = DEFAULT_POINTS) -> dict[str, Any]:
    """{model_id, calc_date, n_customers, sampled, segments: [{name, segment_type, size}], points: [...]}."""
    model = MLModel.objects.filter(model_type=ModelType.CUSTOMER_SEGMENTATION, is_active=True).first()
    if model is None:
        raise NoActiveModelError(_("Train the customer segmentation model first."))
    rows = CustomerSegmentAssignment.objects.filter(model=model)
    segments = [
        {"name": r["cluster_name"], "segment_type": r["segment_type"], "size": r["size"]}
        for r in rows.values("cluster_name", "segment_type").annotate(size=Count("id")).order_by("-size", "cluster_name")
    ]
    total = sum(s["size"] for s in segments)
    step = max(1, math.ceil(total / max(1, limit)))
    if step > 1:
        rows = rows.annotate(_slot=Mod(F("id"), step)).filter(_slot=0)
    points = [dict(zip(POINT_FIELDS, values, strict=True))
              for values in rows.order_by("id").values_list(*POINT_FIELDS)[:limit]]
    return {
        "model_id": str(model.pk),
        "calc_date": (model.metrics or {}).get("calc_date"),
        "n_customers": total,
        "sampled": step > 1,
        "segments": segments,
        "points": points,
    }
