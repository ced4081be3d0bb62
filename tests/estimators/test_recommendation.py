"""The pure recommendation service: sparse matrices, cold start, availability, evaluation maths."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from ml_predictions.errors import InvalidParameterError, NotFittedError
from ml_predictions.estimators.recommendation import (
    NORMALIZATIONS,
    ProductRecommender,
    basket_queries,
    popularity_recs,
    ranking_metrics,
    time_split,
    tune_and_evaluate,
)


def _catalogue(n: int = 12) -> pd.DataFrame:
    cats = ["Bread", "Bread", "Bread", "Coffee", "Coffee", "Coffee", "Cake", "Cake", "Cake", "Tea", "Tea", "Tea"]
    return pd.DataFrame({
        "id": [f"p{i}" for i in range(n)],
        "name": [f"{cats[i % 12]} item {i}" for i in range(n)],
        "description": [f"fresh {cats[i % 12].lower()}" for i in range(n)],
        "category": [cats[i % 12] for i in range(n)],
        "price": np.linspace(1, 12, n),
        "stock": [10] * n,
        "active": [True] * n,
        "image_url": [f"https://img/{i}.jpg" for i in range(n)],
    })


def _lines(baskets: list[list[str]], customers: list[str] | None = None) -> pd.DataFrame:
    rows = []
    start = pd.Timestamp("2026-01-01", tz="UTC")
    for k, basket in enumerate(baskets):
        for p in basket:
            rows.append({"order_id": f"o{k}", "customer_id": customers[k] if customers else f"c{k}",
                         "product_id": p, "ordered_at": start + pd.Timedelta(hours=k), "quantity": 1})
    return pd.DataFrame(rows)


def _planted() -> tuple[pd.DataFrame, pd.DataFrame]:
    """p0 is always bought with p4 (different category), p1 with p7; p11 never bought; p3 is a best-seller."""
    baskets = [["p0", "p4"]] * 30 + [["p1", "p7"]] * 20 + [["p3"]] * 40 + [["p3", "p5"]] * 10 + [["p2", "p3"]] * 5
    return _lines(baskets), _catalogue()


def test_unfitted_model_raises_clear_error():
    with pytest.raises(NotFittedError, match="not fitted"):
        ProductRecommender().recommend_for_product("p0")


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_bought_together_finds_the_planted_partner_and_stays_sparse(normalization):
    lines, products = _planted()
    model = ProductRecommender(normalization=normalization, top_k=5).fit(lines, products)
    assert sp.issparse(model.bought_together_) and model.bought_together_.shape == (12, 12)
    assert model.bought_together_.diagonal().sum() == 0
    top = model.recommend_for_product("p0", top_n=3, method="bought_together")
    assert model.product_ids_[top[0][0]] == "p4"
    assert all(score <= 1.0 + 1e-6 for _, score in top)


def test_basket_cap_drops_huge_orders():
    baskets = [["p0", "p4"]] * 5 + [[f"p{i}" for i in range(12)]]
    model = ProductRecommender(max_basket_size=5, customer_weight=0.0).fit(_lines(baskets), _catalogue())
    assert model.dropped_baskets_ == 1
    # p1 only ever appeared in the dropped basket: no bought-together neighbours
    assert model.bought_together_[model.product_index_["p1"]].nnz == 0


def test_customer_history_cooccurrence_is_weighted_separately():
    # the same customer buys p0 and p6 in different orders: only the history links them
    lines = _lines([["p0"], ["p6"], ["p0", "p4"], ["p4"]], customers=["a", "a", "b", "c"])
    without = ProductRecommender(customer_weight=0.0).fit(lines, _catalogue())
    with_hist = ProductRecommender(customer_weight=0.5).fit(lines, _catalogue())
    i, j = without.product_index_["p0"], without.product_index_["p6"]
    assert without.bought_together_[i, j] == 0
    assert with_hist.bought_together_[i, j] > 0


def test_similar_uses_category_and_text():
    lines, products = _planted()
    model = ProductRecommender().fit(lines, products)
    top = model.recommend_for_product("p0", top_n=2, method="similar")
    cats = products.set_index("id")["category"]
    assert all(cats[model.product_ids_[i]] == "Bread" for i, _ in top)


def test_cold_start_product_gets_content_neighbours_in_hybrid():
    lines, products = _planted()
    model = ProductRecommender(content_weight=0.2, popularity_weight=0.0).fit(lines, products)
    assert model.purchase_counts_[model.product_index_["p11"]] == 0
    top = model.recommend_for_product("p11", top_n=2, method="hybrid")
    assert len(top) == 2
    assert {model.product_ids_[i] for i, _ in top} <= {"p9", "p10"}  # the other teas


def test_unknown_product_falls_back_to_popular_in_category_then_overall():
    lines, products = _planted()
    model = ProductRecommender().fit(lines, products)
    in_cat = model.popular_in_category("Coffee", top_n=3)
    assert [model.product_ids_[i] for i, _ in in_cat][0] == "p3"
    assert all(products.set_index("id").loc[model.product_ids_[i], "category"] == "Coffee" for i, _ in in_cat)
    overall = model.popular_in_category("Unknown", top_n=2)
    assert model.product_ids_[overall[0][0]] == "p3"
    mixed = model.popular_in_category("Tea", top_n=6)  # Tea items barely sell: chain continues overall
    assert len(mixed) == 6


def test_unavailable_products_are_excluded_unless_asked():
    lines, products = _planted()
    products.loc[products["id"] == "p4", "stock"] = 0
    model = ProductRecommender(top_k=10).fit(lines, products)
    default = [model.product_ids_[i] for i, _ in model.recommend_for_product("p0", top_n=10)]
    assert "p4" not in default
    everything = [model.product_ids_[i] for i, _ in model.recommend_for_product("p0", top_n=10,
                                                                                 include_unavailable=True)]
    assert everything[0] == "p4"


def test_unknown_stock_is_available_and_the_filter_is_counted():
    lines, products = _planted()
    products["stock"] = np.nan  # an imported history without stock levels
    model = ProductRecommender(top_k=10).fit(lines, products)
    assert model.available_.all() and model.summary()["unknown_stock_products"] == 12
    pairs = model.recommend_for_product("p0", top_n=5)
    assert model.product_ids_[pairs[0][0]] == "p4" and model.filtered_unavailable("p0", pairs, top_n=5) == 0
    # p4 (p0's partner) and p3 (the best-seller) are known to be sold out; the rest stays unknown
    products.loc[products["id"].isin(["p4", "p3"]), "stock"] = 0
    model = ProductRecommender(top_k=10).fit(lines, products)
    assert model.available_.sum() == 10
    full = model.recommend_for_product("p0", top_n=11, include_unavailable=True)
    pairs = model.recommend_for_product("p0", top_n=5)
    shown = [model.product_ids_[i] for i, _ in pairs]
    assert len(pairs) == 5 and not {"p3", "p4"} & set(shown)  # the list keeps its length
    unfiltered_top5 = [model.product_ids_[i] for i, _ in full[:5]]
    assert model.filtered_unavailable("p0", pairs, top_n=5) == len({"p3", "p4"} & set(unfiltered_top5)) >= 1
    popular = model.popular_in_category(None, top_n=3)
    assert model.popular_filtered_unavailable(None, popular, top_n=3) == 2  # p3 (55 orders), p4 (30) lead
    recs, left = model.recommend_for_customer("c0", top_n=5, with_filtered=True)  # c0 bought p0 (and p4)
    assert left >= 1 and len(recs) == 5 and model.product_index_["p3"] not in {i for i, _ in recs}


def test_every_product_unavailable_gives_empty_lists_that_say_so():
    lines, products = _planted()
    products["stock"] = 0
    model = ProductRecommender(top_k=5).fit(lines, products)
    pairs = model.recommend_for_product("p0", top_n=5)
    assert pairs == [] and model.filtered_unavailable("p0", pairs, top_n=5) == 5


def test_keeping_unavailable_products_is_a_setting():
    lines, products = _planted()
    products.loc[products["id"] == "p4", "active"] = False
    model = ProductRecommender(exclude_unavailable=False).fit(lines, products)
    assert model.product_ids_[model.recommend_for_product("p0", top_n=1)[0][0]] == "p4"
    assert "p4" in {model.product_ids_[i] for i, _ in model.recommend_for_customer("c0", top_n=12,
                                                                                    include_purchased=True)}


def test_customer_recommendations_exclude_bought_unless_asked():
    lines, products = _planted()
    extra = _lines([["p0"]], customers=["alice"])
    extra["order_id"] = "x1"
    model = ProductRecommender().fit(pd.concat([lines, extra]), products)
    recs = [model.product_ids_[i] for i, _ in model.recommend_for_customer("alice", top_n=5)]
    assert "p0" not in recs and recs[0] == "p4"
    with_bought = [model.product_ids_[i] for i, _ in model.recommend_for_customer("alice", top_n=12,
                                                                                     include_purchased=True)]
    assert "p0" in with_bought
    stranger = model.recommend_for_customer("nobody", top_n=3)
    assert model.product_ids_[stranger[0][0]] == "p3"  # popular fill


def test_ranking_metrics_by_hand():
    targets = sp.csr_matrix(np.array([[0, 1, 1, 0], [0, 0, 0, 1]], dtype=np.float32))
    recs = np.array([[1, 3, -1], [0, 2, 1]])
    m = ranking_metrics(recs, targets, n_catalogue=4, k=3)
    assert m["recall_at_10"] == pytest.approx((0.5 + 0.0) / 2)
    assert m["precision_at_10"] == pytest.approx((1 / 3 + 0) / 2, abs=1e-4)
    assert m["ndcg_at_10"] == pytest.approx((1.0 / (1 + 1 / np.log2(3))) / 2, abs=1e-4)
    assert m["coverage"] == pytest.approx(1.0)  # 0,1,2,3 all recommended


def test_popularity_recs_skip_the_seed():
    pop = np.array([5.0, 4.0, 3.0, 2.0])
    recs = popularity_recs(pop, np.array([0, 3]), k=2)
    assert recs.tolist() == [[1, 2], [0, 1]]


def test_time_split_holds_out_the_last_orders_whole():
    lines, _ = _planted()
    train, test, cutoff = time_split(lines, 0.1)
    assert train["ordered_at"].max() < test["ordered_at"].min() == cutoff
    assert not set(train["order_id"]) & set(test["order_id"])
    n_orders = lines["order_id"].nunique()
    assert test["order_id"].nunique() == n_orders - round(n_orders * 0.9)


def test_basket_queries_hide_the_seed():
    lines = _lines([["p0", "p4", "p5"], ["p1"]])
    q = basket_queries(lines, {f"p{i}": i for i in range(12)}, 12, random_state=0)
    assert len(q) == 1  # single-item baskets cannot be completed
    assert q.targets[0, q.seeds[0]] == 0 and q.targets.sum() == 2


def test_tune_and_evaluate_beats_popularity_on_planted_pairs():
    rng = np.random.default_rng(0)
    pairs = [(f"p{i}", f"p{i + 20}") for i in range(15)]
    baskets = []
    for _ in range(600):
        a, b = pairs[rng.integers(len(pairs))]
        noise = ["p39"] if rng.random() < 0.5 else []
        baskets.append([a, b, *noise])
    result = tune_and_evaluate(_lines(baskets), _catalogue(40), {"random_state": 0}, test_fraction=0.2)
    item = result["evaluation"]["item"]
    assert set(item) == {"hybrid", "bought_together", "similar", "popularity"}
    assert item["hybrid"]["recall_at_10"] >= 0.8  # a shown p39 (noise) cannot tell which pair follows
    assert item["hybrid"]["recall_at_10"] > 1.5 * item["popularity"]["recall_at_10"]
    assert result["params"]["normalization"] in NORMALIZATIONS
    assert set(result["tuning"]) >= {"normalization_recall", "weights_recall"}


def test_params_stay_plain_after_fit():
    lines, products = _planted()
    model = ProductRecommender(top_k=7).fit(lines, products)
    params = model.get_params()
    assert params["top_k"] == 7
    assert all(isinstance(v, (int, float, str, bool, type(None))) for v in params.values())


def test_pruning_keeps_each_rows_largest_entries():
    from ml_predictions.estimators.recommendation.kernels import prune_rows

    m = sp.random(120, 120, density=0.3, format="csr", random_state=1, dtype=np.float32)
    pruned = prune_rows(m, 15)
    for i in range(120):
        row, kept = m[i].toarray().ravel(), pruned[i].toarray().ravel()
        assert (kept > 0).sum() == min(15, (row > 0).sum())
        assert np.allclose(np.sort(row)[::-1][:15], np.sort(kept)[::-1][:15])
        assert np.all((kept == 0) | (kept == row))  # values are kept, not changed


def test_pruning_breaks_ties_at_the_threshold_to_exactly_keep_entries():
    from ml_predictions.estimators.recommendation.kernels import prune_rows

    # integer counts tie a lot (many pairs bought together exactly once): rows must still hold `keep`
    m = sp.csr_matrix(np.array([[3, 1, 1, 1, 1, 0], [2, 2, 2, 2, 0, 5], [1, 0, 0, 0, 0, 0]], np.float32))
    pruned = prune_rows(m, 3)
    assert np.diff(pruned.indptr).tolist() == [3, 3, 1]
    assert pruned[0].toarray().ravel().tolist() == [3, 1, 1, 0, 0, 0]  # ties taken in column order
    assert sorted(pruned[1].data.tolist()) == [2, 2, 5]


def _brute_force_customer_top_k(model: ProductRecommender, histories: list[list[int]],
                                k: int) -> list[tuple[set, np.ndarray]]:
    """Dense reference: mean neighbour score over the history + weight x popularity, history removed."""
    neigh = model._neighbour_matrix(model.customer_neighbours).toarray()
    out = []
    for h in histories:
        scores = neigh[h].sum(axis=0) / max(len(h), 1) + max(model.customer_popularity_weight, 1e-6) * model.popularity_
        scores[h] = 0.0
        scores[~model.available_] = 0.0
        order = np.argsort(-scores, kind="stable")
        out.append(({int(i) for i in order[:k] if scores[i] > 0}, scores))
    return out


@pytest.mark.parametrize("neighbours", ["hybrid", "bought_together"])
@pytest.mark.parametrize("weight", [0.001, 3.0])
def test_sparse_customer_top_k_equals_the_dense_computation(neighbours, weight):
    rng = np.random.default_rng(3)
    baskets = [list({f"p{int(x)}" for x in rng.integers(0, 40, rng.integers(1, 5))}) for _ in range(400)]
    customers = [f"c{int(x)}" for x in rng.integers(0, 60, 400)]
    products = _catalogue(40)
    products.loc[5, "stock"] = 0  # unavailable: never recommended
    model = ProductRecommender(customer_neighbours=neighbours, customer_popularity_weight=weight, top_k=8)
    model.fit(_lines(baskets, customers), products)
    histories = [model.history_[i].indices.tolist() for i in range(len(model.customer_ids_))] + [[]]
    idx, val = model.customer_top_k(histories, 6)
    expected = _brute_force_customer_top_k(model, histories, 6)
    for row, (got, (want, scores)) in enumerate(zip(idx, expected, strict=True)):
        got_set = {int(i) for i in got if i >= 0}
        assert len(got_set) == len(want) == 6, row
        assert np.allclose(val[row], scores[got], atol=1e-6)  # the same scores as the dense formula
        # equal sets, except where products tie with the 6th score (either may be taken)
        for i in got_set ^ want:
            assert np.isclose(scores[i], val[row][-1], atol=1e-6), (row, i)
        assert not got_set & set(histories[row])
        assert 5 not in got_set
        assert np.all(np.diff(val[row]) <= 1e-7)  # best first
    # the sparse-matrix input (used by the evaluation) gives the same lists
    idx2, _ = model.customer_top_k(model.history_, 6)
    assert np.array_equal(idx2, idx[:-1])


def test_customer_neighbours_is_validated_and_tuned():
    with pytest.raises(InvalidParameterError, match="customer_neighbours"):
        ProductRecommender(customer_neighbours="ALS").fit(*_planted())
    rng = np.random.default_rng(0)
    baskets = [[f"p{int(i)}", f"p{int(i) + 20}"] for i in rng.integers(0, 15, 600)]
    customers = [f"c{int(x)}" for x in rng.integers(0, 80, 600)]
    result = tune_and_evaluate(_lines(baskets, customers), _catalogue(40), {"random_state": 0}, test_fraction=0.2)
    assert result["params"]["customer_neighbours"] in ("hybrid", "bought_together")
    grid = result["tuning"]["customer_popularity_recall"]
    assert len(grid) == 12 and {key.split(",")[0] for key in grid} == {"hybrid", "bought_together"}
    assert result["evaluation"]["customer"]["hybrid"]["queries"] > 0


def test_refit_does_not_reuse_the_previous_fits_cached_lists():
    lines, products = _planted()
    model = ProductRecommender(top_k=5).fit(lines, products)
    model.recommend_for_customer("c0")  # fills the per-customer caches
    other = _lines([["p2", "p9"]] * 30 + [["p6"]] * 40, [f"c{i}" for i in range(70)])
    model.fit(other, products)
    fresh = ProductRecommender(top_k=5).fit(other, products)
    assert model.recommend_for_customer("c0") == fresh.recommend_for_customer("c0")
    recommended = [i for i, _ in model.recommend_for_customer("c0")]
    assert fresh.product_index_["p6"] in recommended  # the new data's best-seller
    assert not {fresh.product_index_["p2"], fresh.product_index_["p9"]} & set(recommended)  # c0's history


def test_ranking_metrics_when_no_list_has_a_product():
    """Every product unavailable -> every list is -1: the crash of the real history (scipy returns a
    sparse matrix for an empty fancy index); figures are zero with the queries still counted."""
    targets = sp.csr_matrix(np.eye(6, 8, k=1, dtype=np.float32))
    out = ranking_metrics(np.full((6, 10), -1), targets, 8)
    assert out == {"precision_at_10": 0.0, "recall_at_10": 0.0, "ndcg_at_10": 0.0, "coverage": 0.0, "queries": 6}
    assert ranking_metrics(np.empty((6, 0), np.int64), targets, 8)["recall_at_10"] == 0.0
    recs = np.full((6, 10), -1)
    recs[:, 0] = np.arange(1, 7)  # the one target of each query at rank 1
    out = ranking_metrics(recs, targets, 8)
    assert out["recall_at_10"] == 1.0 and out["ndcg_at_10"] == 1.0 and out["precision_at_10"] == 0.1


def test_popularity_baseline_never_offers_excluded_products():
    pop = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    recs = popularity_recs(pop, np.array([0, 3]), 3, exclude=np.array([False, True, False, False, False]))
    assert recs.tolist() == [[2, 3, 4], [0, 2, 4]]
    assert (popularity_recs(pop, np.array([0]), 3, exclude=np.ones(5, bool)) == -1).all()


def test_buy_again_puts_the_monthly_product_before_the_one_bought_once_a_year_ago():
    lines, products = _planted()
    start = pd.Timestamp("2026-01-01", tz="UTC")
    own = [{"order_id": f"m{i}", "customer_id": "ana", "product_id": "p9",
            "ordered_at": start - pd.Timedelta(days=30 * i), "quantity": 1} for i in range(1, 7)]
    own.append({"order_id": "y1", "customer_id": "ana", "product_id": "p10",
                "ordered_at": start - pd.Timedelta(days=365), "quantity": 1})
    model = ProductRecommender(buy_again_weight=0.9).fit(pd.concat([lines, pd.DataFrame(own)]), products)
    again = [model.product_ids_[i] for i, _ in model.recommend_for_customer("ana", top_n=5, include_purchased=True)]
    assert again[:2] == ["p9", "p10"]
    discovery = [model.product_ids_[i] for i, _ in model.recommend_for_customer("ana", top_n=5)]
    assert not {"p9", "p10"} & set(discovery)  # the default list keeps excluding purchased products
    repeat = model.repeat_scores(30.0)[model.customer_index_["ana"]].toarray().ravel()
    assert repeat[model.product_index_["p9"]] == pytest.approx(1.0)  # the row's maximum
    assert repeat[model.product_index_["p10"]] < 0.01  # 0.5 ** (~365 / 30) against six recent orders


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_rebuilding_only_some_rows_gives_exactly_those_rows(normalization):
    """Tuning compares normalizations on its validation seeds' rows only: they must equal a full build."""
    lines, products = _planted()
    model = ProductRecommender(normalization=normalization).fit(lines, products, precompute=False)
    full = model.bought_together_.toarray()
    rows = np.array([0, 3, 7])
    part = model.rebuild_cooccurrence(normalization, rows=rows).bought_together_.toarray()
    np.testing.assert_allclose(part[rows], full[rows], rtol=1e-6)
    assert not part[np.setdiff1d(np.arange(12), rows)].any() and full[rows].any()


