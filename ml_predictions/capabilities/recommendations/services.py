"""Serving of the recommendations capability: answer a lookup from the active artifact, record it.

Serving never touches the order tables: the artifact holds the precomputed lists, names, prices and
image URLs as of training, so a request is a lookup (selectors) plus one Prediction row every N calls
(the write, here). A list of a known product or customer is therefore a pure function of the active
artifact and the parameters, and its presented body (the API's output serializer) is reused from the
answer cache under the active row's id and hash (read on every call: an activation in any process is
seen at once). Lists of ids the model has never seen read the live catalogue and are never cached.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ml_predictions.answer_cache import cached_answer
from ml_predictions.capabilities.predictions import record_prediction, reset_prediction_sampling
from ml_predictions.capabilities.recommendations import selectors
from ml_predictions.models import MLModel, ModelType
from ml_predictions.training.registry import get_active_model

MODEL_TYPE = ModelType.PRODUCT_RECOMMENDATION
# strategies answered from the live catalogue (an id added after the training): never cached
LIVE_STRATEGIES = frozenset({"popular", "popular_in_category"})
Present = Callable[[dict[str, Any]], dict[str, Any]]


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


def _answer(namespace: str, params: dict[str, Any], compute: Callable[[], tuple[MLModel, dict[str, Any]]],
            present: Present | None) -> tuple[MLModel, dict[str, Any], dict[str, Any]]:
    """(model row, body, presented body) from the cache or `compute()`; see the module docstring."""
    row = get_active_model(MODEL_TYPE)
    fresh: dict[str, MLModel] = {}

    def build() -> dict[str, Any]:
        fresh["row"], body = compute()
        return {"body": body, "out": present(body) if present else body}

    cached = cached_answer(namespace, {"model": str(row.pk), "artifact": row.artifact_sha256,
                                       "presented": present is not None, **params}, build,
                           keep=lambda a: a["body"]["model_id"] == str(row.pk)
                           and a["body"]["strategy"] not in LIVE_STRATEGIES)
    return fresh.get("row", row), cached["body"], cached["out"]


def product_recommendations(
    product_id: str, *, top_n: int = 10, method: str = "hybrid", include_unavailable: bool = False, user: Any = None,
    present: Present | None = None,
) -> dict[str, Any]:
    """The spec's product recommendation response (selectors.product_recommendation_list), recorded 1 in N;
    `present(body)` when given (applied once per cached answer)."""
    model_row, body, out = _answer(
        "reco_product", {"product_id": product_id, "top_n": top_n, "method": method,
                         "include_unavailable": include_unavailable},
        lambda: selectors.product_recommendation_list(product_id, top_n=top_n, method=method,
                                                      include_unavailable=include_unavailable), present)
    _record(model_row, body["source_product_id"], {"endpoint": "product", "top_n": top_n, "method": method,
                                                  "include_unavailable": include_unavailable}, body, user)
    return out


def customer_recommendations(
    customer_id: str, *, top_n: int = 10, include_purchased: bool = False, user: Any = None,
    present: Present | None = None,
) -> dict[str, Any]:
    """The per-customer response (selectors.customer_recommendation_list), recorded 1 in N; `present` as above."""
    model_row, body, out = _answer(
        "reco_customer", {"customer_id": customer_id, "top_n": top_n, "include_purchased": include_purchased},
        lambda: selectors.customer_recommendation_list(customer_id, top_n=top_n,
                                                       include_purchased=include_purchased), present)
    _record(model_row, body["customer_id"], {"endpoint": "customer", "top_n": top_n,
                                             "include_purchased": include_purchased}, body, user)
    return out
