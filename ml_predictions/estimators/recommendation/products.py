"""Per-product lists: the precomputed lookups, the on-the-fly row, the cold-start chain, and how many
unavailable products the availability filter left out of each list.

A mixin of ProductRecommender.
"""
from __future__ import annotations

import numpy as np

from ml_predictions.errors import InvalidParameterError
from ml_predictions.estimators.recommendation.constants import METHODS
from ml_predictions.estimators.recommendation.kernels import left_out


class ProductListsMixin:
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

