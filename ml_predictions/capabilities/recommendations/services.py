"""Django glue of the recommendations capability: read the data source, tune, evaluate, fit, serve.

Training runs the offline evaluation every time (time-based holdout of the last orders, see
services.product_recommendation.tune_and_evaluate) so each registered model carries its own proof
that it beats "most popular"; the final model is then refitted on all orders with the tuned parameters.
Serving never touches the order tables: the artifact holds the precomputed lists, names, prices and
image URLs as of training, so a request is a dictionary lookup plus one row write every N calls.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from ml_predictions.capabilities.predictions import record_prediction, reset_prediction_sampling
from ml_predictions.conf import ml_settings
from ml_predictions.data import canonical_id, get_data_source
from ml_predictions.errors import InsufficientDataError, InvalidParameterError, NotFoundError
from ml_predictions.estimators.recommendation.recommender import (
    METHODS,
    NORMALIZATIONS,
    ProductRecommender,
    encode_lines,
    tune_and_evaluate,
)
from ml_predictions.models import ModelType
from ml_predictions.training.registry import get_active_artifact
from ml_predictions.training.types import ProgressCallback, TrainingOutcome

MODEL_TYPE = ModelType.PRODUCT_RECOMMENDATION
# Every parameter `train` reads; `manage.py train` rejects other keys and routes `train all` keys by it.
TRAIN_PARAMS = ("normalization", "customer_weight", "content_weight", "popularity_weight", "max_basket_size",
                "test_fraction", "evaluate")


def _settings_params(params: dict[str, Any]) -> tuple[dict[str, Any], bool, bool]:
    """Estimator parameters from settings overridden by the request; and whether to tune each part."""
    normalization = params.get("normalization") or ml_settings.RECOMMENDATION_NORMALIZATION
    if normalization != "auto" and normalization not in NORMALIZATIONS:
        raise InvalidParameterError(
            f"normalization must be 'auto' or one of {list(NORMALIZATIONS)}; got {normalization!r}.",
            field="normalization",
        )
    weights = ml_settings.RECOMMENDATION_WEIGHTS
    explicit = {k: params[k] for k in ("content_weight", "popularity_weight") if params.get(k) is not None}
    tune_weights = weights == "auto" and not explicit
    est: dict[str, Any] = {
        "normalization": "cosine" if normalization == "auto" else normalization,
        "customer_weight": float(params.get("customer_weight", ml_settings.RECOMMENDATION_CUSTOMER_WEIGHT)),
        "max_basket_size": int(params.get("max_basket_size") or ml_settings.RECOMMENDATION_MAX_BASKET_SIZE),
        "max_history_items": int(ml_settings.RECOMMENDATION_MAX_HISTORY_ITEMS),
        "top_k": int(ml_settings.RECOMMENDATION_TOP_K),
        "exclude_unavailable": bool(ml_settings.RECOMMENDATION_EXCLUDE_UNAVAILABLE),
        "random_state": ml_settings.RANDOM_STATE,
    }
    if isinstance(weights, dict):
        est["bought_together_weight"] = float(weights.get("bought_together", 1.0))
        est["content_weight"] = float(weights.get("similar", 0.05))
        est["popularity_weight"] = float(weights.get("popularity", 0.05))
        est["customer_popularity_weight"] = float(weights.get("customer_popularity", 0.001))
    else:
        est.update(bought_together_weight=1.0, content_weight=0.05, popularity_weight=0.05)
    for key, value in explicit.items():
        est[key] = float(value)
    return est, normalization == "auto", tune_weights


def train(params: dict[str, Any], progress: ProgressCallback) -> TrainingOutcome:
    """Trainer for the runner (TRAINERS['product_recommendation'])."""
    started = time.perf_counter()
    try:  # the management command passes raw JSON parameters (the API validated them already)
        est_params, tune_norm, tune_weights = _settings_params(params)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"invalid recommendation training parameter: {exc}") from exc
    source = get_data_source()
    progress(5, "Reading order lines and products")
    lines = source.order_lines()
    products = source.products()
    n_orders = int(lines["order_id"].nunique()) if len(lines) else 0
    min_orders = int(ml_settings.RECOMMENDATION_MIN_ORDERS)
    if n_orders < min_orders:
        raise InsufficientDataError(
            f"Product recommendations need at least {min_orders} orders; the data source has {n_orders}."
        )
    if len(products) < 2:
        raise InsufficientDataError(f"Product recommendations need at least 2 products; found {len(products)}.")
    read_seconds = time.perf_counter() - started
    lines = encode_lines(lines)  # once for the evaluation's fits and the final fit

    evaluation: dict[str, Any] | None = None
    tuning: dict[str, Any] = {}
    test_fraction = float(params.get("test_fraction") or ml_settings.RECOMMENDATION_TEST_FRACTION)
    if params.get("evaluate", True):
        progress(20, "Offline evaluation on the last orders (tuning on the period before)")
        t0 = time.perf_counter()
        try:
            result = tune_and_evaluate(lines, products, est_params, test_fraction=test_fraction,
                                       tune_normalization=tune_norm, tune_weights=tune_weights)
        except ValueError as exc:
            raise InsufficientDataError(f"Offline evaluation impossible: {exc}") from exc
        est_params = result["params"]
        evaluation = {**result["evaluation"], "seconds": round(time.perf_counter() - t0, 3)}
        tuning = result["tuning"]

    progress(70, "Fitting on all orders and precomputing top-N lists")
    t0 = time.perf_counter()
    try:
        model = ProductRecommender(**est_params).fit(lines, products)
    except ValueError as exc:
        raise InvalidParameterError(str(exc)) from exc
    fit_seconds = time.perf_counter() - t0
    summary = model.summary()
    metrics: dict[str, Any] = {
        **summary,
        "method": "hybrid",
        "weights": {
            "bought_together": model.bought_together_weight,
            "similar": model.content_weight,
            "popularity": model.popularity_weight,
            "customer_popularity": model.customer_popularity_weight,
        },
        "customer_weight": model.customer_weight,
        "customer_neighbours": model.customer_neighbours,
        "training_time_seconds": round(time.perf_counter() - started, 3),
        "fit_seconds": round(fit_seconds, 3),
        "read_seconds": round(read_seconds, 3),
        "order_lines": model.n_lines_,
    }
    if evaluation is not None:
        metrics["offline_evaluation"] = evaluation
        metrics["tuning"] = tuning
        metrics["precision_at_10"] = evaluation["item"]["hybrid"]["precision_at_10"]
        metrics["recall_at_10"] = evaluation["item"]["hybrid"]["recall_at_10"]
        metrics["ndcg_at_10"] = evaluation["item"]["hybrid"]["ndcg_at_10"]
        metrics["coverage"] = evaluation["item"]["hybrid"]["coverage"]
        metrics["popularity_recall_at_10"] = evaluation["item"]["popularity"]["recall_at_10"]
    ts = lines["ordered_at"]
    return TrainingOutcome(
        artifact=model,
        algorithm=f"hybrid_{model.normalization}",
        metrics=metrics,
        parameters={k: v for k, v in model.get_params().items() if k != "chunk_cells"},
        n_samples=model.n_lines_,
        data_start=ts.min().date() if len(ts) else None,
        data_end=ts.max().date() if len(ts) else None,
        message="Modelo de recomendaciones entrenado exitosamente",
    )


# ------------------------------------------------------------------------------------------------
# serving
# ------------------------------------------------------------------------------------------------

def reset_call_counter() -> None:
    """Tests and workers starting fresh: the next call is the first of a sampling window."""
    reset_prediction_sampling(MODEL_TYPE)


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
    """Seed 004's product recommendation response, with the cold-start chain for unseen products."""
    if method not in METHODS:
        raise InvalidParameterError(f"method must be one of {list(METHODS)}; got {method!r}.", field="method")
    model_row, model = get_active_artifact(MODEL_TYPE)
    product_id = canonical_id(product_id)
    if product_id in model.product_index_:
        pairs = model.recommend_for_product(product_id, top_n=top_n, method=method,
                                            include_unavailable=include_unavailable)
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
    body = {
        "success": True,
        "source_product_id": product_id,
        "method": method,
        "strategy": strategy,
        "model_id": str(model_row.pk),
        "recommendations": _items(model, pairs),
    }
    _record(model_row, product_id, {"endpoint": "product", "top_n": top_n, "method": method,
                                    "include_unavailable": include_unavailable}, body, user)
    return body


def customer_recommendations(
    customer_id: str, *, top_n: int = 10, include_purchased: bool = False, user: Any = None
) -> dict[str, Any]:
    """Per-customer list from the customer's history; a customer without orders gets the best-sellers."""
    model_row, model = get_active_artifact(MODEL_TYPE)
    customer_id = canonical_id(customer_id)
    if customer_id in model.customer_index_:
        pairs = model.recommend_for_customer(customer_id, top_n=top_n, include_purchased=include_purchased)
        strategy = "history"
        history_size = int(model.history_[model.customer_index_[customer_id]].nnz)
    else:
        customers = get_data_source().customers()
        if not (customers["id"].astype(str) == customer_id).any():
            raise NotFoundError(f"customer_id {customer_id} does not exist.", field="customer_id")
        pairs = model.popular_in_category(None, top_n=top_n)
        strategy = "popular"
        history_size = 0
    body = {
        "success": True,
        "customer_id": customer_id,
        "strategy": strategy,
        "history_size": history_size,
        "model_id": str(model_row.pk),
        "recommendations": _items(model, pairs),
    }
    _record(model_row, customer_id, {"endpoint": "customer", "top_n": top_n,
                                     "include_purchased": include_purchased}, body, user)
    return body
