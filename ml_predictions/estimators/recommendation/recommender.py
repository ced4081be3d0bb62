"""Product recommendations: sparse bought-together, content-based similar, a hybrid blend, per customer.

Why it is built this way (the spec's reference keeps a dense products x products matrix, which dies at 100k products):
- Every products x products object is a scipy.sparse matrix. The only dense arrays are *chunks* of
  `rows x n_products` scores while the top-N lists are precomputed, sized so one chunk stays near
  `chunk_cells` floats; memory therefore grows linearly with the catalogue, never with its square.
- bought_together counts co-occurrence inside the same order (baskets) and, with a smaller weight,
  inside one customer's history (the last `max_history_items` distinct products). Orders with more than
  `max_basket_size` distinct products are dropped: wholesale-like baskets add n^2 pairs of noise and
  blow up the co-occurrence (the classic association-mining failure).
- The normalization of the co-occurrence counts (conditional / cosine / lift / bm25) is a parameter;
  `tune_and_evaluate` picks it, and the hybrid weights, on a validation split carved from the *training*
  period, then reports all methods on a later, untouched time-based holdout.
- Requests are lookups: the top-`top_k` neighbours of every product and method are precomputed at fit
  time, with inactive / out-of-stock products already removed (the default). Only the rare request that
  asks to include unavailable products computes its one row on the fly (still sparse, a few ms).
- Cold start: a product without purchases has an empty bought-together row, so the hybrid falls back to
  its content neighbours; a product unknown to the model gets the popular items of its category
  (`popular_in_category`), then the popular items overall.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.utils.validation import check_is_fitted

from ml_predictions.errors import InsufficientDataError, InvalidParameterError, NotFittedError
from ml_predictions.estimators.recommendation.constants import (
    BUY_AGAIN_NEIGHBOURS,
    CUSTOMER_NEIGHBOURS,
    METHODS,
    NORMALIZATIONS,
)
from ml_predictions.estimators.recommendation.customers import CustomerListsMixin
from ml_predictions.estimators.recommendation.features import FeaturesMixin
from ml_predictions.estimators.recommendation.kernels import (
    binary_matrix,
    epoch_seconds,
    map_ids,
    prune_rows,
)
from ml_predictions.estimators.recommendation.products import ProductListsMixin

__all__ = ["ProductRecommender", "METHODS", "NORMALIZATIONS", "CUSTOMER_NEIGHBOURS"]


class ProductRecommender(FeaturesMixin, ProductListsMixin, CustomerListsMixin, BaseEstimator):
    """Item-to-item and per-customer recommendations over a product catalogue.

    fit(order_lines, products): order_lines has order_id, customer_id, product_id, ordered_at;
    products has id, name, description, category, price, stock, active (image_url optional).
    """

    def __init__(
        self,
        *,
        normalization: str = "cosine",
        customer_weight: float = 0.25,
        bought_together_weight: float = 1.0,
        content_weight: float = 0.2,
        popularity_weight: float = 0.05,
        customer_popularity_weight: float = 0.001,
        customer_neighbours: str = "hybrid",
        category_weight: float = 1.0,
        price_weight: float = 0.5,
        text_weight: float = 1.0,
        price_bands: int = 5,
        max_text_features: int = 5000,
        max_basket_size: int = 50,
        max_history_items: int = 50,
        max_neighbors: int = 200,
        top_k: int = 50,
        popularity_half_life_days: float = 90.0,
        buy_again_weight: float = 0.5,
        buy_again_popularity_weight: float = 0.1,
        buy_again_neighbours: str = "history",
        repeat_half_life_days: float = 90.0,
        exclude_unavailable: bool = True,
        bm25_k1: float = 1.2,
        bm25_b: float = 0.75,
        chunk_cells: int = 8_000_000,
        random_state: int | None = None,
    ) -> None:
        self.normalization = normalization
        self.customer_weight = customer_weight
        self.bought_together_weight = bought_together_weight
        self.content_weight = content_weight
        self.popularity_weight = popularity_weight
        self.customer_popularity_weight = customer_popularity_weight
        self.customer_neighbours = customer_neighbours
        self.category_weight = category_weight
        self.price_weight = price_weight
        self.text_weight = text_weight
        self.price_bands = price_bands
        self.max_text_features = max_text_features
        self.max_basket_size = max_basket_size
        self.max_history_items = max_history_items
        self.max_neighbors = max_neighbors
        self.top_k = top_k
        self.popularity_half_life_days = popularity_half_life_days
        self.buy_again_weight = buy_again_weight
        self.buy_again_popularity_weight = buy_again_popularity_weight
        self.buy_again_neighbours = buy_again_neighbours
        self.repeat_half_life_days = repeat_half_life_days
        self.exclude_unavailable = exclude_unavailable
        self.bm25_k1 = bm25_k1
        self.bm25_b = bm25_b
        self.chunk_cells = chunk_cells
        self.random_state = random_state

    def set_params(self, **params: Any) -> ProductRecommender:
        """scikit-learn's set_params, plus: caches that depend on a changed parameter are dropped."""
        known = self.get_params(deep=False)
        for key in params:
            if key not in known:
                raise InvalidParameterError(f"unknown parameter {key!r}", field=key)
        super().set_params(**params)
        # scoring parameters changed: cached neighbour matrices are stale (precomputed topk_ lists
        # only change with a new fit, which is why tuning fits with precompute=False)
        if set(params) - {"customer_popularity_weight", "customer_neighbours", "buy_again_weight",
                          "buy_again_popularity_weight", "buy_again_neighbours", "repeat_half_life_days"}:
            self.__dict__.pop("_neighbour_cache", None)
            self.__dict__.pop("_available_by_popularity", None)
        if "customer_weight" in params:
            self.__dict__.pop("_raw", None)
        if "repeat_half_life_days" in params and "_repeat_events" in self.__dict__:
            self.repeat_ = self.repeat_scores(self.repeat_half_life_days)  # a fitted model follows at once
        return self

    # ---- fitting ------------------------------------------------------------------------------

    def _validate(self) -> None:
        for name, choices in (("normalization", NORMALIZATIONS), ("customer_neighbours", CUSTOMER_NEIGHBOURS),
                              ("buy_again_neighbours", BUY_AGAIN_NEIGHBOURS)):
            if getattr(self, name) not in choices:
                raise InvalidParameterError(f"{name} must be one of {choices}; got {getattr(self, name)!r}", field=name)
        for name in ("customer_weight", "bought_together_weight", "content_weight", "popularity_weight",
                     "buy_again_popularity_weight"):
            if not getattr(self, name) >= 0:
                raise InvalidParameterError(f"{name} must be >= 0", field=name)
        if self.bought_together_weight + self.content_weight + self.popularity_weight <= 0:
            raise InvalidParameterError("at least one hybrid weight must be positive", field="bought_together_weight")
        if not 0.0 <= self.buy_again_weight <= 1.0:
            raise InvalidParameterError("buy_again_weight must be between 0 and 1", field="buy_again_weight")
        if not self.repeat_half_life_days > 0:
            raise InvalidParameterError("repeat_half_life_days must be > 0", field="repeat_half_life_days")
        if self.top_k < 1 or self.max_basket_size < 2 or self.max_history_items < 1:
            raise InvalidParameterError("top_k >= 1, max_basket_size >= 2 and max_history_items >= 1 are required")

    def fit(self, order_lines: pd.DataFrame, products: pd.DataFrame, *, precompute: bool = True,
            content_from: ProductRecommender | None = None, cooccurrence: bool = True) -> ProductRecommender:
        """Learn co-occurrence, content features and popularity; precompute the top-k lists.

        `content_from`: a model fitted in this process on the *same products table* (a training fits
        three times: tuning, holdout, final). The content features and the "similar" lists depend on the
        catalogue alone, so they are taken from it instead of being rebuilt, when its catalogue, content
        parameters and availability match; otherwise it is ignored.
        `cooccurrence=False` (tuning, which then rebuilds it under each normalization it tries, with
        precompute=False): raw counts only, `bought_together_` left empty instead of built for nothing.
        """
        self._validate()
        if precompute and not cooccurrence:
            raise InvalidParameterError("cooccurrence=False needs precompute=False", field="cooccurrence")
        for transient in ("_neighbour_cache", "_available_by_popularity", "_raw", "_repeat_events", "_content_dense",
                          "_hth"):
            self.__dict__.pop(transient, None)
        products = products.drop_duplicates("id").reset_index(drop=True)
        ids = products["id"].astype(str).to_numpy(dtype=object)
        n = len(ids)
        if n < 2:
            raise InsufficientDataError(f"Product recommendations need at least 2 products; found {n}.")
        self.product_ids_ = ids
        self.product_index_ = {pid: i for i, pid in enumerate(ids)}
        self.names_ = products["name"].astype(str).to_numpy(dtype=object) if "name" in products else ids
        self.prices_ = pd.to_numeric(products.get("price"), errors="coerce").to_numpy(dtype=float) \
            if "price" in products else np.full(n, np.nan)
        self.image_urls_ = products["image_url"].fillna("").astype(str).to_numpy(dtype=object) \
            if "image_url" in products else np.full(n, "", dtype=object)
        categories = products["category"].fillna("").astype(str) if "category" in products else pd.Series([""] * n)
        self.category_codes_, self.categories_ = pd.factorize(categories)
        self.category_index_ = {c: i for i, c in enumerate(self.categories_)}
        active = products["active"].fillna(True).astype(bool).to_numpy() if "active" in products else np.ones(n, bool)
        # unknown stock (NaN: an import without stock levels, a host mapping stock to None) is not
        # "out of stock": only a known level <= 0 makes a product unavailable
        stock = pd.to_numeric(products["stock"], errors="coerce").to_numpy(dtype=float) if "stock" in products \
            else np.full(n, np.nan)
        self.stock_known_ = np.isfinite(stock)
        self.available_ = active & ~(self.stock_known_ & (stock <= 0))

        lines = order_lines[["order_id", "customer_id", "ordered_at"]].copy()
        lines["p"] = map_ids(order_lines["product_id"], self.product_index_)
        lines = lines[lines["p"] >= 0]
        self.n_lines_ = int(len(lines))

        # --- baskets (orders x products), capped ---
        o_codes, _ = pd.factorize(lines["order_id"])
        B = binary_matrix(o_codes, lines["p"].to_numpy(), (int(o_codes.max()) + 1 if len(o_codes) else 0, n))
        sizes = np.diff(B.indptr)
        self.dropped_baskets_ = int((sizes > self.max_basket_size).sum())
        B = B[(sizes >= 1) & (sizes <= self.max_basket_size)]
        self.n_orders_ = int(B.shape[0])

        # --- customer histories (customers x products): last max_history_items distinct products ---
        c_all, c_uniques = pd.factorize(lines["customer_id"])
        epoch_s = epoch_seconds(lines["ordered_at"])
        hist = pd.DataFrame({"c": c_all, "p": lines["p"].to_numpy(), "t": epoch_s})
        hist = hist[hist["c"] >= 0].sort_values("t", ascending=False, kind="stable").drop_duplicates(["c", "p"])
        hist = hist[hist.groupby("c", sort=False).cumcount().to_numpy() < self.max_history_items]
        H = binary_matrix(hist["c"].to_numpy(), hist["p"].to_numpy(), (len(c_uniques), n))
        self.customer_ids_ = np.array([str(c) for c in c_uniques], dtype=object)
        self.customer_index_ = {cid: i for i, cid in enumerate(self.customer_ids_)}
        self.history_ = H

        # --- buy again: every (customer, order, product) of the whole history, big baskets included (a
        # wholesale customer's 400-line order is exactly what they buy again); kept as events so tuning
        # can try other half-lives, and as the decayed repeat matrix of the chosen one
        ev = pd.DataFrame({"o": o_codes, "c": c_all, "p": lines["p"].to_numpy(), "t": epoch_s})
        ev = ev[ev["c"] >= 0].drop_duplicates(["o", "p"])
        last = float(epoch_s.max()) if len(epoch_s) else 0.0
        self._repeat_events = (ev["c"].to_numpy(np.int64), ev["p"].to_numpy(np.int64),
                               ((last - ev["t"].to_numpy()) / 86400.0).astype(np.float64))
        self.repeat_ = self.repeat_scores(self.repeat_half_life_days)
        # the history cosine costs a pruned products x products product: built only when it is used
        self.repeat_neighbours_ = self._repeat_neighbours(H) if self.buy_again_neighbours == "history" else None

        # --- popularity: distinct orders per product, exponentially decayed towards the last order ---
        if len(lines):
            age_days = (epoch_s.max() - epoch_s) / 86400.0
            w = np.power(0.5, age_days / max(self.popularity_half_life_days, 1e-9))
            per_order = pd.DataFrame({"o": o_codes, "p": lines["p"].to_numpy(), "w": w}).drop_duplicates(["o", "p"])
            pop = np.bincount(per_order["p"], weights=per_order["w"], minlength=n)
            del per_order, w, age_days
        else:
            pop = np.zeros(n)
        self.purchase_counts_ = np.asarray(B.sum(axis=0)).ravel().astype(np.int64)
        self.popularity_ = (pop / pop.max() if pop.max() > 0 else pop).astype(np.float32)

        # --- bought together --- (the line-level frames are freed first: the co-occurrence is a fit's peak)
        del lines, hist, ev, o_codes, c_all, epoch_s
        self._baskets = B  # transient (not pickled): lets tuning try other normalizations without a refit
        self._raw = None  # transient raw counts, filled by _cooccurrence (shared by 3 normalizations)
        if cooccurrence:
            C = self._cooccurrence(B, H)
            self.__dict__.pop("_hth", None)
            self._raw = None if precompute else self._raw  # a final normalization: freed before pruning
            self.bought_together_ = prune_rows(C, self.max_neighbors).astype(np.float32)
            del C
        else:  # the raw counts only, while H.T @ H is still at hand (bm25 builds its own weights)
            if self.normalization != "bm25":
                self._raw = self._raw_cooccurrence(B, H)
            self.bought_together_ = sp.csr_matrix((n, n), dtype=np.float32)
        self.__dict__.pop("_hth", None)  # shared by the two products above only: free it before the lists

        # --- content ---
        donor = content_from if self._same_catalogue(content_from) else None
        if donor is not None:
            self.content_ = donor.content_
            if donor.__dict__.get("_content_dense") is not None:
                self._content_dense = donor._content_dense
        else:
            self.content_ = self._content_features(products, categories)

        # --- popular lists (cold start chain) ---
        avail_mask = self.available_ if self.exclude_unavailable else np.ones(n, bool)
        pop_order = np.lexsort((np.arange(n), -self.popularity_))
        self.popular_ = pop_order[avail_mask[pop_order]][: self.top_k].astype(np.int32)
        self.popular_by_category_ = {}
        for code in range(len(self.categories_)):
            in_cat = pop_order[(self.category_codes_[pop_order] == code) & avail_mask[pop_order]]
            self.popular_by_category_[code] = in_cat[: self.top_k].astype(np.int32)

        self.topk_ = {}
        self.excluded_topk_ = {}  # per method: the best scores the availability filter left out
        if precompute:
            mask = ~self.available_ if self.exclude_unavailable and not self.available_.all() else None
            methods = METHODS
            if donor is not None and "similar" in getattr(donor, "topk_", {}) \
                    and donor.topk_["similar"][0].shape[1] == self.top_k:
                methods = tuple(m for m in METHODS if m != "similar")
                self.topk_["similar"] = donor.topk_["similar"]
                if mask is not None and "similar" in donor.excluded_topk_:
                    self.excluded_topk_["similar"] = donor.excluded_topk_["similar"]
            self.topk_.update(self.score_top_k_many(
                np.arange(n), methods, self.top_k, exclude=mask,
                excluded_scores=self.excluded_topk_ if mask is not None else None))
            self.topk_ = {m: self.topk_[m] for m in METHODS}
        return self

    # ---- scoring --------------------------------------------------------------------------------

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "bought_together_")

    def _check_fitted(self) -> None:
        try:
            check_is_fitted(self)
        except SklearnNotFittedError:
            raise NotFittedError("This ProductRecommender is not fitted yet; call fit() first.") from None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        for name in ("_neighbour_cache", "_baskets", "_raw", "_available_by_popularity", "_repeat_events", "_hth",
                     "_content_dense"):  # rebuilt on demand; keeps the artifact small
            state.pop(name, None)
        return state

    def summary(self) -> dict[str, Any]:
        self._check_fitted()
        n = len(self.product_ids_)
        idx, val = self.topk_.get("hybrid", (np.empty((0, 0)), np.empty((0, 0))))
        mean_sim = float(val[idx >= 0].mean()) if idx.size and (idx >= 0).any() else 0.0
        return {
            "total_products": n,
            "matrix_shape": [n, n],
            "nnz": int(self.bought_together_.nnz),
            "content_nnz": int(self.content_.nnz),
            "avg_similarity": round(mean_sim, 4),
            "normalization": self.normalization,
            "products_with_purchases": int((self.purchase_counts_ > 0).sum()),
            "cold_start_products": int((self.purchase_counts_ == 0).sum()),
            "available_products": int(self.available_.sum()),
            "unknown_stock_products": int((~getattr(self, "stock_known_", np.ones(n, bool))).sum()),
            "orders_used": self.n_orders_,
            "baskets_dropped_over_cap": self.dropped_baskets_,
            "customers": len(self.customer_ids_),
        }