def test_a_time_split_of_a_split_ignores_orders_of_the_other_part():
    """encode_lines makes ids categoricals; the training part still knows every order as a category.
    With pandas 2's groupby default (observed=False) the nested validation split came out empty."""
    from ml_predictions.estimators.recommendation import encode_lines

    lines, _ = _planted()
    train, test, _ = time_split(encode_lines(lines), 0.2)
    fit, valid, _ = time_split(train, 0.2)
    assert len(valid) and len(fit) and valid["order_id"].nunique() == round(train["order_id"].nunique() * 0.2)


def _taste_shop() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ten customers buy p6 in one order and p9 in a later one (never the same basket); "zoe" has only
    bought p6 so far. p3 is the shop's best-seller, bought alone."""
    rows = []
    start = pd.Timestamp("2026-01-01", tz="UTC")
    for c in range(10):
        for k, p in enumerate(("p6", "p9")):
            rows.append({"order_id": f"t{c}-{k}", "customer_id": f"fan{c}", "product_id": p,
                         "ordered_at": start + pd.Timedelta(days=10 * k + c), "quantity": 1})
    for k in range(30):
        rows.append({"order_id": f"b{k}", "customer_id": f"walk{k}", "product_id": "p3",
                     "ordered_at": start + pd.Timedelta(days=k), "quantity": 1})
    rows.append({"order_id": "z1", "customer_id": "zoe", "product_id": "p6",
                 "ordered_at": start + pd.Timedelta(days=40), "quantity": 1})
    return pd.DataFrame(rows), _catalogue()


