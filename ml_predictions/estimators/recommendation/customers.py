"""Per-customer lists: discovery (neighbours of recent products) and buy again (own repeat scores).

A mixin of ProductRecommender. Everything is sparse: the neighbour part is history x neighbour lists,
the popularity part a bounded candidate set, so no customers x products dense block is ever built.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from ml_predictions.estimators.recommendation.constants import BUY_AGAIN_FILL
from ml_predictions.estimators.recommendation.kernels import binary_matrix, left_out, prune_rows, sparse_top_k


class _LazyChunks:
    """The (repeat rows, repeat rows @ neighbours) pairs of each chunk of customers, built on first
    iteration and then kept: `customer_top_k` walks them once, the tuning re-blends them many times."""

    def __init__(self, repeat: sp.csr_matrix, neigh: sp.csr_matrix, step: int, keep: bool) -> None:
        self._repeat, self._neigh, self._step, self._keep, self._built = repeat, neigh, step, keep, None

    def __iter__(self) -> Iterator[tuple[sp.csr_matrix, sp.csr_matrix]]:
        if self._built is not None:
            yield from self._built
            return
        built = []
        for start in range(0, self._repeat.shape[0], self._step):
            R = self._repeat[start:start + self._step].astype(np.float32)
            pair = (R, (R @ self._neigh).tocsr())
            if self._keep:
                built.append(pair)
            yield pair
        if self._keep:
            self._built = built

    def __bool__(self) -> bool:
        return self._repeat.shape[0] > 0


@dataclass
class BuyAgainParts:
    """What `buy_again_top_k` re-blends: per chunk of customers the repeat rows and their neighbour
    product, plus the popularity candidates and the availability mask of the ranking."""

    chunks: _LazyChunks
    pop: np.ndarray
    pop_cand: np.ndarray
    in_pop: np.ndarray
    mask: np.ndarray


@dataclass
class DiscoveryParts:
    """What `customer_top_k_from_parts` re-blends: per chunk of customers the history rows and their
    scaled neighbour product, plus the popularity candidates and the availability mask."""

    chunks: list[tuple[sp.csr_matrix, sp.csr_matrix]]
    pop: np.ndarray
    pop_cand: np.ndarray
    in_pop: np.ndarray
    mask: np.ndarray


def _neighbour_part(weights: sp.csr_matrix, neigh: sp.csr_matrix) -> sp.csr_matrix:
    """Each customer's mean neighbour score: history (or repeat) rows x neighbour lists, over the row's weight."""
    size = np.maximum(np.asarray(weights.sum(axis=1)).ravel(), 1e-6).astype(np.float32)
    S = (weights @ neigh).tocsr()
    S.data = (S.data / np.repeat(size, np.diff(S.indptr))).astype(np.float32)
    return S


class CustomerListsMixin:
    def recommend_for_customer(self, customer_id: str, *, top_n: int = 10, include_purchased: bool = False,
                               with_filtered: bool = False) -> Any:
        """(index, score) pairs from the customer's recent products, popular items filling the rest.

        With `with_filtered`, returns (pairs, n): n = how many unavailable products the availability
        filter left out of the list (counted like `filtered_unavailable`).
        """
        self._check_fitted()
        c = self.customer_index_.get(customer_id)
        history = self.history_[c].indices if c is not None else np.empty(0, np.int32)
        filtered: list[np.ndarray] | None = [] if with_filtered else None
        repeat = getattr(self, "repeat_", None)
        repeat = repeat[[c]] if include_purchased and repeat is not None and c is not None else None
        idx, val = self.customer_top_k(history[None, :] if len(history) else np.empty((1, 0), np.int32),
                                       top_n, include_purchased=include_purchased, filtered=filtered,
                                       repeat=repeat)
        keep = idx[0] >= 0
        pairs = list(zip(idx[0][keep].tolist(), val[0][keep].tolist(), strict=True))
        if not with_filtered:
            return pairs
        return pairs, int(filtered[0][0]) if filtered else 0

    def customer_top_k(self, histories: list[np.ndarray] | np.ndarray | sp.csr_matrix, k: int, *,
                       include_purchased: bool = False, filtered: list[np.ndarray] | None = None,
                       repeat: sp.csr_matrix | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Batch version (offline evaluation): one row of product indices per customer history.

        Score of product j for a customer = mean over the history of the neighbour score (hybrid or
        bought-together lists, `customer_neighbours`), plus
        `customer_popularity_weight` x popularity(j). Computed sparsely: the neighbour part is a sparse
        product (history x neighbour lists, at most top_k entries per bought product), and a product
        outside it scores popularity alone, so only the `k + len(history)` most popular available
        products can enter the top k from there. Candidates = those two sets; a sort of one uint64 key
        per candidate gives every row's top k (no dense customers x products block, no per-row loop).
        With `filtered` (a list to fill), the number of unavailable products each list left out is
        appended (one int array per call), counted like `filtered_unavailable`.
        Buy again (`include_purchased` with `repeat`, the customers' rows of `repeat_scores`): the score
        is buy_again_weight x own repeat score + (1 - buy_again_weight) x (repeat scores @ the
        neighbours named by `buy_again_neighbours`: by default the customer-history cosine
        `repeat_neighbours_`) + buy_again_popularity_weight x
        popularity: a product bought often and lately comes first, then what customers with the same
        products went on to buy. (Artifacts from before `buy_again_neighbours` blend the repeat score
        with the discovery neighbours instead.)
        """
        self._check_fitted()
        n = len(self.product_ids_)
        if sp.issparse(histories):  # customers x products (the evaluation passes history_ rows)
            Hq = sp.csr_matrix(histories, dtype=np.float32, copy=True)  # never write into the caller's matrix
            Hq.data[:] = 1.0
        else:
            rows, cols = [], []
            for r, h in enumerate(histories):
                h = np.asarray(h, dtype=np.int64)
                rows.append(np.full(len(h), r))
                cols.append(h)
            Hq = binary_matrix(np.concatenate(rows) if rows else np.empty(0, np.int64),
                                np.concatenate(cols) if cols else np.empty(0, np.int64), (len(histories), n))
        n_c = Hq.shape[0]
        if n_c == 0:
            return np.empty((0, k), np.int32), np.empty((0, k), np.float32)
        # artifacts written before customer_neighbours existed used the hybrid lists
        mask = ~self.available_ if self.exclude_unavailable else np.zeros(n, bool)
        buying_again = include_purchased and repeat is not None
        with_excluded = filtered is not None and bool(mask.any())
        # artifacts from before buy_again_neighbours blend the repeat score into the discovery scores
        if buying_again and getattr(self, "buy_again_neighbours", None) is not None:
            parts = self._buy_again_parts(Hq, repeat, k, with_excluded, counting=filtered is not None)
            # one chunk's neighbour product at a time: the full list of parts is only for the tuning
            out = [self._rank_buy_again(parts, chunk, k, filtered) for chunk in parts.chunks]
            return np.vstack([o[0] for o in out]), np.vstack([o[1] for o in out])
        neigh = self._neighbour_matrix(getattr(self, "customer_neighbours", "hybrid"), with_excluded=with_excluded)
        pop, pop_cand, in_pop = self._popularity_candidates(Hq, k, mask, filtered is not None)
        out_i, out_v = [], []
        step = self._customer_chunk(Hq, k)
        for start in range(0, n_c, step):
            sub = Hq[start:start + step]
            # buy again: the neighbours of every product bought, weighted by its own repeat score
            weights = repeat[start:start + sub.shape[0]].astype(np.float32) if buying_again else sub
            S = self._blend_discovery(sub, _neighbour_part(weights, neigh), pop, pop_cand, in_pop)
            if buying_again:
                wr = np.float32(self.buy_again_weight)
                S = (np.float32(1.0 - wr) * S + wr * repeat[start:start + sub.shape[0]].astype(np.float32)).tocsr()
            if not include_purchased:
                S = S - S.multiply(sub)
            i, v = self._rank_available(S.tocsr(), k, mask, filtered)
            out_i.append(i)
            out_v.append(v)
        return np.vstack(out_i), np.vstack(out_v)

    def customer_parts(self, histories: sp.csr_matrix, k: int) -> DiscoveryParts:
        """The costly part of these customers' discovery lists under the current `customer_neighbours`:
        per chunk, history x neighbour lists scaled by the history length. It does not depend on
        `customer_popularity_weight`, so the tuning tries its 6 values on one sparse product per
        neighbour list (`customer_top_k_from_parts`) instead of one per grid point."""
        self._check_fitted()
        n = len(self.product_ids_)
        Hq = sp.csr_matrix(histories, dtype=np.float32, copy=True)
        Hq.data[:] = 1.0
        mask = ~self.available_ if self.exclude_unavailable else np.zeros(n, bool)
        neigh = self._neighbour_matrix(getattr(self, "customer_neighbours", "hybrid"))
        step = self._customer_chunk(Hq, k)
        chunks = [(sub, _neighbour_part(sub, neigh)) for sub in
                  (Hq[start:start + step] for start in range(0, Hq.shape[0], step))]
        return DiscoveryParts(chunks, *self._popularity_candidates(Hq, k, mask, False), mask)

    def customer_top_k_from_parts(self, parts: DiscoveryParts, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The lists of `customer_parts` under the current customer_popularity_weight: the same scores,
        bit for bit, as `customer_top_k(histories, k)` (which runs the same steps)."""
        if not parts.chunks:
            return np.empty((0, k), np.int32), np.empty((0, k), np.float32)
        out = []
        for sub, neighbour_part in parts.chunks:
            S = self._blend_discovery(sub, neighbour_part, parts.pop, parts.pop_cand, parts.in_pop)
            out.append(self._rank_available((S - S.multiply(sub)).tocsr(), k, parts.mask, None))
        return np.vstack([o[0] for o in out]), np.vstack([o[1] for o in out])

    def _blend_discovery(self, sub: sp.csr_matrix, neighbour_part: sp.csr_matrix, pop: np.ndarray,
                         pop_cand: np.ndarray, in_pop: np.ndarray) -> sp.csr_matrix:
        """The neighbour part plus customer_popularity_weight x popularity, the popular candidates
        included (`neighbour_part` is left unchanged: the tuning re-blends it)."""
        m, n = sub.shape[0], len(self.product_ids_)
        w_pop = np.float32(max(self.customer_popularity_weight, 1e-6))
        data = neighbour_part.data + w_pop * pop[neighbour_part.indices] * ~in_pop[neighbour_part.indices]
        S = sp.csr_matrix((data, neighbour_part.indices, neighbour_part.indptr), shape=neighbour_part.shape)
        P = sp.csr_matrix((np.tile(w_pop * pop[pop_cand], m), np.tile(pop_cand, m),
                           np.arange(m + 1) * len(pop_cand)), shape=(m, n))
        return (S + P).tocsr()

    def _customer_chunk(self, Hq: sp.csr_matrix, k: int) -> int:
        n_pop = int(k + np.diff(Hq.indptr).max(initial=0))
        return max(1, int(self.chunk_cells // max(k + n_pop + 2 * self.top_k, 1) // 8))

    def _popularity_candidates(self, Hq: sp.csr_matrix, k: int, mask: np.ndarray,
                               counting: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Enough of the most popular available products to survive the removal of any history (or of
        the neighbours already counted); with `counting`, the unavailable best-sellers compete too."""
        n = len(self.product_ids_)
        pop = self.popularity_.astype(np.float32)
        available_by_popularity = self.__dict__.get("_available_by_popularity")
        if available_by_popularity is None:  # cached: a single request must not sort the catalogue
            pop_order = np.lexsort((np.arange(n), -pop))
            available_by_popularity = self._available_by_popularity = pop_order[~mask[pop_order]]
        n_pop = int(k + np.diff(Hq.indptr).max(initial=0))
        pop_cand = available_by_popularity[:n_pop]
        if counting and mask.any():
            pop_order = np.lexsort((np.arange(n), -pop))
            pop_cand = np.concatenate([pop_cand, pop_order[mask[pop_order]][:k]])
        in_pop = np.zeros(n, bool)
        in_pop[pop_cand] = True
        return pop, pop_cand, in_pop

    def buy_again_parts(self, histories: sp.csr_matrix, repeat: sp.csr_matrix, k: int) -> BuyAgainParts:
        """The costly part of the buy-again lists of these customers (sparse history rows and their
        `repeat_scores` rows): the repeat rows and their product with the `buy_again_neighbours` lists.

        Depends only on the neighbour source and the half-life behind `repeat`; `buy_again_top_k`
        then re-blends it under the current buy_again_weight / buy_again_popularity_weight, so the
        tuning pays for one sparse product per (source, half-life) instead of one per grid point.
        """
        self._check_fitted()
        Hq = sp.csr_matrix(histories, dtype=np.float32, copy=True)
        Hq.data[:] = 1.0
        return self._buy_again_parts(Hq, repeat, k, False, counting=False, keep=True)

    def buy_again_top_k(self, parts: BuyAgainParts, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The lists of `buy_again_parts` under the current weights: the same scores, bit for bit, as
        `customer_top_k(..., include_purchased=True, repeat=...)` (which runs the same two steps)."""
        if not parts.chunks:
            return np.empty((0, k), np.int32), np.empty((0, k), np.float32)
        out = [self._rank_buy_again(parts, chunk, k, None) for chunk in parts.chunks]
        return np.vstack([o[0] for o in out]), np.vstack([o[1] for o in out])

    def _buy_again_parts(self, Hq: sp.csr_matrix, repeat: sp.csr_matrix, k: int, with_excluded: bool, *,
                         counting: bool, keep: bool = False) -> BuyAgainParts:
        n = len(self.product_ids_)
        mask = ~self.available_ if self.exclude_unavailable else np.zeros(n, bool)
        source = self.buy_again_neighbours
        if source == "history":
            if getattr(self, "repeat_neighbours_", None) is None:
                self.repeat_neighbours_ = self._repeat_neighbours(self.history_)
            neigh = self.repeat_neighbours_  # holds unavailable products too: removed when ranking
        else:
            neigh = self._neighbour_matrix(source, with_excluded=with_excluded)
        pop, pop_cand, in_pop = self._popularity_candidates(Hq, k, mask, counting)
        step = self._customer_chunk(Hq, k)
        return BuyAgainParts(_LazyChunks(repeat, neigh, step, keep), pop, pop_cand, in_pop, mask)

    def _rank_buy_again(self, parts: BuyAgainParts, chunk: tuple[sp.csr_matrix, sp.csr_matrix], k: int,
                        filtered: list[np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
        """Own repeat score and its neighbours blended by `buy_again_weight`, plus
        `buy_again_popularity_weight` x popularity; with that weight at 0 the popular candidates still
        enter, far below any history-based score, so they only fill short lists."""
        R, RN = chunk
        pop, pop_cand, in_pop = parts.pop, parts.pop_cand, parts.in_pop
        m, n = R.shape
        wr = np.float32(self.buy_again_weight)
        wp = np.float32(getattr(self, "buy_again_popularity_weight", 0.0))
        S = (np.float32(1.0 - wr) * RN + wr * R).tocsr()
        if wp > 0:
            S.data += wp * pop[S.indices] * ~in_pop[S.indices]
        fill = (wp + np.float32(BUY_AGAIN_FILL)) * pop[pop_cand]
        P = sp.csr_matrix((np.tile(fill, m), np.tile(pop_cand, m), np.arange(m + 1) * len(pop_cand)),
                          shape=(m, n))
        return self._rank_available((S + P).tocsr(), k, parts.mask, filtered)

    @staticmethod
    def _rank_available(S: sp.csr_matrix, k: int, mask: np.ndarray,
                        filtered: list[np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
        """Row-wise top k of S without the unavailable products (`mask`); with `filtered`, appends how
        many of those would have ranked within the k (the response's `filtered_unavailable`)."""
        excluded = mask[S.indices]
        if filtered is not None:
            U = S.copy()
            U.data[~excluded] = 0.0
            U.eliminate_zeros()
            left = sparse_top_k(U, k)[1]
        S.data[excluded] = 0.0
        S.eliminate_zeros()
        i, v = sparse_top_k(S, k)
        if filtered is not None:
            filtered.append(np.array([left_out(v[r][i[r] >= 0], left[r], k) for r in range(S.shape[0])],
                                     np.int64))
        return i, v

    def _neighbour_matrix(self, method: str, with_excluded: bool = False) -> sp.csr_matrix:
        """Neighbour lists as a sparse products x products matrix; `with_excluded` adds the unavailable
        neighbours the lists left out (only to count them: the caller removes them again)."""
        cache = self.__dict__.setdefault("_neighbour_cache", {})
        key = (method, "with_excluded") if with_excluded else method
        if key in cache:
            return cache[key]
        n = len(self.product_ids_)
        if with_excluded:
            m = self._neighbour_matrix(method)
            if method in getattr(self, "excluded_topk_", {}):
                idx, val = self.excluded_topk_[method]
                r = np.repeat(np.arange(n), idx.shape[1])
                keep = idx.ravel() >= 0
                m = m.maximum(sp.csr_matrix((val.ravel()[keep], (r[keep], idx.ravel()[keep])), shape=(n, n)))
            elif method == "bought_together" and self.exclude_unavailable:
                top = self.bought_together_.max(axis=1).toarray().ravel()
                full = self.bought_together_.tocsr(copy=True)
                full.data = (full.data / np.repeat(np.where(top > 0, top, 1), np.diff(full.indptr))).astype(np.float32)
                m = m.maximum(prune_rows(full, self.top_k).astype(np.float32))
            cache[key] = m = m.tocsr()
            return m
        if method in self.topk_:
            idx, val = self.topk_[method]
        elif method == "bought_together":
            # same lists as score_top_k (rows scaled by their maximum, unavailable removed), sparsely
            m = self.bought_together_.tocsr(copy=True)
            top = m.max(axis=1).toarray().ravel()
            m.data = (m.data / np.repeat(np.where(top > 0, top, 1), np.diff(m.indptr))).astype(np.float32)
            if self.exclude_unavailable:
                m.data[~self.available_[m.indices]] = 0.0
            m.eliminate_zeros()
            m = prune_rows(m, self.top_k).astype(np.float32)
            cache[method] = m
            return m
        else:
            idx, val = self.score_top_k(np.arange(n), method, self.top_k,
                                        exclude=~self.available_ if self.exclude_unavailable else None)
        r = np.repeat(np.arange(n), idx.shape[1])
        keep = idx.ravel() >= 0
        m = sp.csr_matrix((val.ravel()[keep], (r[keep], idx.ravel()[keep])), shape=(n, n))
        cache[method] = m
        return m
