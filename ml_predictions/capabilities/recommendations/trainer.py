"""Trainer of the recommendations capability: read the data source, tune, evaluate, fit.

Training runs the offline evaluation every time (time-based holdout of the last orders, see
estimators.recommendation tune_and_evaluate) so each registered model carries its own proof that it
beats "most popular" and the customer's own history; the final model is then refitted on all orders
with the tuned parameters. Only named domain errors (errors.py) leave here as expected failures:
anything else is a bug and the runner fails the training log with its traceback.
"""
from __future__ import annotations

import time
from typing import Any

from django.utils.translation import gettext_noop

from ml_predictions.conf import ml_settings
from ml_predictions.data import get_data_source
from ml_predictions.errors import InsufficientDataError, InvalidParameterError
from ml_predictions.estimators.recommendation import (
    NORMALIZATIONS,
    ProductRecommender,
    encode_lines,
    tune_and_evaluate,
)
from ml_predictions.models import ModelType
from ml_predictions.training.types import ProgressCallback, TrainingOutcome

MODEL_TYPE = ModelType.PRODUCT_RECOMMENDATION
# Every parameter `train` reads; `manage.py train` rejects other keys and routes `train all` keys by it.
TRAIN_PARAMS = ("normalization", "customer_weight", "content_weight", "popularity_weight", "max_basket_size",
                "test_fraction", "evaluate", "evaluation_queries")


def _number(params: dict[str, Any], key: str, cast: type, default: Any) -> Any:
    """One training parameter as int/float; the management command passes raw JSON (the API validated
    its own already), so a value that is not a number is named back to the user."""
    value = params.get(key)
    if value is None:
        return cast(default)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidParameterError(f"{key} must be a number; got {value!r}.", field=key)
    try:
        return cast(float(value)) if cast is int else cast(value)
    except ValueError:
        raise InvalidParameterError(f"{key} must be a number; got {value!r}.", field=key) from None


def _headline(figures: dict[str, Any]) -> dict[str, Any]:
    return {key: figures[key] for key in ("recall_at_10", "ndcg_at_10", "queries")}


def _settings_params(params: dict[str, Any]) -> tuple[dict[str, Any], bool, bool]:
    """Estimator parameters from settings overridden by the request; and whether to tune each part."""
    normalization = params.get("normalization") or ml_settings.RECOMMENDATION_NORMALIZATION
    if normalization != "auto" and normalization not in NORMALIZATIONS:
        raise InvalidParameterError(
            f"normalization must be 'auto' or one of {list(NORMALIZATIONS)}; got {normalization!r}.",
            field="normalization",
        )
    weights = ml_settings.RECOMMENDATION_WEIGHTS
    explicit = {k: _number(params, k, float, 0.0) for k in ("content_weight", "popularity_weight")
                if params.get(k) is not None}
    tune_weights = weights == "auto" and not explicit
    est: dict[str, Any] = {
        "normalization": "cosine" if normalization == "auto" else normalization,
        "customer_weight": _number(params, "customer_weight", float, ml_settings.RECOMMENDATION_CUSTOMER_WEIGHT),
        "max_basket_size": _number(params, "max_basket_size", int, ml_settings.RECOMMENDATION_MAX_BASKET_SIZE),
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
    est.update(explicit)
    return est, normalization == "auto", tune_weights


def train(params: dict[str, Any], progress: ProgressCallback) -> TrainingOutcome:
    """Trainer for the runner (TRAINERS['product_recommendation'])."""
    started = time.perf_counter()
    est_params, tune_norm, tune_weights = _settings_params(params)
    queries = _number(params, "evaluation_queries", int, ml_settings.RECOMMENDATION_EVALUATION_QUERIES)
    if queries < 1:
        raise InvalidParameterError(f"evaluation_queries must be at least 1; got {queries}.", field="evaluation_queries")
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
    catalogue = None
    test_fraction = _number(params, "test_fraction", float, ml_settings.RECOMMENDATION_TEST_FRACTION)
    if params.get("evaluate", True):
        progress(20, "Offline evaluation on the last orders (tuning on the period before)")
        t0 = time.perf_counter()
        result = tune_and_evaluate(lines, products, est_params, test_fraction=test_fraction,
                                   tune_normalization=tune_norm, tune_weights=tune_weights, max_queries=queries)
        est_params = result["params"]
        evaluation = {**result["evaluation"], "seconds": round(time.perf_counter() - t0, 3)}
        tuning = result["tuning"]
        catalogue = result.pop("catalogue", None)

    progress(70, "Fitting on all orders and precomputing top-N lists")
    t0 = time.perf_counter()
    model = ProductRecommender(**est_params).fit(lines, products, content_from=catalogue)
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
        "buy_again": {"weight": model.buy_again_weight, "repeat_half_life_days": model.repeat_half_life_days,
                      "popularity_weight": model.buy_again_popularity_weight,
                      "neighbours": model.buy_again_neighbours},
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
        # per customer, both lists beside their baselines (recall@10 and NDCG@10 on the time holdout)
        metrics["customer_evaluation"] = {
            "discovery": {name: _headline(f) for name, f in evaluation["customer"].items()},
            "buy_again": {name: _headline(f) for name, f in evaluation["buy_again"].items()},
        }
    ts = lines["ordered_at"]
    return TrainingOutcome(
        artifact=model,
        algorithm=f"hybrid_{model.normalization}",
        metrics=metrics,
        parameters={k: v for k, v in model.get_params().items() if k != "chunk_cells"},
        n_samples=model.n_lines_,
        data_start=ts.min().date() if len(ts) else None,
        data_end=ts.max().date() if len(ts) else None,
        message=gettext_noop("Product recommendation model trained successfully"),
    )
