"""The discovery grid of the tuning re-blends one history x neighbours product per neighbour list:
its lists must be the ones `customer_top_k` gives, bit for bit, and the tuning must choose as before."""
from __future__ import annotations

import numpy as np

from ml_predictions.estimators.recommendation import ProductRecommender
from ml_predictions.estimators.recommendation.evaluation import (
    customer_targets,
    encode_lines,
    evaluate_customers,
    time_split,
)
from ml_predictions.estimators.recommendation.tuning import tune
from tests.estimators.test_recommendation_speedups import _repeat_shop


def _model() -> tuple[ProductRecommender, object]:
    lines, products = _repeat_shop()
    fit_lines, valid_lines, _ = time_split(encode_lines(lines), 0.2)
    return ProductRecommender(top_k=8).fit(fit_lines, products, precompute=False), valid_lines


def test_customer_parts_reblend_to_the_same_lists_as_customer_top_k():
    m, valid_lines = _model()
    cust, T, Hc = customer_targets(m, valid_lines, max_queries=None, random_state=0)
    assert len(cust) > 10 and m.available_.sum() < len(m.available_)  # unavailable products in play
    seen = set()
    for nb in ("hybrid", "bought_together"):
        m.set_params(customer_neighbours=nb)
        parts = m.customer_parts(Hc, 10)
        for w in (0.001, 0.3, 10.0):
            m.set_params(customer_popularity_weight=w)
            fast_i, fast_v = m.customer_top_k_from_parts(parts, 10)
            ref_i, ref_v = m.customer_top_k(Hc, 10)
            np.testing.assert_array_equal(fast_i, ref_i)
            np.testing.assert_array_equal(fast_v, ref_v)
            assert not np.isin(fast_i[fast_i >= 0], np.flatnonzero(~m.available_)).any()
            seen.add(fast_i.tobytes())
    assert len(seen) > 1  # the weights and lists really change the rankings


def test_the_tuned_customer_blend_matches_a_grid_of_evaluate_customers():
    lines, products = _repeat_shop()
    train, _, _ = time_split(encode_lines(lines), 0.2)
    result = tune(train, products, {"random_state": 0, "top_k": 8}, validation_fraction=0.2)
    fit_lines, valid_lines, _ = time_split(train, 0.2)
    m = ProductRecommender(**{**result["params"], "customer_neighbours": "hybrid"}).fit(
        fit_lines, products, precompute=False)
    expected = {}
    for nb in ("hybrid", "bought_together"):
        for w in (0.001, 0.1, 0.3, 1.0, 3.0, 10.0):
            m.set_params(customer_neighbours=nb, customer_popularity_weight=w)
            expected[f"{nb},{w}"] = evaluate_customers(m, valid_lines, max_queries=3000,
                                                       random_state=0)["hybrid"]["recall_at_10"]
    assert result["trace"]["customer_popularity_recall"] == expected
