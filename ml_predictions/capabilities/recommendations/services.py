"""Serving of the recommendations capability: answer a lookup from the active artifact, record it.

Serving never touches the order tables: the artifact holds the precomputed lists, names, prices and
image URLs as of training, so a request is a lookup (selectors) plus one Prediction row every N calls
(the write, here).
"""
from __future__ import annotations

from typing import Any

from ml_predictions.capabilities.predictions import record_prediction, reset_prediction_sampling
from ml_predictions.capabilities.recommendations import selectors
from ml_predictions.models import ModelType

MODEL_TYPE = ModelType.PRODUCT_RECOMMENDATION


def reset_call_counter() -> None:
    """Tests and workers starting fresh: the next call is the first of a sampling window."""
    reset_prediction_sampling(MODEL_TYPE)


def _record(model_row: Any, target: str, inputs: dict[str, Any], body: dict[str, Any], user: Any) -> None:
    # One call in RECOMMENDATION_LOG_EVERY is recorded: this is the per-page-view lookup.
    record_prediction(
        model=model_row,
        kind=MODEL_TYPE,
        target=target,
        inputs=inputs,
        output={"strategy": body["strategy"],
                "recommendations": [[r["product_id"], r["similarity_score"]] for r in body["recommendations"]]},
        user=user,
        sampled=True,
    )


def product_recommendations(
    product_id: str, *, top_n: int = 10, method: str = "hybrid", include_unavailable: bool = False, user: Any = None
) -> dict[str, Any]:
    """The spec's product recommendation response (selectors.product_recommendation_list), recorded 1 in N."""
    model_row, body = selectors.product_recommendation_list(
        product_id, top_n=top_n, method=method, include_unavailable=include_unavailable)
    _record(model_row, body["source_product_id"], {"endpoint": "product", "top_n": top_n, "method": method,
                                                  "include_unavailable": include_unavailable}, body, user)
    return body


def customer_recommendations(
    customer_id: str, *, top_n: int = 10, include_purchased: bool = False, user: Any = None
) -> dict[str, Any]:
    """The per-customer response (selectors.customer_recommendation_list), recorded 1 in N."""
    model_row, body = selectors.customer_recommendation_list(
        customer_id, top_n=top_n, include_purchased=include_purchased)
    _record(model_row, body["customer_id"], {"endpoint": "customer", "top_n": top_n,
                                             "include_purchased": include_purchased}, body, user)
    return body