def test_buy_again_history_neighbours_are_the_cosine_over_customers_histories():
    """p6 and p9 share 10 customers and no basket: cosine 10 / sqrt(11 * 10) by hand; bought-together
    (baskets, with a small customer share) ranks them weaker than the history cosine does."""
    lines, products = _taste_shop()
    model = ProductRecommender(buy_again_weight=0.5, buy_again_popularity_weight=0.0).fit(lines, products)
    i6, i9, i3 = (model.product_index_[p] for p in ("p6", "p9", "p3"))
    assert model.repeat_neighbours_[i6, i9] == pytest.approx(10 / np.sqrt(11 * 10), rel=1e-5)
    assert model.repeat_neighbours_[i6, i3] == 0 and model.repeat_neighbours_[i6, i6] == 0
    again = model.recommend_for_customer("zoe", top_n=3, include_purchased=True)
    assert [model.product_ids_[i] for i, _ in again[:2]] == ["p6", "p9"]
    # own repeat 1.0 and its neighbour 0.953, blended half and half
    assert again[0][1] == pytest.approx(0.5, abs=1e-6)
    assert again[1][1] == pytest.approx(0.5 * 10 / np.sqrt(110), abs=1e-6)
    assert model.product_ids_[again[2][0]] == "p3"  # popularity only fills the list


