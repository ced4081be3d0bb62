"""The recommender's speed paths give exactly what the plain computation gives.

Each shortcut (partition-based pruning, dense content block, catalogue parts shared between the fits of
one training, reused blend buffers) is compared with the straightforward result on the same input.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from ml_predictions.estimators.recommendation import ProductRecommender
from ml_predictions.estimators.recommendation import features as features_module
from ml_predictions.estimators.recommendation.kernels import prune_rows


def _reference_prune(m: sp.csr_matrix, keep: int) -> np.ndarray:
    """Per row: the `keep` largest values, ties at the threshold taken in column order."""
    dense = m.toarray()
    out = np.zeros_like(dense)
    for i, row in enumerate(dense):
        cols = np.flatnonzero(row)
        order = cols[np.argsort(-row[cols], kind="stable")][:keep]
        out[i, order] = row[order]
    return out


@pytest.mark.parametrize("seed", range(6))
def test_pruning_by_partition_equals_a_per_row_sort(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 150))
    m = sp.random(n, n, density=float(rng.uniform(0.05, 0.9)), format="csr", random_state=seed, dtype=np.float32)
    m.data = np.ceil(m.data * 4).astype(np.float32)  # small integers: many ties at the threshold
    keep = int(rng.integers(1, 30))
    # a tiny block size forces many padded blocks of different widths
    pruned = prune_rows(m, keep, chunk_cells=int(rng.integers(1, 400)))
    assert np.array_equal(pruned.toarray(), _reference_prune(m, keep))
    assert np.diff(pruned.indptr).max() <= keep


def _shop(seed: int = 0, n_products: int = 60, n_orders: int = 400) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    cats = np.array(["Bread", "Coffee", "Cake", "Tea", "Fruit"])
    products = pd.DataFrame({
        "id": [f"p{i}" for i in range(n_products)],
        "name": [f"{cats[i % 5]} item {i % 7}" for i in range(n_products)],
        "description": [f"fresh {cats[i % 5].lower()}" for i in range(n_products)],
        "category": [cats[i % 5] for i in range(n_products)],
        "price": rng.uniform(1, 30, n_products).round(2),
        "stock": np.where(np.arange(n_products) % 9 == 0, 0, 10),
        "active": True,
    })
    rows = []
    start = pd.Timestamp("2026-01-01", tz="UTC")
    for o in range(n_orders):
        size = int(rng.integers(1, 5))
        for p in rng.choice(n_products, size, replace=False, p=np.linspace(2, 1, n_products) / np.linspace(
                2, 1, n_products).sum()):
            rows.append({"order_id": f"o{o}", "customer_id": f"c{o % 50}", "product_id": f"p{p}",
                         "ordered_at": start + pd.Timedelta(hours=o), "quantity": 1})
    return pd.DataFrame(rows), products


def test_dense_content_block_equals_the_sparse_product(monkeypatch):
    lines, products = _shop()
    model = ProductRecommender(random_state=0).fit(lines, products, precompute=False)
    rows = np.array([0, 5, 17, 59])
    dense = model.content_scores(rows)
    monkeypatch.setattr(features_module, "CONTENT_DENSE_CELLS", 0)
    sparse_model = ProductRecommender(random_state=0).fit(lines, products, precompute=False)
    sparse = sparse_model.content_scores(rows)
    assert sparse_model.__dict__["_content_dense"] is False  # the sparse path was really taken
    assert dense.flags["C_CONTIGUOUS"] and dense.shape == (4, 60)
    np.testing.assert_allclose(dense, sparse, rtol=1e-6, atol=1e-7)


def test_a_fit_sharing_the_catalogue_gives_the_same_lists():
    lines, products = _shop()
    early = lines[lines["ordered_at"] < lines["ordered_at"].quantile(0.8)]
    donor = ProductRecommender(random_state=0).fit(early, products).catalogue_part()
    plain = ProductRecommender(random_state=0).fit(lines, products)
    shared = ProductRecommender(random_state=0).fit(lines, products, content_from=donor)
    assert shared.content_ is donor.content_  # taken, not rebuilt
    assert shared.topk_["similar"][0] is donor.topk_["similar"][0]
    for method in plain.topk_:
        assert np.array_equal(plain.topk_[method][0], shared.topk_[method][0]), method
        assert np.array_equal(plain.topk_[method][1], shared.topk_[method][1]), method
    for method in plain.excluded_topk_:
        assert np.array_equal(plain.excluded_topk_[method][0], shared.excluded_topk_[method][0]), method
    assert "_content_dense" not in shared.__getstate__()


def test_a_different_catalogue_is_not_shared():
    lines, products = _shop()
    donor = ProductRecommender(random_state=0).fit(lines, products).catalogue_part()
    repriced = products.assign(price=products["price"].where(products["id"] != "p3", 999.0))
    model = ProductRecommender(random_state=0).fit(lines, repriced, content_from=donor)
    assert model.content_ is not donor.content_
    other_weights = ProductRecommender(random_state=0, text_weight=0.0).fit(lines, products, content_from=donor)
    assert other_weights.content_ is not donor.content_
    assert not np.array_equal(other_weights.topk_["similar"][1], donor.topk_["similar"][1])


def test_blend_with_reused_buffers_is_bit_identical():
    lines, products = _shop()
    model = ProductRecommender(random_state=0).fit(lines, products, precompute=False)
    rows = np.arange(30)
    blocks = model.score_blocks(rows, ("bought_together", "similar"))
    bt, ct = blocks["bought_together"], blocks["similar"]
    cold = bt.max(axis=1) <= 0
    out, scratch = np.full(bt.shape, 7.0, np.float32), np.empty(bt.shape, np.float32)
    for wc, wp in [(0.0, 0.0), (0.2, 0.0), (0.0, 0.5), (0.5, 0.05)]:
        model.set_params(bought_together_weight=1.0, content_weight=wc, popularity_weight=wp)
        total = 1.0 + wc + wp
        expected = np.float32(1.0 / total) * bt + np.float32(wc / total) * ct \
            + np.float32(wp / total) * model.popularity_[None, :]
        expected[cold] = model.blend(bt, cold, ct)[cold]  # the cold-start rows follow their own rule
        got = model.blend(bt, cold, ct, out=out, scratch=scratch)
        assert got is out
        assert np.array_equal(got, model.blend(bt, cold, ct))
        np.testing.assert_allclose(got, expected, rtol=1e-6)


def _repeat_shop() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Returning customers over ~500 days, so the half-lives tried give different repeat scores."""
    lines, products = _shop(seed=3, n_products=80, n_orders=1200)
    hours = lines["order_id"].str[1:].astype(int)
    lines["ordered_at"] = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(hours * 10, unit="h")
    return lines, products


