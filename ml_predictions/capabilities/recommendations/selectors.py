"""Reads of the recommendations capability: lists from the active artifact, in the spec's shape.

Known products and customers are lookups in the precomputed lists; only an id the model has never
seen reaches the data source (to tell "added after the training" from "does not exist").
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ml_predictions.data import canonical_id, get_data_source
from ml_predictions.errors import InvalidParameterError, NotFoundError
from ml_predictions.estimators.recommendation import METHODS, ProductRecommender
from ml_predictions.models import MLModel, ModelType
from ml_predictions.training.registry import get_active_artifact

MODEL_TYPE = ModelType.PRODUCT_RECOMMENDATION


def _items(model: ProductRecommender, pairs: list[tuple[int, float]]) -> list[dict[str, Any]]:
    out = []
    for rank, (i, score) in enumerate(pairs, start=1):
        price = model.prices_[i]
        out.append({
            "product_id": model.product_ids_[i],
            "product_name": model.names_[i],
            "similarity_score": round(float(score), 4),
            "price": None if not np.isfinite(price) else round(float(price), 2),
            "image_url": model.image_urls_[i] or None,
            "rank": rank,
        })
    return out


def product_recommendation_list(
    product_id: str, *, top_n: int = 10, method: str = "hybrid", include_unavailable: bool = False
) -> tuple[MLModel, dict[str, Any]]:
    """The spec's product recommendation response, with the cold-start chain for unseen products."""
    if method not in METHODS:
        raise InvalidParameterError(f"method must be one of {list(METHODS)}; got {method!r}.", field="method")
    model_row, model = get_active_artifact(MODEL_TYPE)
    product_id = canonical_id(product_id)
    if product_id in model.product_index_:
        pairs = model.recommend_for_product(product_id, top_n=top_n, method=method,
                                            include_unavailable=include_unavailable)
        left_out = 0 if include_unavailable else model.filtered_unavailable(product_id, pairs, top_n=top_n,
                                                                            method=method)
        i = model.product_index_[product_id]
        if model.purchase_counts_[i] == 0 and method != "similar":
            strategy = "content_cold_start"
        else:
            strategy = method
    else:
        # Unknown to the model (added after the training): look it up in the live catalogue.
        catalogue = get_data_source().products()
        row = catalogue[catalogue["id"].astype(str) == product_id]
        if row.empty:
            raise NotFoundError(f"product_id {product_id} does not exist.", field="product_id")
        category = str(row["category"].iloc[0] or "")
        strategy = "popular_in_category" if category in model.category_index_ else "popular"
        pairs = model.popular_in_category(category, top_n=top_n, exclude_ids={product_id})
        left_out = model.popular_filtered_unavailable(category, pairs, top_n=top_n, exclude_ids={product_id})
    body = {
        "success": True,
        "source_product_id": product_id,
        "method": method,
        "strategy": strategy,
        "model_id": str(model_row.pk),
        "recommendations": _items(model, pairs),
        "filtered_unavailable": left_out,
    }
    return model_row, body


def customer_recommendation_list(
    customer_id: str, *, top_n: int = 10, include_purchased: bool = False
) -> tuple[MLModel, dict[str, Any]]:
    """Per-customer list from the customer's history; a customer without orders gets the best-sellers."""
    model_row, model = get_active_artifact(MODEL_TYPE)
    customer_id = canonical_id(customer_id)
    if customer_id in model.customer_index_:
        pairs, left_out = model.recommend_for_customer(customer_id, top_n=top_n, with_filtered=True,
                                                       include_purchased=include_purchased)
        strategy = "history"
        history_size = int(model.history_[model.customer_index_[customer_id]].nnz)
    else:
        customers = get_data_source().customers()
        if not (customers["id"].astype(str) == customer_id).any():
            raise NotFoundError(f"customer_id {customer_id} does not exist.", field="customer_id")
        pairs = model.popular_in_category(None, top_n=top_n)
        left_out = model.popular_filtered_unavailable(None, pairs, top_n=top_n)
        strategy = "popular"
        history_size = 0
    body = {
        "success": True,
        "customer_id": customer_id,
        "strategy": strategy,
        "history_size": history_size,
        "model_id": str(model_row.pk),
        "recommendations": _items(model, pairs),
        "filtered_unavailable": left_out,
    }
    return model_row, body