def test_buy_again_neighbour_source_is_a_parameter_and_history_is_built_only_when_used():
    lines, products = _taste_shop()
    hybrid = ProductRecommender(buy_again_neighbours="hybrid").fit(lines, products)
    assert hybrid.repeat_neighbours_ is None
    assert [hybrid.product_ids_[i] for i, _ in hybrid.recommend_for_customer("zoe", top_n=1,
                                                                             include_purchased=True)] == ["p6"]
    hybrid.set_params(buy_again_neighbours="history")
    again = hybrid.recommend_for_customer("zoe", top_n=2, include_purchased=True)
    assert hybrid.repeat_neighbours_ is not None and hybrid.product_ids_[again[1][0]] == "p9"
    with pytest.raises(InvalidParameterError) as err:
        ProductRecommender(buy_again_neighbours="friends").fit(lines, products)
    assert err.value.field == "buy_again_neighbours"
    with pytest.raises(InvalidParameterError) as err:
        ProductRecommender(buy_again_popularity_weight=-1).fit(lines, products)
    assert err.value.field == "buy_again_popularity_weight"


def test_buy_again_counts_an_out_of_stock_neighbour_as_filtered():
    lines, products = _taste_shop()
    products.loc[products["id"] == "p9", "stock"] = 0
    model = ProductRecommender(buy_again_popularity_weight=0.0).fit(lines, products)
    pairs, left = model.recommend_for_customer("zoe", top_n=3, include_purchased=True, with_filtered=True)
    assert "p9" not in {model.product_ids_[i] for i, _ in pairs} and left == 1
    assert model.product_ids_[pairs[0][0]] == "p6"


def test_an_artifact_from_before_buy_again_neighbours_keeps_its_old_list():
    """Loaded old models lack the new attributes: they keep the discovery-neighbour blend, no error."""
    lines, products = _taste_shop()
    model = ProductRecommender().fit(lines, products)
    for name in ("buy_again_neighbours", "buy_again_popularity_weight", "repeat_neighbours_"):
        delattr(model, name)
    again = model.recommend_for_customer("zoe", top_n=3, include_purchased=True)
    assert model.product_ids_[again[0][0]] == "p6" and len(again) == 3


def test_tuning_and_evaluation_use_only_the_estimators_public_methods():
    """The tuning and the evaluation drive the estimator like any caller would (its contract), so a
    refactoring of its private state cannot silently change what they measure."""
    import ast
    from pathlib import Path

    import ml_predictions.estimators.recommendation as package

    for name in ("tuning.py", "evaluation.py"):
        tree = ast.parse((Path(package.__file__).parent / name).read_text())
        private = sorted({node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                          and node.attr.startswith("_") and not node.attr.startswith("__")})
        assert private == [], f"{name} reaches into {private}"
