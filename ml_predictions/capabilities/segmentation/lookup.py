"""GET /customer-segment/{id}/: one customer's stored row of a run in the spec's shape, and its sampled record.

Why a module of its own: it is the per-page-view lookup (a CRM's customer page), so its answer is kept
in the answer cache (ml_predictions/answer_cache.py). A run's per-customer rows are written once, with
the run (training, or a restore that registers a new row), so the answer is a pure function of the run
(its id, read on every call: an activation in any process is seen at once), the customer, the asked
calc_date and the language of the marketing actions (the key holds the language). The presented body
(the API's output serializer) is cached with it; a miss (unknown customer) raises and is not cached.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from ml_predictions.answer_cache import cached_answer
from ml_predictions.capabilities.segmentation.selectors import (
    customer_segment,
    marketing_actions,
    resolve_run,
)
from ml_predictions.capabilities.segmentation.services import record_customer_lookup
from ml_predictions.data import canonical_id


def segment_body(model: Any, row: dict[str, Any]) -> dict[str, Any]:
    """The spec's response for a stored row."""
    return {
        "success": True,
        "customer_id": row["customer_id"],
        "cluster": row["cluster"],
        "cluster_name": row["cluster_name"],
        "segment_type": row["segment_type"],
        "confidence_score": row["confidence"],
        "characteristics": {
            "recency_days": row["recency_days"],
            "total_orders": row["frequency"],
            "total_spent": row["monetary"],
            "avg_order_value": row["avg_order_value"],
            "purchase_frequency_monthly": row["purchases_per_month"],
            "unique_products": row["unique_products"],
            "tenure_days": row["tenure_days"],
        },
        "lifetime_value_prediction": row["clv"],
        "probability_alive": row["p_alive"],
        "expected_purchases_30d": row["expected_purchases"],
        "rfm_segment": row["rfm_segment"],
        "rfm_name": row["rfm_name"],
        "recommendations": marketing_actions(row["segment_type"]),
        "calc_date": row["calc_date"].isoformat(),
        "model_id": str(model.pk),
    }


def customer_segment_lookup(customer_id: str, *, calc_date: date | None, user: Any,
                            present: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """The presented answer for `customer_id` in the active run (or the run of `calc_date`), recorded 1 in N."""
    model = resolve_run(calc_date)
    key = canonical_id(customer_id)

    def build() -> dict[str, Any]:
        body = segment_body(model, customer_segment(model, key))
        return {"body": body, "out": present(body)}

    cached = cached_answer("segment_customer", {"model": str(model.pk), "customer_id": key,
                                                "calc_date": calc_date.isoformat() if calc_date else None}, build)
    record_customer_lookup(model, cached["body"], calc_date=calc_date, user=user)
    return cached["out"]
