"""Product recommendations (pure math): the estimator, its kernels, offline evaluation and tuning.

Layout: kernels (sparse numerics) -> features / customers (mixins) -> recommender (ProductRecommender)
-> evaluation (time holdout, metrics, baselines) -> tuning (validation split, tune_and_evaluate).
"""
from ml_predictions.estimators.recommendation.constants import CUSTOMER_NEIGHBOURS, METHODS, NORMALIZATIONS
from ml_predictions.estimators.recommendation.evaluation import (
    BasketQueries,
    basket_queries,
    customer_targets,
    encode_lines,
    evaluate_buy_again,
    evaluate_customers,
    evaluate_model,
    popularity_recs,
    ranking_metrics,
    time_split,
)
from ml_predictions.estimators.recommendation.kernels import bm25_weight, top_k_dense
from ml_predictions.estimators.recommendation.recommender import ProductRecommender
from ml_predictions.estimators.recommendation.tuning import tune, tune_and_evaluate

__all__ = [
    "CUSTOMER_NEIGHBOURS", "METHODS", "NORMALIZATIONS", "BasketQueries", "ProductRecommender", "basket_queries",
    "bm25_weight", "customer_targets", "encode_lines", "evaluate_buy_again", "evaluate_customers", "evaluate_model",
    "popularity_recs", "ranking_metrics", "time_split", "top_k_dense", "tune", "tune_and_evaluate",
]
