"""The recommender as a scikit-learn estimator, and shape-fuzzed shops (hypothesis).

Whatever the shop looks like (one product, one customer, single-line orders, a 500-line basket,
duplicate lines, products never ordered, integer / string / UUID ids, no category or price, every
order on one day, a gap of a year, non-ASCII names), a fit either succeeds with lists of the
documented shape and types, or raises a named domain error: never a bare numpy / scipy exception.
"""
from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from ml_predictions.errors import InsufficientDataError, MLError
from ml_predictions.estimators.recommendation import METHODS, ProductRecommender, tune_and_evaluate
from tests.estimators.contract import check_estimator_contract


def _shop(seed: int = 0, n_products: int = 30, n_orders: int = 200) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 6, n_orders)
    order = np.repeat(np.arange(n_orders), sizes)
    lines = pd.DataFrame({
        "order_id": [f"o{o}" for o in order],
        "customer_id": [f"c{o % 40}" for o in order],
        "product_id": [f"p{p}" for p in rng.integers(0, n_products, len(order))],
        "ordered_at": pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(order * 7, unit="h"),
        "quantity": 1,
    })
    products = pd.DataFrame({"id": [f"p{i}" for i in range(n_products)], "name": [f"item {i}" for i in range(n_products)],
                             "category": [f"cat{i % 4}" for i in range(n_products)], "price": np.arange(n_products) + 1.0,
                             "stock": 5, "active": True})
    return lines, products


def test_product_recommender_follows_the_estimator_contract():
    lines, products = _shop()
    check_estimator_contract(
        make=lambda: ProductRecommender(top_k=5, random_state=0),
        fit=lambda est: est.fit(lines, products),
        output=lambda est: np.concatenate([est.topk_["hybrid"][0].ravel(), est.topk_["hybrid"][1].ravel(),
                                           est.repeat_.toarray().ravel()]),
        unfitted_call=lambda est: est.recommend_for_product("p0"),
    )
    fitted = ProductRecommender(top_k=5, normalization="lift").fit(lines, products)
    assert clone(fitted).get_params()["normalization"] == "lift" and not hasattr(clone(fitted), "topk_")


# ---- the shape fuzz --------------------------------------------------------------------------------------

ID_KINDS = ("int", "str", "uuid")


def _ids(kind: str, n: int, prefix: str) -> list:
    if kind == "int":
        return list(range(1000, 1000 + n))
    if kind == "uuid":
        return [str(uuid.UUID(int=hash((prefix, i)) & ((1 << 128) - 1))) for i in range(n)]
    return [f"{prefix}-ñ{i}" for i in range(n)]


@st.composite
def shops(draw):
    """A small shop of a random shape (the hard cases of a real import are all in the strategy)."""
    n_products = draw(st.integers(1, 25))
    n_customers = draw(st.integers(1, 8))
    n_orders = draw(st.integers(1, 40))
    single_line = draw(st.booleans())
    big_basket = draw(st.booleans())
    kind = draw(st.sampled_from(ID_KINDS))
    one_day = draw(st.booleans())
    gap_year = draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    ordered = max(1, n_products - draw(st.integers(0, 3)))  # some products are never ordered
    sizes = np.ones(n_orders, int) if single_line else rng.integers(1, 6, n_orders)
    if big_basket:
        sizes[0] = 500  # a 500-line basket (duplicate lines of the same products included)
    order = np.repeat(np.arange(n_orders), sizes)
    product_ids = _ids(kind, n_products, "p")
    customer_ids = _ids(kind, n_customers, "c")
    hours = np.zeros(n_orders) if one_day else np.arange(n_orders) * 13.0
    if gap_year:
        hours[n_orders // 2:] += 365 * 24
    lines = pd.DataFrame({
        "order_id": [_ids(kind, n_orders, "o")[o] for o in order],
        "customer_id": [customer_ids[o % n_customers] for o in order],
        "product_id": [product_ids[p] for p in rng.integers(0, ordered, len(order))],
        "ordered_at": pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(hours[order], unit="h"),
        "quantity": rng.integers(1, 4, len(order)),
    })
    products = pd.DataFrame({"id": product_ids, "name": [f"Café crème ñ {i} 🥐" for i in range(n_products)]})
    if draw(st.booleans()):
        products["category"] = [None if i % 2 else "Panadería" for i in range(n_products)]
    if draw(st.booleans()):
        products["price"] = [np.nan if i % 3 else 2.5 for i in range(n_products)]
    if draw(st.booleans()):
        products["stock"] = [np.nan if i % 2 else i % 3 for i in range(n_products)]
    return lines, products


def _check_lists(model: ProductRecommender, top_n: int = 5) -> None:
    n = len(model.product_ids_)
    for method in METHODS:
        idx, val = model.topk_[method]
        assert idx.shape == val.shape == (n, model.top_k) and idx.dtype == np.int32 and val.dtype == np.float32
        assert ((idx >= -1) & (idx < n)).all() and np.isfinite(val).all() and (val >= 0).all()
        assert not (idx == np.arange(n)[:, None]).any()  # never the product itself
    pid = model.product_ids_[0]
    pairs = model.recommend_for_product(pid, top_n=top_n)
    assert len(pairs) <= top_n and all(isinstance(i, int) and isinstance(v, float) for i, v in pairs)
    assert 0 <= model.filtered_unavailable(pid, pairs, top_n=top_n) <= top_n
    for customer in model.customer_ids_[:2]:
        for purchased in (False, True):
            recs, left = model.recommend_for_customer(customer, top_n=top_n, include_purchased=purchased,
                                                      with_filtered=True)
            assert len(recs) <= top_n and len({i for i, _ in recs}) == len(recs) and 0 <= left <= top_n
            assert all(model.available_[i] for i, _ in recs)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shops())
def test_a_fit_on_any_shape_succeeds_or_names_the_problem(shop):
    lines, products = shop
    try:
        model = ProductRecommender(top_k=5).fit(lines, products)
    except InsufficientDataError as exc:
        assert products["id"].nunique() < 2, exc  # the only documented reason a plain fit refuses
        return
    assert len(model.product_ids_) == products["id"].nunique()
    assert model.summary()["total_products"] == len(model.product_ids_)
    _check_lists(model)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shops())
def test_tuning_and_evaluation_on_any_shape_succeed_or_name_the_problem(shop):
    lines, products = shop
    try:
        result = tune_and_evaluate(lines, products, {"top_k": 5, "random_state": 0})
    except MLError as exc:
        assert isinstance(exc, InsufficientDataError), exc
        return
    figures = result["evaluation"]
    for block in ("item", "customer", "buy_again"):
        for metrics in figures[block].values():
            assert 0.0 <= metrics["recall_at_10"] <= 1.0 and 0.0 <= metrics["ndcg_at_10"] <= 1.0
    ProductRecommender(**result["params"]).fit(lines, products)


@pytest.mark.parametrize("kind", ID_KINDS)
def test_integer_string_and_uuid_ids_come_back_as_strings(kind):
    lines, products = _shop()
    mapping = dict(zip(products["id"], _ids(kind, len(products), "p"), strict=True))
    lines["product_id"] = lines["product_id"].map(mapping)
    products["id"] = products["id"].map(mapping)
    model = ProductRecommender(top_k=5).fit(lines, products)
    assert all(isinstance(pid, str) for pid in model.product_ids_)
    assert model.recommend_for_product(str(products["id"].iloc[0]), top_n=3)
