"""Sampled evaluation queries: the sample is seeded, bounded, the one scored, and reported."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ml_predictions.estimators.recommendation import (
    ProductRecommender,
    basket_queries,
    customer_targets,
    evaluate_model,
    time_split,
    tune_and_evaluate,
)


def _shop(n_orders: int = 600, n_products: int = 30, n_customers: int = 120, seed: int = 0):
    """Random baskets of 1-5 products by repeat customers, one order an hour."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 6, n_orders)
    order = np.repeat(np.arange(n_orders), sizes)
    start = pd.Timestamp("2026-01-01", tz="UTC")
    lines = pd.DataFrame({
        "order_id": [f"o{o}" for o in order],
        "customer_id": [f"c{c}" for c in rng.integers(0, n_customers, n_orders)[order]],
        "product_id": [f"p{p}" for p in rng.integers(0, n_products, len(order))],
        "ordered_at": start + pd.to_timedelta(order, unit="h"),
        "quantity": 1,
    })
    cats = ["Bread", "Coffee", "Cake"]
    products = pd.DataFrame({
        "id": [f"p{i}" for i in range(n_products)], "name": [f"item {i}" for i in range(n_products)],
        "category": [cats[i % 3] for i in range(n_products)], "price": np.linspace(1, 9, n_products),
        "stock": 10, "active": True,
    })
    return lines, products


def _basket_sets(lines: pd.DataFrame, index: dict[str, int]) -> set[frozenset[int]]:
    return {frozenset(index[p] for p in g) for _, g in lines.groupby("order_id")["product_id"]}


def test_basket_sample_is_seeded_bounded_and_each_query_is_a_basket_minus_its_seed():
    lines, _ = _shop()
    index = {f"p{i}": i for i in range(30)}
    full = basket_queries(lines, index, 30, random_state=7)
    a = basket_queries(lines, index, 30, max_queries=40, random_state=7)
    b = basket_queries(lines, index, 30, max_queries=40, random_state=7)
    other = basket_queries(lines, index, 30, max_queries=40, random_state=8)
    assert len(full) == full.held_out > 40  # every eligible basket (2..50 products) without a cap
    assert len(a) == 40 and a.held_out == full.held_out and a.targets.shape == (40, 30)
    assert np.array_equal(a.seeds, b.seeds) and (a.targets != b.targets).nnz == 0
    assert not (np.array_equal(a.seeds, other.seeds) and (a.targets != other.targets).nnz == 0)
    baskets = _basket_sets(lines, index)
    for q in (a, full):
        for seed, row in zip(q.seeds, q.targets, strict=True):
            shown = set(row.indices.tolist())
            assert seed not in shown and len(shown) >= 1
            assert frozenset(shown | {int(seed)}) in baskets
            assert set(row.data.tolist()) == {1.0}


def test_customer_sample_is_seeded_bounded_and_keeps_each_customers_products():
    lines, products = _shop()
    train, test, _ = time_split(lines, 0.3)
    model = ProductRecommender(top_k=10).fit(train, products, precompute=False)
    counts: dict[str, int] = {}
    cust, T, Hc = customer_targets(model, test, max_queries=25, random_state=3, counts=counts)
    again = customer_targets(model, test, max_queries=25, random_state=3)
    all_cust, all_T, _ = customer_targets(model, test, max_queries=None, new_only=True)
    assert counts == {"held_out": len(all_cust), "sampled": 25} and len(all_cust) > 25
    assert len(cust) == 25 and np.all(np.diff(cust) > 0) and np.isin(cust, all_cust).all()
    assert np.array_equal(cust, again[0]) and (T != again[1]).nnz == 0
    # the sampled rows are those customers' rows of the full query set, and their histories
    rows = np.searchsorted(all_cust, cust)
    assert (T != all_T[rows]).nnz == 0
    assert (Hc != model.history_[cust]).nnz == 0


def test_evaluate_model_scores_the_sample_and_reports_it():
    lines, products = _shop()
    train, test, _ = time_split(lines, 0.3)
    model = ProductRecommender(top_k=10).fit(train, products)
    small = evaluate_model(model, test, max_queries=20, random_state=1)
    full = evaluate_model(model, test, max_queries=None, random_state=1)
    assert small["sample"]["max_queries"] == 20 and full["sample"]["max_queries"] is None
    assert small["sample"]["baskets"] == 20 < small["sample"]["baskets_held_out"] == full["sample"]["baskets"]
    assert small["sample"]["customers"] == 20 < full["sample"]["customers"] == full["sample"]["customers_held_out"]
    for section in ("item", "customer", "buy_again"):
        for figures in small[section].values():
            assert 0 < figures["queries"] <= 20
    assert full["item"]["hybrid"]["queries"] == full["sample"]["baskets"]
    assert full["buy_again"]["buy_again"]["queries"] == full["sample"]["customers"]
    assert evaluate_model(model, test, max_queries=20, random_state=1) == small


def test_tune_and_evaluate_caps_the_holdout_at_max_queries():
    lines, products = _shop()
    capped = tune_and_evaluate(lines, products, {"random_state": 0, "top_k": 10}, test_fraction=0.3, max_queries=15)
    sample = capped["evaluation"]["sample"]
    assert sample["max_queries"] == 15 and sample["baskets"] == 15 and sample["customers"] == 15
    assert capped["evaluation"]["item"]["hybrid"]["queries"] <= 15


def test_repeat_scores_of_sampled_rows_equal_those_rows_of_the_full_matrix():
    lines, products = _shop()
    model = ProductRecommender(top_k=10).fit(lines, products, precompute=False)
    rows = np.array([5, 0, 77, 31])
    for half_life in (None, 30.0, 365.0):
        full = model.repeat_scores(half_life)[rows]
        part = model.repeat_scores(half_life, rows=rows)
        assert part.shape == (4, 30) and part.nnz == full.nnz > 0
        assert np.array_equal(part.indptr, full.indptr) and np.array_equal(part.indices, full.indices)
        assert np.array_equal(part.data, full.data)  # bit for bit, not approximately