def _old_tune_buy_again(m, valid_lines, *, k, max_queries, random_state):
    """The tuning before the neighbour product was shared: one full list evaluation per grid point."""
    from ml_predictions.estimators.recommendation import tuning
    from ml_predictions.estimators.recommendation.evaluation import customer_targets, evaluate_buy_again

    targets = customer_targets(m, valid_lines, max_queries=max_queries, random_state=random_state, new_only=False)
    trace = {}

    def score(**params):
        m.set_params(**params)
        f = evaluate_buy_again(m, valid_lines, k=k, targets=targets, baselines=False)["buy_again"]
        trace[",".join(f"{key}={value}" for key, value in params.items())] = f["recall_at_10"]
        return f["recall_at_10"], f["ndcg_at_10"]

    m.set_params(repeat_half_life_days=365.0)
    first = {(nb, w): score(buy_again_neighbours=nb, buy_again_weight=w)
             for nb in tuning.BUY_AGAIN_TUNED_NEIGHBOURS for w in tuning.BUY_AGAIN_WEIGHTS}
    nb, w = max(first, key=lambda key: (first[key], -tuning.BUY_AGAIN_TUNED_NEIGHBOURS.index(key[0]), key[1]))
    m.set_params(buy_again_neighbours=nb, buy_again_weight=w)
    trace["repeat_half_life_days=365.0"] = first[(nb, w)][0]
    lives = {h: first[(nb, w)] if h == 365.0 else score(repeat_half_life_days=h) for h in tuning.BUY_AGAIN_HALF_LIVES}
    h = max(lives, key=lambda key: (lives[key], key))
    m.set_params(repeat_half_life_days=h)
    pops = {wp: score(buy_again_popularity_weight=wp) for wp in tuning.BUY_AGAIN_POPULARITY_WEIGHTS}
    wp = max(pops, key=lambda key: (pops[key], -key))
    return {"buy_again_neighbours": nb, "buy_again_weight": w, "repeat_half_life_days": h,
            "buy_again_popularity_weight": wp}, trace


