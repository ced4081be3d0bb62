"""Per-product lists: the scoring of product rows against every product (dense blocks, top k), the
precomputed lookups, the on-the-fly row, the cold-start chain, and how many unavailable products the
availability filter left out of each list.

A mixin of ProductRecommender.
"""
from __future__ import annotations

import numpy as np

from ml_predictions.errors import InvalidParameterError
from ml_predictions.estimators.recommendation.constants import METHODS
from ml_predictions.estimators.recommendation.kernels import left_out, sparse_row_top_k, top_k_dense


class ProductListsMixin:
    def score_blocks(self, rows: np.ndarray, methods: tuple[str, ...]) -> dict[str, np.ndarray]:
        """Dense scores of `rows` against every product for each method, each in [0, 1].

        bought-together and content are computed once and shared by the hybrid. The content product is
        sparse(n x d) @ dense(d x rows): a dense result from a sparse left operand stays in C loops,
        whereas sparse @ sparse would build a nearly dense *sparse* matrix (shared words, categories).
        """
        for method in methods:
            if method not in METHODS:
                raise InvalidParameterError(f"method must be one of {METHODS}; got {method!r}", field="method")
        wc = self.content_weight
        out: dict[str, np.ndarray] = {}
        # bought-together is always computed: the hybrid needs it to spot cold-start rows
        bt = self.bought_together_[rows].toarray()
        top = bt.max(axis=1, keepdims=True)
        np.divide(bt, top, out=bt, where=top > 0)
        cold = (top <= 0).ravel()
        bt[cold] = 0.0
        ct = None
        need_ct = "similar" in methods or ("hybrid" in methods and (wc > 0 or cold.any()))
        if need_ct:
            ct = self.content_scores(rows)
        if "hybrid" in methods:
            out["hybrid"] = self.blend(bt, cold, ct)
        if "bought_together" in methods:
            out["bought_together"] = bt
        if "similar" in methods:
            out["similar"] = ct
        return out

    def score_top_k_many(self, rows: np.ndarray, methods: tuple[str, ...], k: int,
                         exclude: np.ndarray | None = None,
                         excluded_scores: dict[str, np.ndarray] | None = None,
                         ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Top-k (indices, scores) per method for each product row; self and `exclude` (mask) left out.

        With `excluded_scores` (a dict to fill), the k best (indices, scores) among the excluded products
        are kept too, so a request can say how many products the filter left out of its list.
        """
        self._check_fitted()
        rows = np.asarray(rows, dtype=np.int64)
        n = len(self.product_ids_)
        chunk = max(1, int(self.chunk_cells // max(n, 1)))
        parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {m: [] for m in methods}
        left: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {m: [] for m in methods}
        excluded_cols = np.flatnonzero(exclude) if exclude is not None and excluded_scores is not None else None
        # bought-together alone needs no dense block: its rows are sparse, and ranking them sparsely
        # gives the same lists as the dense path (one argpartition fewer per chunk)
        dense_methods = tuple(m for m in methods if m != "bought_together")
        if "bought_together" in methods:
            parts["bought_together"], left["bought_together"] = sparse_row_top_k(
                self.bought_together_, rows, k, exclude, with_excluded=excluded_cols is not None)
        for start in range(0, len(rows), chunk):
            sub = rows[start:start + chunk]
            if not dense_methods:
                break
            for method, scores in self.score_blocks(sub, dense_methods).items():
                scores[np.arange(len(sub)), sub] = 0.0
                if excluded_cols is not None:
                    li, lv = top_k_dense(scores[:, excluded_cols], k)
                    left[method].append((np.where(li >= 0, excluded_cols[np.maximum(li, 0)], -1).astype(np.int32), lv))
                if exclude is not None:
                    scores[:, exclude] = 0.0
                parts[method].append(top_k_dense(scores, k))
        if excluded_cols is not None:
            for method in methods:
                parts_left = left[method] or [(np.zeros((0, k), np.int32), np.zeros((0, k), np.float32))]
                excluded_scores[method] = (np.vstack([p[0] for p in parts_left]), np.vstack([p[1] for p in parts_left]))
        empty = (np.empty((0, k), np.int32), np.empty((0, k), np.float32))
        return {m: (np.vstack([p[0] for p in parts[m]]), np.vstack([p[1] for p in parts[m]])) if parts[m] else empty
                for m in methods}

    def score_top_k(self, rows: np.ndarray, method: str, k: int,
                    exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (indices, scores) of one method for each product row."""
        return self.score_top_k_many(rows, (method,), k, exclude)[method]

    def recommend_for_product(self, product_id: str, *, top_n: int = 10, method: str = "hybrid",
                              include_unavailable: bool = False) -> list[tuple[int, float]]:
        """(product index, score) pairs; a lookup in the precomputed lists unless unavailable are asked.

        `filtered_unavailable(product_id, pairs, ...)` then says how many products the filter left out.
        """
        self._check_fitted()
        if method not in METHODS:
            raise InvalidParameterError(f"method must be one of {METHODS}; got {method!r}", field="method")
        i = self.product_index_[product_id]
        # The precomputed lists already follow exclude_unavailable; only a request that asks for
        # unavailable products from a model that filtered them (or more than top_k) is computed here.
        on_the_fly = (include_unavailable and self.exclude_unavailable) or top_n > self.top_k \
            or method not in self.topk_
        if not on_the_fly:
            idx, val = self.topk_[method][0][i], self.topk_[method][1][i]
        else:
            mask = ~self.available_ if self.exclude_unavailable and not include_unavailable else None
            idx, val = self.score_top_k(np.array([i]), method, top_n, exclude=mask)
            idx, val = idx[0], val[0]
        keep = idx >= 0
        return list(zip(idx[keep][:top_n].tolist(), val[keep][:top_n].tolist(), strict=True))

    def filtered_unavailable(self, product_id: str, pairs: list[tuple[int, float]], *, top_n: int,
                             method: str = "hybrid") -> int:
        """How many unavailable products the unfiltered list of `top_n` would have shown.

        The precomputed lists keep the best scores the filter left out (`excluded_topk_`); merging them
        with the shown scores gives each left-out product's rank in the unfiltered list.
        """
        self._check_fitted()
        left = getattr(self, "excluded_topk_", {}).get(method)
        if left is None:
            return 0
        return left_out([v for _, v in pairs], left[1][self.product_index_[product_id]], top_n)

    def popular_filtered_unavailable(self, category: str | None, pairs: list[tuple[int, float]], *,
                                     top_n: int, exclude_ids: set[str] | None = None) -> int:
        """The same count for a best-sellers list (cold start): unavailable products more popular."""
        self._check_fitted()
        if not self.exclude_unavailable:
            return 0
        out = ~self.available_
        code = self.category_index_.get(category) if category is not None else None
        if code is not None and len(self.popular_by_category_.get(code, ())) >= top_n:
            out = out & (self.category_codes_ == code)
        for pid in exclude_ids or ():
            if pid in self.product_index_:
                out[self.product_index_[pid]] = False
        return left_out([v for _, v in pairs], self.popularity_[out], top_n)

    def popular_in_category(self, category: str | None, *, top_n: int = 10,
                            exclude_ids: set[str] | None = None) -> list[tuple[int, float]]:
        """Cold start for a product the model has never seen: its category's best-sellers, else overall."""
        self._check_fitted()
        code = self.category_index_.get(category) if category is not None else None
        pool = self.popular_by_category_.get(code, np.empty(0, np.int32)) if code is not None else np.empty(0, np.int32)
        excl = {self.product_index_[x] for x in (exclude_ids or set()) if x in self.product_index_}
        chosen: list[int] = [int(p) for p in pool if int(p) not in excl][:top_n]
        if len(chosen) < top_n:
            seen = set(chosen) | excl
            chosen += [int(p) for p in self.popular_ if int(p) not in seen][: top_n - len(chosen)]
        return [(p, float(self.popularity_[p])) for p in chosen]

