"""Offline evaluation on a time-based holdout: splits, queries, ranking metrics, baselines.

Every training judges its lists with this one module (basket completion for the item lists,
discovery and buy again for the customer lists) beside the baselines a user would try first:
popularity and the customer's own most-bought products.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ml_predictions.errors import InsufficientDataError
from ml_predictions.estimators.recommendation.constants import EVALUATION_QUERIES, METHODS
from ml_predictions.estimators.recommendation.kernels import binary_matrix, contains, map_ids, sparse_top_k
from ml_predictions.estimators.recommendation.recommender import ProductRecommender


def encode_lines(order_lines: pd.DataFrame) -> pd.DataFrame:
    """The order lines with their string ids as pandas categoricals (built once per training).

    A training factorizes / groups the same 1M string ids a dozen times (three fits, two time splits,
    the evaluation's query building); on categoricals each of those works on integer codes instead of
    hashing the strings again. The values are unchanged, so every result is the same.
    """
    out = order_lines.copy(deep=False)
    for col in ("order_id", "customer_id", "product_id"):
        if col in out.columns and not isinstance(out[col].dtype, pd.CategoricalDtype):
            codes, uniques = pd.factorize(out[col])
            out[col] = pd.Categorical.from_codes(codes, categories=pd.Index(uniques))
    return out


def time_split(order_lines: pd.DataFrame, test_fraction: float) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    """The last `test_fraction` of orders (by order time) are held out; no order is split in two."""
    first = order_lines.groupby("order_id", sort=False, observed=True)["ordered_at"].min().sort_values(kind="stable")
    if len(first) < 2:
        raise InsufficientDataError(f"A time split needs at least 2 orders; found {len(first)}.")
    cut_pos = int(round(len(first) * (1 - test_fraction)))
    cut_pos = min(max(cut_pos, 1), len(first) - 1)
    cutoff = first.iloc[cut_pos]
    is_test = order_lines["order_id"].map(first >= cutoff).to_numpy(dtype=bool)
    return order_lines[~is_test], order_lines[is_test], cutoff


@dataclass
class BasketQueries:
    """One query per held-out basket: a seed product and the rest of the basket as targets."""

    seeds: np.ndarray  # product index per query
    targets: sp.csr_matrix  # queries x products, binary
    held_out: int = 0  # eligible baskets before sampling (the sample is at most max_queries of them)

    def __len__(self) -> int:
        return len(self.seeds)


def basket_queries(test_lines: pd.DataFrame, product_index: dict[str, int], n_products: int, *,
                   max_basket_size: int = 50, max_queries: int | None = None,
                   random_state: int | None = None) -> BasketQueries:
    """Basket completion: a random product of each held-out basket is shown, the others must be found."""
    rng = np.random.default_rng(random_state)
    p = map_ids(test_lines["product_id"], product_index)
    frame = pd.DataFrame({"o": test_lines["order_id"].to_numpy(), "p": p})
    frame = frame[frame["p"] >= 0].drop_duplicates()
    o_codes, _ = pd.factorize(frame["o"])
    if not len(o_codes):
        return BasketQueries(np.empty(0, np.int64), sp.csr_matrix((0, n_products), dtype=np.float32))
    M = binary_matrix(o_codes, frame["p"].to_numpy(), (int(o_codes.max()) + 1, n_products))
    sizes = np.diff(M.indptr)
    M = M[(sizes >= 2) & (sizes <= max_basket_size)]
    held_out = M.shape[0]
    if max_queries is not None and M.shape[0] > max_queries:
        M = M[sample_rows(M.shape[0], max_queries, rng)]
    sizes = np.diff(M.indptr)
    pick = M.indptr[:-1] + (rng.random(len(sizes)) * sizes).astype(np.int64)
    seeds = M.indices[pick].astype(np.int64)
    # the targets are the basket minus its seed: drop that one stored entry of each row
    keep = np.ones(M.nnz, bool)
    keep[pick] = False
    indptr = np.concatenate([[0], np.cumsum(sizes - 1)]).astype(M.indptr.dtype)
    targets = sp.csr_matrix((M.data[keep], M.indices[keep], indptr), shape=M.shape)
    return BasketQueries(seeds, targets, held_out)


def sample_rows(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """A seeded sample of `size` of `n` query rows, sorted (one vectorised draw, so a given seed and
    query set always give the same sample)."""
    return np.sort(rng.choice(n, size, replace=False))


def ranking_metrics(recs: np.ndarray, targets: sp.spmatrix, n_catalogue: int, k: int = 10) -> dict[str, float]:
    """precision@k, recall@k, NDCG@k (binary relevance) and catalogue coverage of a recommendation matrix.

    `recs` is queries x >=k product indices, -1 meaning "no recommendation" (counted as a miss).
    """
    recs = np.asarray(recs, dtype=np.int64)
    recs = recs.reshape(len(recs), -1)[:, :k] if recs.size else np.full((len(recs), k), -1, np.int64)
    n_q, width = recs.shape
    if n_q == 0:
        return {"precision_at_10": 0.0, "recall_at_10": 0.0, "ndcg_at_10": 0.0, "coverage": 0.0, "queries": 0}
    rows = np.repeat(np.arange(n_q), width)
    cols = recs.ravel()
    valid = cols >= 0
    hit = np.zeros(len(cols), bool)
    hit[valid] = contains(targets, rows[valid], cols[valid])
    hit = hit.reshape(n_q, width)
    n_rel = np.diff(sp.csr_matrix(targets > 0).indptr)
    hits = hit.sum(axis=1)
    discounts = 1.0 / np.log2(np.arange(2, width + 2))
    dcg = (hit * discounts).sum(axis=1)
    ideal = np.concatenate([[0.0], np.cumsum(discounts)])[np.minimum(n_rel, width)]
    ok = n_rel > 0
    return {
        "precision_at_10": round(float((hits[ok] / k).mean()) if ok.any() else 0.0, 4),
        "recall_at_10": round(float((hits[ok] / n_rel[ok]).mean()) if ok.any() else 0.0, 4),
        "ndcg_at_10": round(float((dcg[ok] / np.maximum(ideal[ok], 1e-12)).mean()) if ok.any() else 0.0, 4),
        "coverage": round(float(len(np.unique(cols[valid])) / max(n_catalogue, 1)), 4),
        "queries": int(ok.sum()),
    }


def popularity_recs(popularity: np.ndarray, seeds: np.ndarray, k: int,
                    exclude: np.ndarray | None = None) -> np.ndarray:
    """The baseline: the k most popular products (by training popularity), minus the seed itself."""
    pop = np.asarray(popularity, dtype=float).copy()
    seeds = np.asarray(seeds, dtype=np.int64)
    if not len(seeds):
        return np.full((0, k), -1, np.int64)
    if exclude is not None:
        pop[exclude] = -np.inf
    order = np.argsort(-pop, kind="stable")[: k + 1]
    recs = np.tile(order, (len(seeds), 1))
    is_seed = recs == np.asarray(seeds)[:, None]
    # drop the seed where present, otherwise the (k+1)-th
    keep = ~is_seed
    keep[~is_seed.any(axis=1), -1] = False
    out = recs[keep].reshape(len(seeds), -1)[:, :k]
    out = np.where(np.isfinite(pop[out]), out, -1)  # excluded (unavailable) products are not offered
    if out.shape[1] < k:  # a catalogue smaller than k + 1
        out = np.hstack([out, np.full((len(seeds), k - out.shape[1]), -1, out.dtype)])
    return out


def evaluate_model(model: ProductRecommender, test_lines: pd.DataFrame, *, k: int = 10,
                   max_queries: int | None = EVALUATION_QUERIES, random_state: int | None = None) -> dict[str, Any]:
    """Basket completion figures of every method and of popularity, plus per-customer figures."""
    n = len(model.product_ids_)
    q = basket_queries(test_lines, model.product_index_, n, max_basket_size=model.max_basket_size,
                       max_queries=max_queries, random_state=random_state)
    exclude = ~model.available_ if model.exclude_unavailable else None
    result: dict[str, Any] = {"item": {}, "customer": {}}
    uniq, inv = np.unique(q.seeds, return_inverse=True)
    precomputed = getattr(model, "topk_", {})
    if all(m in precomputed and precomputed[m][0].shape[1] >= k for m in METHODS):
        # a model fitted with its lists (same exclusions): the first k of each list are the top k, and the
        # customer lists below reuse them, so no method is scored twice
        tops = {m: (precomputed[m][0][uniq, :k], precomputed[m][1][uniq, :k]) for m in METHODS}
    else:
        tops = model.score_top_k_many(uniq, METHODS, k, exclude=exclude)
    for method in METHODS:
        idx = tops[method][0]
        result["item"][method] = ranking_metrics(idx[inv] if len(q) else idx, q.targets, n, k)
    result["item"]["popularity"] = ranking_metrics(popularity_recs(model.popularity_, q.seeds, k, exclude),
                                                   q.targets, n, k)
    counts: dict[str, int] = {}
    targets = customer_targets(model, test_lines, max_queries=max_queries, random_state=random_state,
                               new_only=False, counts=counts)
    result["customer"] = evaluate_customers(model, test_lines, k=k, targets=_new_only(targets))
    result["buy_again"] = evaluate_buy_again(model, test_lines, k=k, targets=targets)
    # how many queries each figure stands on (each figure's own "queries" counts those with a target)
    result["sample"] = {"max_queries": max_queries, "baskets_held_out": q.held_out, "baskets": len(q),
                        "customers_held_out": counts.get("held_out", 0), "customers": counts.get("sampled", 0)}
    return result


def _new_only(targets: tuple[np.ndarray, sp.csr_matrix, sp.csr_matrix] | None,
              ) -> tuple[np.ndarray, sp.csr_matrix, sp.csr_matrix] | None:
    """Discovery queries from the buy-again ones (the same sampled customers): only new products count."""
    if targets is None:
        return None
    cust, T, Hc = targets
    T = (T - T.multiply(Hc)).tocsr()
    T.eliminate_zeros()
    return cust, T, Hc


def customer_targets(model: ProductRecommender, test_lines: pd.DataFrame, *,
                     max_queries: int | None = EVALUATION_QUERIES, random_state: int | None = None,
                     new_only: bool = True, counts: dict[str, int] | None = None,
                     ) -> tuple[np.ndarray, sp.csr_matrix, sp.csr_matrix] | None:
    """The per-customer queries: sampled known customers, their held-out products, their histories.

    `new_only` (discovery): only products new to the customer count; otherwise (buy again) every
    product the customer bought in the holdout. Built once per split so the tuning grid does not
    re-map 100k lines of string ids each time. `counts` (a dict to fill) receives how many known
    customers ordered in the holdout ("held_out") and how many were sampled ("sampled").
    """
    n = len(model.product_ids_)
    frame = pd.DataFrame({
        "c": map_ids(test_lines["customer_id"], model.customer_index_),
        "p": map_ids(test_lines["product_id"], model.product_index_),
    })
    frame = frame[(frame["c"] >= 0) & (frame["p"] >= 0)].drop_duplicates()
    if frame.empty:
        return None
    c = frame["c"].to_numpy()
    cust = np.unique(c)
    if counts is not None:
        counts["held_out"] = len(cust)
    if max_queries is not None and len(cust) > max_queries:
        cust = cust[sample_rows(len(cust), max_queries, np.random.default_rng(random_state))]
    if counts is not None:
        counts["sampled"] = len(cust)
    row = np.searchsorted(cust, c)  # cust is sorted: a line's query row, if its customer was sampled
    sampled = cust[np.minimum(row, len(cust) - 1)] == c
    T = binary_matrix(row[sampled], frame["p"].to_numpy()[sampled], (len(cust), n))
    Hc = model.history_[cust]
    return _new_only((cust, T, Hc)) if new_only else (cust, T, Hc)


def evaluate_customers(model: ProductRecommender, test_lines: pd.DataFrame, *, k: int = 10,
                       max_queries: int | None = EVALUATION_QUERIES, random_state: int | None = None,
                       targets: tuple[np.ndarray, sp.csr_matrix, sp.csr_matrix] | None = None) -> dict[str, Any]:
    """Known customers: recommend from their training history; targets = products new to them in the holdout."""
    n = len(model.product_ids_)
    if targets is None:
        targets = customer_targets(model, test_lines, max_queries=max_queries, random_state=random_state)
    if targets is None:
        return {"hybrid": ranking_metrics(np.empty((0, k)), sp.csr_matrix((0, n)), n, k),
                "popularity": ranking_metrics(np.empty((0, k)), sp.csr_matrix((0, n)), n, k)}
    cust, T, Hc = targets
    idx, _ = model.customer_top_k(Hc, k)
    out = {"hybrid": ranking_metrics(idx, T, n, k)}
    # popularity baseline with the same rule (already bought products skipped)
    pop = model.popularity_.astype(float).copy()
    if model.exclude_unavailable:
        pop[~model.available_] = -np.inf
    order = np.argsort(-pop, kind="stable")
    order = order[np.isfinite(pop[order])][: k + 50]  # unavailable products are never offered
    cand = np.tile(order, (len(cust), 1))
    bought = contains(Hc, np.repeat(np.arange(len(cust)), cand.shape[1]), cand.ravel()).reshape(cand.shape)
    ranks = np.where(bought, np.inf, np.arange(cand.shape[1])[None, :])
    sel = np.argsort(ranks, axis=1, kind="stable")[:, :k]
    recs = np.where(np.take_along_axis(bought, sel, axis=1), -1, np.take_along_axis(cand, sel, axis=1))
    out["popularity"] = ranking_metrics(recs, T, n, k)
    return out


def _available_top_k(model: ProductRecommender, scores: sp.csr_matrix, k: int) -> np.ndarray:
    """Row-wise top-k indices of a sparse score matrix with the model's availability rule applied."""
    scores = scores.tocsr(copy=True)
    if model.exclude_unavailable:
        scores.data[~model.available_[scores.indices]] = 0.0
        scores.eliminate_zeros()
    return sparse_top_k(scores, k)[0]


def evaluate_buy_again(model: ProductRecommender, test_lines: pd.DataFrame, *, k: int = 10,
                       max_queries: int | None = EVALUATION_QUERIES, random_state: int | None = None,
                       targets: tuple[np.ndarray, sp.csr_matrix, sp.csr_matrix] | None = None,
                       baselines: bool = True) -> dict[str, Any]:
    """Buy again (include_purchased=true) on the customers who ordered in the holdout: targets are every
    product they bought there. Beside the model: the customer's own 10 most-bought products (the
    baseline a buy-again list must beat) and the best-sellers, with the same availability rule."""
    n = len(model.product_ids_)
    if targets is None:
        targets = customer_targets(model, test_lines, max_queries=max_queries, random_state=random_state,
                                   new_only=False)
    empty = ranking_metrics(np.empty((0, k)), sp.csr_matrix((0, n)), n, k)
    if targets is None:
        return {"buy_again": empty, "own_top10": empty, "popularity": empty} if baselines else {"buy_again": empty}
    cust, T, Hc = targets
    idx, _ = model.customer_top_k(Hc, k, include_purchased=True, repeat=model.repeat_[cust])
    out = {"buy_again": ranking_metrics(idx, T, n, k)}
    if baselines:
        out["own_top10"] = ranking_metrics(_available_top_k(model, model.repeat_scores(None, rows=cust), k), T, n, k)
        pop = model.popularity_.astype(float).copy()
        if model.exclude_unavailable:
            pop[~model.available_] = -np.inf
        order = np.argsort(-pop, kind="stable")
        order = order[np.isfinite(pop[order]) & (pop[order] > 0)][:k]
        out["popularity"] = ranking_metrics(np.tile(order, (len(cust), 1)), T, n, k)
    return out