def _tuning_model():
    from ml_predictions.estimators.recommendation.evaluation import encode_lines, time_split

    lines, products = _repeat_shop()
    fit_lines, valid_lines, _ = time_split(encode_lines(lines), 0.2)
    return ProductRecommender(top_k=8).fit(fit_lines, products, precompute=False), valid_lines


def test_buy_again_parts_reblend_to_the_same_lists_as_customer_top_k():
    from ml_predictions.estimators.recommendation.evaluation import customer_targets

    m, valid_lines = _tuning_model()
    cust, _, Hc = customer_targets(m, valid_lines, max_queries=None, random_state=0, new_only=False)
    assert len(cust) > 10 and m.available_.sum() < len(m.available_)  # unavailable products in play
    for nb in ("history", "hybrid"):
        for h in (30.0, 1000.0):
            m.set_params(buy_again_neighbours=nb, repeat_half_life_days=h)
            parts = m.buy_again_parts(Hc, m.repeat_[cust], 10)
            for w, wp in ((0.1, 0.0), (0.67, 0.3), (0.999, 3.0)):
                m.set_params(buy_again_weight=w, buy_again_popularity_weight=wp)
                fast_i, fast_v = m.buy_again_top_k(parts, 10)
                ref_i, ref_v = m.customer_top_k(Hc, 10, include_purchased=True, repeat=m.repeat_[cust])
                np.testing.assert_array_equal(fast_i, ref_i)
                np.testing.assert_array_equal(fast_v, ref_v)
                old_i, old_v = _old_buy_again_lists(m, Hc, m.repeat_[cust], 10)
                np.testing.assert_array_equal(fast_i, old_i)
                np.testing.assert_array_equal(fast_v, old_v)


def _old_buy_again_lists(m, Hc, repeat, k):
    """The buy-again scores written out as before the split into parts (one pass, no shared state)."""
    from ml_predictions.estimators.recommendation.constants import BUY_AGAIN_FILL
    from ml_predictions.estimators.recommendation.kernels import sparse_top_k

    n = len(m.product_ids_)
    mask = ~m.available_ if m.exclude_unavailable else np.zeros(n, bool)
    neigh = m.repeat_neighbours_ if m.buy_again_neighbours == "history" else m._neighbour_matrix("hybrid")
    pop = m.popularity_.astype(np.float32)
    order = np.lexsort((np.arange(n), -pop))
    pop_cand = order[~mask[order]][:int(k + np.diff(Hc.indptr).max())]
    in_pop = np.zeros(n, bool)
    in_pop[pop_cand] = True
    R = repeat.astype(np.float32)
    wr, wp = np.float32(m.buy_again_weight), np.float32(m.buy_again_popularity_weight)
    S = (np.float32(1.0 - wr) * (R @ neigh) + wr * R).tocsr()
    if wp > 0:
        S.data += wp * pop[S.indices] * ~in_pop[S.indices]
    rows = R.shape[0]
    P = sp.csr_matrix((np.tile((wp + np.float32(BUY_AGAIN_FILL)) * pop[pop_cand], rows), np.tile(pop_cand, rows),
                       np.arange(rows + 1) * len(pop_cand)), shape=(rows, n))
    S = (S + P).tocsr()
    S.data[mask[S.indices]] = 0.0
    S.eliminate_zeros()
    return sparse_top_k(S, k)


def test_shared_buy_again_tuning_picks_the_same_parameters_and_figures():
    from ml_predictions.estimators.recommendation.tuning import _tune_buy_again

    m, valid_lines = _tuning_model()
    best, trace = _tune_buy_again(m, valid_lines, k=10, max_queries=3000, random_state=0)
    m2, _ = _tuning_model()
    ref_best, ref_trace = _old_tune_buy_again(m2, valid_lines, k=10, max_queries=3000, random_state=0)
    assert best == ref_best
    assert trace == ref_trace and len(set(trace.values())) > 3  # the grid points do differ
    assert m.repeat_half_life_days == best["repeat_half_life_days"]
    np.testing.assert_array_equal(m.repeat_.toarray(), m.repeat_scores(best["repeat_half_life_days"]).toarray())


def _reference_top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row: positive scores by decreasing value, equal scores in column order, padded with -1 / 0."""
    idx = np.full((len(scores), k), -1, np.int32)
    val = np.zeros((len(scores), k), np.float32)
    for i, row in enumerate(scores):
        cols = np.flatnonzero(row > 0)
        order = cols[np.argsort(-row[cols], kind="stable")][:k]
        idx[i, :len(order)] = order
        val[i, :len(order)] = row[order]
    return idx, val


@pytest.mark.parametrize("seed", range(8))
def test_blocked_threshold_top_k_equals_a_per_row_sort(seed, monkeypatch):
    from ml_predictions.estimators.recommendation import kernels

    rng = np.random.default_rng(seed)
    # small blocks and a low width limit so the blocked path runs on a test-sized matrix
    monkeypatch.setattr(kernels, "TOP_K_BLOCK", int(rng.integers(2, 9)))
    monkeypatch.setattr(kernels, "TOP_K_BLOCKED_MIN_COLS", 16)
    n_rows, n_cols, k = int(rng.integers(1, 60)), int(rng.integers(40, 400)), int(rng.integers(1, 12))
    scores = np.where(rng.random((n_rows, n_cols)) < rng.uniform(0.01, 0.6), rng.integers(1, 5, (n_rows, n_cols)),
                      0).astype(np.float32) / 4  # few distinct values: ties at the k-th place
    scores[0] = 0.0  # a row without any positive score
    if n_rows > 1:
        scores[1, :] = 0.0
        scores[1, : max(k // 2, 1)] = 0.5  # fewer positives than k
    idx, val = kernels.top_k_dense(scores, k)
    ref_idx, ref_val = _reference_top_k(scores, k)
    assert np.array_equal(idx, ref_idx)
    assert np.array_equal(val, ref_val)


def test_blocked_top_k_on_a_catalogue_sized_block_equals_a_per_row_sort():
    from ml_predictions.estimators.recommendation import kernels

    rng = np.random.default_rng(3)
    scores = (rng.random((40, 10_000)) ** 6).astype(np.float32)  # continuous: no ties
    scores[:, rng.random(10_000) < 0.3] = 0.0
    idx, val = kernels.top_k_dense(scores, 50)
    ref_idx, ref_val = _reference_top_k(scores, 50)
    assert np.array_equal(idx, ref_idx)
    assert np.array_equal(val, ref_val)


def test_the_history_product_is_built_once_and_equals_the_plain_formulas(monkeypatch):
    from ml_predictions.estimators.recommendation.kernels import drop_diagonal

    lines, products = _shop(seed=4)
    built = []
    original = features_module.FeaturesMixin._history_cooccurrence

    def counting(self, H):
        if self.__dict__.get("_hth") is None:
            built.append(H.shape)
        return original(self, H)

    monkeypatch.setattr(features_module.FeaturesMixin, "_history_cooccurrence", counting)
    m = ProductRecommender(normalization="conditional", customer_weight=0.25, buy_again_neighbours="history",
                           max_neighbors=10, top_k=8, random_state=0).fit(lines, products, precompute=False)
    assert len(built) == 1  # the buy-again cosine and the bought-together counts shared one product
    assert "_hth" not in m.__dict__  # freed at the end of the fit
    # the plain formulas, on the fitted baskets and histories
    B, H = m._baskets, m.history_
    counts = np.asarray(B.sum(axis=0)).ravel() + 0.25 * np.asarray(H.sum(axis=0)).ravel()
    raw = drop_diagonal((B.T @ B + 0.25 * (H.T @ H)).tocsr()).toarray()
    _assert_pruned_from(m.bought_together_, raw / np.maximum(counts, 1e-9)[:, None], 10)
    hc = np.asarray(H.sum(axis=0)).ravel()
    cos = drop_diagonal((H.T @ H).tocsr()).toarray() / np.sqrt(np.maximum(np.outer(hc, hc), 1e-12))
    _assert_pruned_from(m.repeat_neighbours_, cos, 8)


def _assert_pruned_from(pruned: sp.csr_matrix, full: np.ndarray, keep: int) -> None:
    """Each kept entry is the full matrix's value, and each row kept its `keep` largest values (which
    of several equal values at the threshold is kept may differ by float rounding)."""
    got = pruned.toarray()
    kept = got != 0
    np.testing.assert_allclose(got[kept], full[kept], rtol=1e-5)
    for row_got, row_full in zip(got, full, strict=True):
        top = np.sort(row_full[row_full > 0])[::-1][:keep]
        np.testing.assert_allclose(np.sort(row_got[row_got > 0])[::-1], top, rtol=1e-5)


@pytest.mark.parametrize("seed", range(8))
def test_grouped_threshold_sparse_top_k_equals_a_per_row_sort(seed, monkeypatch):
    from ml_predictions.estimators.recommendation import kernels

    rng = np.random.default_rng(seed)
    # groups of 1-5 entries and rows from empty to hundreds of entries, so every row shape is met
    monkeypatch.setattr(kernels, "SPARSE_TOP_K_GROUP", int(rng.integers(1, 6)))
    n_rows, n_cols, k = int(rng.integers(1, 60)), int(rng.integers(40, 400)), int(rng.integers(1, 12))
    dense = np.where(rng.random((n_rows, n_cols)) < rng.uniform(0.01, 0.8), rng.integers(1, 5, (n_rows, n_cols)),
                     0).astype(np.float32) / 4  # few distinct values: ties at the k-th place
    dense[0] = 0.0
    idx, val = kernels.sparse_top_k(sp.csr_matrix(dense), k)
    ref_idx, ref_val = _reference_top_k(dense, k)
    assert np.array_equal(idx, ref_idx)
    assert np.array_equal(val, ref_val)


@pytest.mark.parametrize("normalization", ["conditional", "cosine", "lift", "bm25"])
def test_unpruned_seed_rows_rank_like_the_pruned_matrix(normalization):
    """The normalization comparison ranks its seeds' rows unpruned: the first k scores must not change
    (which of several products tied at the k-th score is listed may: pruning keeps ties in stored order)."""
    lines, products = _shop(seed=4, n_products=80, n_orders=900)
    model = ProductRecommender(normalization=normalization, max_neighbors=12, top_k=8).fit(
        lines, products, precompute=False)
    rows = np.arange(0, 80, 3)
    pruned = model.score_top_k(rows, "bought_together", 10)
    model.rebuild_cooccurrence(normalization, rows=rows, prune=False)
    assert np.diff(model.bought_together_.indptr).max() > 12  # the rows really are longer than the cap
    unpruned = model.score_top_k(rows, "bought_together", 10)
    np.testing.assert_allclose(pruned[1], unpruned[1], rtol=1e-6)
    above = pruned[1] > pruned[1][:, -1:] * (1 + 1e-6)  # strictly above the k-th score: no tie involved
    assert np.array_equal(pruned[0][above], unpruned[0][above])


def test_a_fit_without_cooccurrence_rebuilds_to_the_plain_fit():
    """Tuning fits without the normalized co-occurrence and rebuilds it: the matrix must equal a plain fit's."""
    from ml_predictions.errors import InvalidParameterError

    lines, products = _shop(seed=5)
    plain = ProductRecommender(normalization="lift", random_state=0).fit(lines, products, precompute=False)
    lazy = ProductRecommender(random_state=0).fit(lines, products, precompute=False, cooccurrence=False)
    assert lazy.bought_together_.nnz == 0
    lazy.rebuild_cooccurrence("lift")
    assert lazy.bought_together_.nnz > 0
    assert (lazy.bought_together_ != plain.bought_together_).nnz == 0
    with pytest.raises(InvalidParameterError):
        ProductRecommender().fit(lines, products, cooccurrence=False)


def test_a_final_fit_frees_its_raw_counts_and_still_rebuilds_the_same_matrix():
    """A fit with its lists frees the raw co-occurrence before pruning (peak memory); a rebuild recomputes it."""
    lines, products = _shop(seed=6)
    final = ProductRecommender(random_state=0).fit(lines, products)
    assert final.__dict__.get("_raw") is None and "_hth" not in final.__dict__
    tuning = ProductRecommender(random_state=0).fit(lines, products, precompute=False)
    assert tuning._raw is not None
    final.rebuild_cooccurrence("lift")
    tuning.rebuild_cooccurrence("lift")
    assert final.bought_together_.nnz > 0 and (final.bought_together_ != tuning.bought_together_).nnz == 0
