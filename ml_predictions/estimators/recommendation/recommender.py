"""Product recommendations: sparse bought-together, content-based similar, a hybrid blend, per customer.

Why it is built this way (seed 004 keeps a dense products x products matrix, which dies at 100k products):
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

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize as l2_normalize

from ml_predictions.errors import InsufficientDataError, InvalidParameterError, NotFittedError

METHODS = ("hybrid", "bought_together", "similar")
NORMALIZATIONS = ("conditional", "cosine", "lift", "bm25")
# Which precomputed neighbour lists a customer's history is expanded with (tuned offline).
CUSTOMER_NEIGHBOURS = ("hybrid", "bought_together")
# In the hybrid, a product without co-purchases is scored by content, with this small popularity share.
COLD_START_POPULARITY_SHARE = 0.05


# --------------------------------------------------------------------------------------------------
# sparse building blocks
# --------------------------------------------------------------------------------------------------


def _binary_matrix(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    m = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=shape)
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def bm25_weight(matrix: sp.csr_matrix, k1: float = 1.2, b: float = 0.75) -> sp.csr_matrix:
    """BM25 weighting of an items x documents matrix (documents = orders or customers).

    Same formula as implicit's `bm25_weight`: a document (basket) with many items counts less (idf), and
    an item bought very often is damped by the length normalization, so co-occurrence with the
    best-sellers stops dominating every neighbour list.
    """
    coo = matrix.tocoo()
    n_items = matrix.shape[0]
    idf = np.log(n_items / (1.0 + np.bincount(coo.col, minlength=matrix.shape[1]))).astype(np.float32)
    idf = np.maximum(idf, 0.0)
    row_sums = np.asarray(matrix.sum(axis=1)).ravel()
    avg = row_sums.mean() if len(row_sums) and row_sums.mean() > 0 else 1.0
    length_norm = (1.0 - b) + b * row_sums / avg
    data = coo.data * (k1 + 1.0) / (k1 * length_norm[coo.row] + coo.data) * idf[coo.col]
    return sp.csr_matrix((data.astype(np.float32), (coo.row, coo.col)), shape=matrix.shape)


def _prune_rows(matrix: sp.csr_matrix, keep: int) -> sp.csr_matrix:
    """Keep the `keep` largest entries of each row (bounded artifact and request cost).

    Only rows longer than `keep` are touched. Instead of an argsort of (row, value) pairs, each entry
    becomes one uint64 key "row << 32 | inverted sortable float32 bits": a plain np.sort of those keys
    (SIMD, ~10x faster than argsort) gives each row's keep-th largest value as a threshold key; entries
    strictly above it are kept, and ties at the threshold are taken in column order until the row has
    exactly `keep` entries (deterministic).
    """
    matrix = matrix.tocsr()
    counts = np.diff(matrix.indptr)
    long_rows = np.flatnonzero(counts > keep)
    if not len(long_rows):
        return matrix
    n_rows = matrix.shape[0]
    in_long = np.zeros(n_rows, bool)
    in_long[long_rows] = True
    rows = np.repeat(np.arange(n_rows, dtype=np.uint64), counts)
    pos = np.flatnonzero(in_long[rows])
    r = rows[pos]
    bits = np.ascontiguousarray(matrix.data[pos], dtype=np.float32).view(np.uint32)
    sortable = np.where(bits >> np.uint32(31), ~bits, bits | np.uint32(0x80000000))  # order-preserving
    key = (r << np.uint64(32)) | (~sortable).astype(np.uint64)  # ascending key = row, then larger value
    ordered = np.sort(key)
    starts = np.concatenate([[0], np.cumsum(counts[long_rows])[:-1]])
    thr = np.zeros(n_rows, np.uint64)
    thr[long_rows] = ordered[starts + keep - 1]
    t = thr[r]
    strict = key < t
    need = keep - np.bincount(r[strict].astype(np.int64), minlength=n_rows)
    tie_pos = np.flatnonzero(key == t)
    tie_rows = r[tie_pos].astype(np.int64)
    tie_rank = np.arange(len(tie_pos)) - np.searchsorted(tie_rows, tie_rows, side="left")
    keep_long = strict
    keep_long[tie_pos[tie_rank < need[tie_rows]]] = True
    keep_mask = ~in_long[rows.astype(np.int64)]
    keep_mask[pos] = keep_long
    return sp.csr_matrix((matrix.data[keep_mask], matrix.indices[keep_mask], np.concatenate(
        [[0], np.cumsum(np.minimum(counts, keep))])), shape=matrix.shape)


def _drop_diagonal(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """The same matrix without its diagonal and explicit zeros, built straight from the CSR arrays."""
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    keep = (matrix.indices != rows) & (matrix.data != 0)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows[keep], minlength=matrix.shape[0]))])
    return sp.csr_matrix((matrix.data[keep], matrix.indices[keep], indptr), shape=matrix.shape)


def _sparse_top_k(matrix: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise top-k of a sparse matrix with positive entries, as dense (rows x k) arrays padded with -1.

    One argsort of uint64 keys "row << 32 | inverted float32 bits" orders every row by decreasing
    score (one key instead of a two-key lexsort).
    """
    matrix = matrix.tocsr()
    n_rows = matrix.shape[0]
    counts = np.diff(matrix.indptr)
    idx = np.full((n_rows, k), -1, np.int32)
    val = np.zeros((n_rows, k), np.float32)
    if matrix.nnz == 0:
        return idx, val
    rows = np.repeat(np.arange(n_rows, dtype=np.uint64), counts)
    bits = np.ascontiguousarray(matrix.data, dtype=np.float32).view(np.uint32)
    sortable = np.where(bits >> np.uint32(31), ~bits, bits | np.uint32(0x80000000))
    order = np.argsort((rows << np.uint64(32)) | (~sortable).astype(np.uint64))
    starts = matrix.indptr[:-1]
    rank = np.arange(len(order)) - np.repeat(starts, counts)
    take = rank < k
    sel = order[take]
    r = rows[sel].astype(np.int64)
    c = rank[take]
    idx[r, c] = matrix.indices[sel]
    val[r, c] = matrix.data[sel]
    return idx, val


def _left_out(shown: list[float] | np.ndarray, excluded: np.ndarray, top_n: int) -> int:
    """How many of the `excluded` scores would rank within the first `top_n` of the unfiltered list.

    `shown` is the filtered list (descending). An excluded score's unfiltered rank is the number of
    excluded scores above it plus the shown scores at or above it (ties go to the shown product).
    """
    shown = np.asarray(shown, dtype=np.float64)
    excluded = np.sort(np.asarray(excluded, dtype=np.float64))[::-1]
    excluded = excluded[excluded > 0][:top_n]
    if not len(excluded):
        return 0
    ranks = np.arange(len(excluded)) + np.searchsorted(-shown, -excluded, side="right")
    return int((ranks < top_n).sum())


def _epoch_seconds(values: pd.Series) -> np.ndarray:
    """Seconds since the epoch, vectorized (tz-aware .to_numpy() would build 1M Timestamp objects)."""
    ts = pd.to_datetime(values, utc=True)
    return (ts - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=np.float64)


def _map_ids(values: pd.Series, index: dict[str, int]) -> np.ndarray:
    """Map ids to positions (-1 = unknown), converting only the distinct values (1M lines, ~10k ids)."""
    codes, uniques = pd.factorize(values)
    mapped = np.array([index.get(str(u), -1) for u in uniques], dtype=np.int64)
    out = np.full(len(codes), -1, np.int64)
    ok = codes >= 0
    out[ok] = mapped[codes[ok]]
    return out


def top_k_dense(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise top-k of a dense chunk; positions with a score <= 0 come back as index -1."""
    n_rows, n_cols = scores.shape
    k_eff = min(k, n_cols)
    if k_eff <= 0:
        return np.full((n_rows, k), -1, np.int32), np.zeros((n_rows, k), np.float32)
    part = np.argpartition(-scores, k_eff - 1, axis=1)[:, :k_eff] if k_eff < n_cols else np.tile(
        np.arange(n_cols), (n_rows, 1))
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    idx = np.take_along_axis(part, order, axis=1).astype(np.int32)
    vals = np.take_along_axis(vals, order, axis=1).astype(np.float32)
    idx[vals <= 0] = -1
    vals[vals <= 0] = 0.0
    if k_eff < k:
        idx = np.hstack([idx, np.full((n_rows, k - k_eff), -1, np.int32)])
        vals = np.hstack([vals, np.zeros((n_rows, k - k_eff), np.float32)])
    return idx, vals


# --------------------------------------------------------------------------------------------------
# the estimator
# --------------------------------------------------------------------------------------------------


class ProductRecommender:
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
        buy_again_weight: float = 0.9,
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
        self.repeat_half_life_days = repeat_half_life_days
        self.exclude_unavailable = exclude_unavailable
        self.bm25_k1 = bm25_k1
        self.bm25_b = bm25_b
        self.chunk_cells = chunk_cells
        self.random_state = random_state

    def get_params(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if not k.endswith("_") and not k.startswith("_")}

    def set_params(self, **params: Any) -> ProductRecommender:
        for key, value in params.items():
            if key not in self.get_params():
                raise InvalidParameterError(f"unknown parameter {key!r}", field=key)
            setattr(self, key, value)
        # scoring parameters changed: cached neighbour matrices are stale (precomputed topk_ lists
        # only change with a new fit, which is why tuning fits with precompute=False)
        if set(params) - {"customer_popularity_weight", "customer_neighbours", "buy_again_weight",
                          "repeat_half_life_days"}:
            self.__dict__.pop("_neighbour_cache", None)
            self.__dict__.pop("_available_by_popularity", None)
        if "customer_weight" in params:
            self.__dict__.pop("_raw", None)
        if "repeat_half_life_days" in params and "_repeat_events" in self.__dict__:
            self.repeat_ = self.repeat_scores(self.repeat_half_life_days)  # a fitted model follows at once
        return self

    # ---- fitting ------------------------------------------------------------------------------

    def _validate(self) -> None:
        if self.normalization not in NORMALIZATIONS:
            raise InvalidParameterError(f"normalization must be one of {NORMALIZATIONS}; got {self.normalization!r}",
                                        field="normalization")
        for name in ("customer_weight", "bought_together_weight", "content_weight", "popularity_weight"):
            if getattr(self, name) < 0:
                raise InvalidParameterError(f"{name} must be >= 0", field=name)
        if self.bought_together_weight + self.content_weight + self.popularity_weight <= 0:
            raise InvalidParameterError("at least one hybrid weight must be positive", field="bought_together_weight")
        if self.customer_neighbours not in CUSTOMER_NEIGHBOURS:
            raise InvalidParameterError(
                f"customer_neighbours must be one of {CUSTOMER_NEIGHBOURS}; got {self.customer_neighbours!r}",
                field="customer_neighbours")
        if not 0.0 <= self.buy_again_weight <= 1.0:
            raise InvalidParameterError("buy_again_weight must be between 0 and 1", field="buy_again_weight")
        if not self.repeat_half_life_days > 0:
            raise InvalidParameterError("repeat_half_life_days must be > 0", field="repeat_half_life_days")
        if self.top_k < 1 or self.max_basket_size < 2 or self.max_history_items < 1:
            raise InvalidParameterError("top_k >= 1, max_basket_size >= 2 and max_history_items >= 1 are required")

    def fit(self, order_lines: pd.DataFrame, products: pd.DataFrame, *, precompute: bool = True) -> ProductRecommender:
        """Learn co-occurrence, content features and popularity; precompute the top-k lists."""
        self._validate()
        for transient in ("_neighbour_cache", "_available_by_popularity", "_raw", "_repeat_events"):
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
        lines["p"] = _map_ids(order_lines["product_id"], self.product_index_)
        lines = lines[lines["p"] >= 0]
        self.n_lines_ = int(len(lines))

        # --- baskets (orders x products), capped ---
        o_codes, _ = pd.factorize(lines["order_id"])
        B = _binary_matrix(o_codes, lines["p"].to_numpy(), (int(o_codes.max()) + 1 if len(o_codes) else 0, n))
        sizes = np.diff(B.indptr)
        self.dropped_baskets_ = int((sizes > self.max_basket_size).sum())
        B = B[(sizes >= 1) & (sizes <= self.max_basket_size)]
        self.n_orders_ = int(B.shape[0])

        # --- customer histories (customers x products): last max_history_items distinct products ---
        c_all, c_uniques = pd.factorize(lines["customer_id"])
        epoch_s = _epoch_seconds(lines["ordered_at"])
        hist = pd.DataFrame({"c": c_all, "p": lines["p"].to_numpy(), "t": epoch_s})
        hist = hist[hist["c"] >= 0].sort_values("t", ascending=False, kind="stable").drop_duplicates(["c", "p"])
        hist = hist[hist.groupby("c", sort=False).cumcount().to_numpy() < self.max_history_items]
        H = _binary_matrix(hist["c"].to_numpy(), hist["p"].to_numpy(), (len(c_uniques), n))
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

        # --- popularity: distinct orders per product, exponentially decayed towards the last order ---
        if len(lines):
            age_days = (epoch_s.max() - epoch_s) / 86400.0
            w = np.power(0.5, age_days / max(self.popularity_half_life_days, 1e-9))
            per_order = pd.DataFrame({"o": o_codes, "p": lines["p"].to_numpy(), "w": w}).drop_duplicates(["o", "p"])
            pop = np.bincount(per_order["p"], weights=per_order["w"], minlength=n)
        else:
            pop = np.zeros(n)
        self.purchase_counts_ = np.asarray(B.sum(axis=0)).ravel().astype(np.int64)
        self.popularity_ = (pop / pop.max() if pop.max() > 0 else pop).astype(np.float32)

        # --- bought together ---
        self._baskets = B  # transient (not pickled): lets tuning try other normalizations without a refit
        self._raw = None  # transient raw counts, filled by _cooccurrence (shared by 3 normalizations)
        self.bought_together_ = _prune_rows(self._cooccurrence(B, H), self.max_neighbors).astype(np.float32)

        # --- content ---
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
            self.topk_ = self.score_top_k_many(np.arange(n), METHODS, self.top_k, exclude=mask,
                                               excluded_scores=self.excluded_topk_ if mask is not None else None)
        return self

    def repeat_scores(self, half_life_days: float | None = None) -> sp.csr_matrix:
        """Customers x products: each past order of the product weighs 0.5 ** (age / half-life), the row
        scaled to a maximum of 1. A product bought every month outweighs one bought once a year ago;
        `half_life_days=None` counts orders (the "most bought" baseline). Needs this process's fit."""
        events = self.__dict__.get("_repeat_events")
        if events is None:
            raise NotFittedError("repeat_scores needs a model fitted in this process.")
        c, p, age = events
        w = np.ones(len(age)) if half_life_days is None else np.power(0.5, age / max(half_life_days, 1e-9))
        if half_life_days is None:  # ties of the count go to the more recent product
            w = w + 1e-6 * np.power(0.5, age / 365.0)
        m = sp.csr_matrix((w.astype(np.float32), (c, p)), shape=(len(self.customer_ids_), len(self.product_ids_)))
        m.sum_duplicates()
        top = m.max(axis=1).toarray().ravel()
        m.data /= np.repeat(np.where(top > 0, top, 1), np.diff(m.indptr)).astype(np.float32)
        return m

    def rebuild_cooccurrence(self, normalization: str) -> ProductRecommender:
        """Switch normalization on a model fitted in this process (tuning), without re-reading orders."""
        self._check_fitted()
        if getattr(self, "_baskets", None) is None:
            raise NotFittedError("rebuild_cooccurrence needs a model fitted in this process.")
        self.normalization = normalization
        self._validate()
        self.bought_together_ = _prune_rows(self._cooccurrence(self._baskets, self.history_),
                                            self.max_neighbors).astype(np.float32)
        self.__dict__.pop("_neighbour_cache", None)
        return self

    def _raw_cooccurrence(self, B: sp.csr_matrix, H: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray, float]:
        """Raw co-occurrence counts (diagonal removed), product counts and the number of "documents".

        Shared by the conditional / cosine / lift normalizations, which only rescale these counts, so
        tuning tries all three after one sparse product. The diagonal is dropped on the CSR arrays
        directly (scipy's setdiag on a 10M-entry CSR costs a copy and a re-sort).
        """
        cw = float(self.customer_weight)
        C = (B.T.tocsr() @ B).astype(np.float32)
        counts = np.asarray(B.sum(axis=0)).ravel().astype(np.float64)
        total = float(B.shape[0])
        if cw > 0 and H.shape[0]:
            C = C + np.float32(cw) * (H.T.tocsr() @ H).astype(np.float32)
            counts = counts + cw * np.asarray(H.sum(axis=0)).ravel()
            total += cw * H.shape[0]
        return _drop_diagonal(C.tocsr()), counts, total

    def _cooccurrence(self, B: sp.csr_matrix, H: sp.csr_matrix) -> sp.csr_matrix:
        if self.normalization == "bm25":
            cw = float(self.customer_weight)
            Wb = bm25_weight(B.T.tocsr(), self.bm25_k1, self.bm25_b)
            C = Wb @ Wb.T
            if cw > 0 and H.shape[0]:
                Wh = bm25_weight(H.T.tocsr(), self.bm25_k1, self.bm25_b)
                C = C + cw * (Wh @ Wh.T)
            return _drop_diagonal(C.tocsr())
        raw = getattr(self, "_raw", None)
        if raw is None:
            raw = self._raw = self._raw_cooccurrence(B, H)
        C, counts, total = raw
        rows = np.repeat(np.arange(C.shape[0]), np.diff(C.indptr))
        ci = np.maximum(counts[rows], 1e-9)
        cj = np.maximum(counts[C.indices], 1e-9)
        if self.normalization == "conditional":  # P(j | i): ranks by raw count, favours best-sellers
            data = C.data / ci
        elif self.normalization == "cosine":
            data = C.data / np.sqrt(ci * cj)
        else:  # lift: P(i, j) / (P(i) P(j)), damped by a pseudo-count so one shared order is not "huge lift"
            data = C.data * total / (ci * (cj + 5.0))
        return sp.csr_matrix((data.astype(np.float32), C.indices.copy(), C.indptr.copy()), shape=C.shape)

    def _content_features(self, products: pd.DataFrame, categories: pd.Series) -> sp.csr_matrix:
        n = len(products)
        blocks = []
        cat = sp.csr_matrix((np.ones(n, np.float32), (np.arange(n), self.category_codes_)),
                            shape=(n, max(len(self.categories_), 1)))
        blocks.append(cat * float(self.category_weight))
        price = self.prices_
        if np.isfinite(price).sum() >= 2 and self.price_bands > 1:
            # bands = quantiles within the category, so "cheap shirt" and "cheap sofa" are both band 0
            frame = pd.DataFrame({"c": self.category_codes_, "p": price})
            rank = frame.groupby("c")["p"].rank(pct=True).fillna(0.5).to_numpy()
            band = np.minimum((rank * self.price_bands).astype(int), self.price_bands - 1)
            blocks.append(sp.csr_matrix((np.full(n, float(self.price_weight), np.float32), (np.arange(n), band)),
                                        shape=(n, self.price_bands)))
        text = (products.get("name", pd.Series([""] * n)).fillna("").astype(str) + " "
                + products.get("description", pd.Series([""] * n)).fillna("").astype(str))
        # TfidfVectorizer refuses an empty vocabulary; its default token is a run of 2+ word characters,
        # so the same pattern tells beforehand whether any name or description has a word to learn
        if text.str.contains(r"(?u)\b\w\w+\b", regex=True).any():
            tfidf = TfidfVectorizer(max_features=self.max_text_features, sublinear_tf=True,
                                    min_df=1, dtype=np.float32).fit_transform(text)
            blocks.append(tfidf * float(self.text_weight))
        return l2_normalize(sp.hstack(blocks, format="csr").astype(np.float32))

    # ---- scoring --------------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "bought_together_"):
            raise NotFittedError("This ProductRecommender is not fitted yet; call fit() first.")

    def _score_chunks(self, rows: np.ndarray, methods: tuple[str, ...]) -> dict[str, np.ndarray]:
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
            dense_rows = self.content_[rows].toarray().T
            ct = np.ascontiguousarray((self.content_ @ dense_rows).T, dtype=np.float32)
        if "hybrid" in methods:
            out["hybrid"] = self._blend(bt, cold, ct)
        if "bought_together" in methods:
            out["bought_together"] = bt
        if "similar" in methods:
            out["similar"] = ct
        return out

    def _blend(self, bt: np.ndarray, cold: np.ndarray, ct: np.ndarray | None) -> np.ndarray:
        """The hybrid score from row-normalized bought-together and content scores (weights from params).

        Separate from _score_chunks so the weight tuning blends the same two blocks 16 times instead of
        rebuilding them for every grid point.
        """
        wb, wc, wp = self.bought_together_weight, self.content_weight, self.popularity_weight
        total = wb + wc + wp
        hy = np.zeros(bt.shape, np.float32)
        if wb > 0:
            hy += np.float32(wb / total) * bt
        if wc > 0:
            hy += np.float32(wc / total) * ct
        if wp > 0:
            hy += np.float32(wp / total) * self.popularity_[None, :]
        if cold.any():
            # cold start: no co-purchase evidence, so the content neighbours lead and popularity
            # only breaks ties (COLD_START_POPULARITY_SHARE)
            hy[cold] = (1 - COLD_START_POPULARITY_SHARE) * ct[cold] \
                + COLD_START_POPULARITY_SHARE * self.popularity_[None, :]
        return hy

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
        for start in range(0, len(rows), chunk):
            sub = rows[start:start + chunk]
            for method, scores in self._score_chunks(sub, methods).items():
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
        result = {}
        for method in methods:
            if parts[method]:
                result[method] = (np.vstack([p[0] for p in parts[method]]), np.vstack([p[1] for p in parts[method]]))
            else:
                result[method] = (np.empty((0, k), np.int32), np.empty((0, k), np.float32))
        return result

    def score_top_k(self, rows: np.ndarray, method: str, k: int,
                    exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (indices, scores) of one method for each product row."""
        return self.score_top_k_many(rows, (method,), k, exclude)[method]

    # ---- requests -----------------------------------------------------------------------------

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
        return _left_out([v for _, v in pairs], left[1][self.product_index_[product_id]], top_n)

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
        return _left_out([v for _, v in pairs], self.popularity_[out], top_n)

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
        becomes buy_again_weight x own repeat score + (1 - buy_again_weight) x the neighbour score.
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
            Hq = _binary_matrix(np.concatenate(rows) if rows else np.empty(0, np.int64),
                                np.concatenate(cols) if cols else np.empty(0, np.int64), (len(histories), n))
        n_c = Hq.shape[0]
        if n_c == 0:
            return np.empty((0, k), np.int32), np.empty((0, k), np.float32)
        # artifacts written before customer_neighbours existed used the hybrid lists
        mask = ~self.available_ if self.exclude_unavailable else np.zeros(n, bool)
        neigh = self._neighbour_matrix(getattr(self, "customer_neighbours", "hybrid"),
                                       with_excluded=filtered is not None and bool(mask.any()))
        w_pop = np.float32(max(self.customer_popularity_weight, 1e-6))
        pop = self.popularity_.astype(np.float32)
        # popularity candidates: enough of the most popular available products to survive the removal
        # of any history (or of the neighbours already counted)
        available_by_popularity = self.__dict__.get("_available_by_popularity")
        if available_by_popularity is None:  # cached: a single request must not sort the catalogue
            pop_order = np.lexsort((np.arange(n), -pop))
            available_by_popularity = self._available_by_popularity = pop_order[~mask[pop_order]]
        n_pop = int(k + np.diff(Hq.indptr).max(initial=0))
        pop_cand = available_by_popularity[:n_pop]
        if filtered is not None and mask.any():  # the unavailable best-sellers compete too, to be counted
            pop_order = np.lexsort((np.arange(n), -pop))
            pop_cand = np.concatenate([pop_cand, pop_order[mask[pop_order]][:k]])
        in_pop = np.zeros(n, bool)
        in_pop[pop_cand] = True
        chunk = max(1, int(self.chunk_cells // max(k + n_pop + 2 * self.top_k, 1) // 8))
        out_i, out_v = [], []
        for start in range(0, n_c, chunk):
            sub = Hq[start:start + chunk]
            m = sub.shape[0]
            size = np.maximum(np.diff(sub.indptr), 1).astype(np.float32)
            S = (sub @ neigh).tocsr()
            S.data = (S.data / np.repeat(size, np.diff(S.indptr))).astype(np.float32)
            S.data += w_pop * pop[S.indices] * ~in_pop[S.indices]
            P = sp.csr_matrix((np.tile(w_pop * pop[pop_cand], m), np.tile(pop_cand, m),
                               np.arange(m + 1) * len(pop_cand)), shape=(m, n))
            S = (S + P).tocsr()
            if include_purchased and repeat is not None:
                wr = np.float32(self.buy_again_weight)
                S = (np.float32(1.0 - wr) * S + wr * repeat[start:start + chunk].astype(np.float32)).tocsr()
            if not include_purchased:
                S = S - S.multiply(sub)
            excluded = mask[S.indices]
            if filtered is not None:
                U = S.copy()
                U.data[~excluded] = 0.0
                U.eliminate_zeros()
                left = _sparse_top_k(U, k)[1]
            S.data[excluded] = 0.0
            S.eliminate_zeros()
            i, v = _sparse_top_k(S, k)
            if filtered is not None:
                filtered.append(np.array([_left_out(v[r][i[r] >= 0], left[r], k) for r in range(m)], np.int64))
            out_i.append(i)
            out_v.append(v)
        return np.vstack(out_i), np.vstack(out_v)

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
                m = m.maximum(_prune_rows(full, self.top_k).astype(np.float32))
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
            m = _prune_rows(m, self.top_k).astype(np.float32)
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

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_neighbour_cache", None)  # rebuilt on demand; keeps the artifact small
        state.pop("_baskets", None)
        state.pop("_raw", None)
        state.pop("_available_by_popularity", None)
        state.pop("_repeat_events", None)
        return state

    # ---- summary ------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------------
# offline evaluation on a time-based holdout
# --------------------------------------------------------------------------------------------------


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
    first = order_lines.groupby("order_id", sort=False)["ordered_at"].min().sort_values(kind="stable")
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

    def __len__(self) -> int:
        return len(self.seeds)


def basket_queries(test_lines: pd.DataFrame, product_index: dict[str, int], n_products: int, *,
                   max_basket_size: int = 50, max_queries: int | None = None,
                   random_state: int | None = None) -> BasketQueries:
    """Basket completion: a random product of each held-out basket is shown, the others must be found."""
    rng = np.random.default_rng(random_state)
    p = _map_ids(test_lines["product_id"], product_index)
    frame = pd.DataFrame({"o": test_lines["order_id"].to_numpy(), "p": p})
    frame = frame[frame["p"] >= 0].drop_duplicates()
    o_codes, _ = pd.factorize(frame["o"])
    if not len(o_codes):
        return BasketQueries(np.empty(0, np.int64), sp.csr_matrix((0, n_products), dtype=np.float32))
    M = _binary_matrix(o_codes, frame["p"].to_numpy(), (int(o_codes.max()) + 1, n_products))
    sizes = np.diff(M.indptr)
    M = M[(sizes >= 2) & (sizes <= max_basket_size)]
    if max_queries is not None and M.shape[0] > max_queries:
        M = M[np.sort(rng.choice(M.shape[0], max_queries, replace=False))]
    sizes = np.diff(M.indptr)
    pick = M.indptr[:-1] + (rng.random(len(sizes)) * sizes).astype(np.int64)
    seeds = M.indices[pick].astype(np.int64)
    targets = M.tolil(copy=True)
    targets[np.arange(len(seeds)), seeds] = 0
    targets = targets.tocsr()
    targets.eliminate_zeros()
    return BasketQueries(seeds, targets)


def _contains(matrix: sp.spmatrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Whether each (row, col) pair is a stored positive entry of `matrix`, as a plain bool array.

    Fancy indexing a scipy matrix (`matrix[rows, cols] > 0`) returns an np.matrix for most inputs but a
    *sparse* matrix for empty ones (every recommendation missing, e.g. a catalogue all out of stock), on
    which `> 0` cannot become a bool array. Sorted int64 keys and one searchsorted have one behaviour
    for every shape and never build a dense block.
    """
    rows = np.asarray(rows, dtype=np.int64).ravel()
    cols = np.asarray(cols, dtype=np.int64).ravel()
    if not len(rows) or matrix.nnz == 0:
        return np.zeros(len(rows), bool)
    coo = matrix.tocoo()
    positive = coo.data > 0
    n_cols = np.int64(matrix.shape[1])
    stored = np.unique(coo.row[positive].astype(np.int64) * n_cols + coo.col[positive].astype(np.int64))
    keys = rows * n_cols + cols
    pos = np.minimum(np.searchsorted(stored, keys), max(len(stored) - 1, 0))
    return (stored[pos] == keys) if len(stored) else np.zeros(len(rows), bool)


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
    hit[valid] = _contains(targets, rows[valid], cols[valid])
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
                   max_queries: int | None = 20000, random_state: int | None = None) -> dict[str, Any]:
    """Basket completion figures of every method and of popularity, plus per-customer figures."""
    n = len(model.product_ids_)
    q = basket_queries(test_lines, model.product_index_, n, max_basket_size=model.max_basket_size,
                       max_queries=max_queries, random_state=random_state)
    exclude = ~model.available_ if model.exclude_unavailable else None
    result: dict[str, Any] = {"item": {}, "customer": {}}
    uniq, inv = np.unique(q.seeds, return_inverse=True)
    tops = model.score_top_k_many(uniq, METHODS, k, exclude=exclude)
    for method in METHODS:
        idx = tops[method][0]
        result["item"][method] = ranking_metrics(idx[inv] if len(q) else idx, q.targets, n, k)
    result["item"]["popularity"] = ranking_metrics(popularity_recs(model.popularity_, q.seeds, k, exclude),
                                                   q.targets, n, k)
    result["customer"] = evaluate_customers(model, test_lines, k=k, max_queries=max_queries,
                                            random_state=random_state)
    result["buy_again"] = evaluate_buy_again(model, test_lines, k=k, max_queries=max_queries,
                                             random_state=random_state)
    return result


def customer_targets(model: ProductRecommender, test_lines: pd.DataFrame, *, max_queries: int | None = 20000,
                     random_state: int | None = None, new_only: bool = True,
                     ) -> tuple[np.ndarray, sp.csr_matrix, sp.csr_matrix] | None:
    """The per-customer queries: sampled known customers, their held-out products, their histories.

    `new_only` (discovery): only products new to the customer count; otherwise (buy again) every
    product the customer bought in the holdout. Built once per split so the tuning grid does not
    re-map 100k lines of string ids each time.
    """
    n = len(model.product_ids_)
    frame = pd.DataFrame({
        "c": _map_ids(test_lines["customer_id"], model.customer_index_),
        "p": _map_ids(test_lines["product_id"], model.product_index_),
    })
    frame = frame[(frame["c"] >= 0) & (frame["p"] >= 0)].drop_duplicates()
    if frame.empty:
        return None
    cust = np.unique(frame["c"].to_numpy())
    if max_queries is not None and len(cust) > max_queries:
        cust = np.sort(np.random.default_rng(random_state).choice(cust, max_queries, replace=False))
    pos = {c: i for i, c in enumerate(cust)}
    frame = frame[frame["c"].isin(pos)]
    T = _binary_matrix(frame["c"].map(pos).to_numpy(), frame["p"].to_numpy(), (len(cust), n))
    Hc = model.history_[cust]
    if new_only:
        T = (T - T.multiply(Hc)).tocsr()  # only products new to the customer count as hits
        T.eliminate_zeros()
    return cust, T, Hc


def evaluate_customers(model: ProductRecommender, test_lines: pd.DataFrame, *, k: int = 10,
                       max_queries: int | None = 20000, random_state: int | None = None,
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
    bought = _contains(Hc, np.repeat(np.arange(len(cust)), cand.shape[1]), cand.ravel()).reshape(cand.shape)
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
    return _sparse_top_k(scores, k)[0]


def evaluate_buy_again(model: ProductRecommender, test_lines: pd.DataFrame, *, k: int = 10,
                       max_queries: int | None = 20000, random_state: int | None = None,
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
        out["own_top10"] = ranking_metrics(_available_top_k(model, model.repeat_scores(None)[cust], k), T, n, k)
        pop = model.popularity_.astype(float).copy()
        if model.exclude_unavailable:
            pop[~model.available_] = -np.inf
        order = np.argsort(-pop, kind="stable")
        order = order[np.isfinite(pop[order]) & (pop[order] > 0)][:k]
        out["popularity"] = ranking_metrics(np.tile(order, (len(cust), 1)), T, n, k)
    return out


def _recall_on(model: ProductRecommender, q: BasketQueries, method: str, k: int) -> float:
    if not len(q):
        return 0.0
    uniq, inv = np.unique(q.seeds, return_inverse=True)
    exclude = ~model.available_ if model.exclude_unavailable else None
    idx, _ = model.score_top_k(uniq, method, k, exclude=exclude)
    return ranking_metrics(idx[inv], q.targets, len(model.product_ids_), k)["recall_at_10"]


def tune(train_lines: pd.DataFrame, products: pd.DataFrame, params: dict[str, Any], *,
         validation_fraction: float = 0.1, tune_normalization: bool = True, tune_weights: bool = True,
         tune_buy_again: bool = True, max_queries: int = 3000, k: int = 10) -> dict[str, Any]:
    """Pick normalization, then hybrid weights, by recall@k on the last orders of the *training* period.

    Greedy (normalization first with bought-together alone, then a small weight grid) so the tuning
    costs a handful of top-k passes over at most `max_queries` seed products, not a full grid of fits.
    """
    fit_lines, valid_lines, _ = time_split(train_lines, validation_fraction)
    chosen = dict(params)
    trace: dict[str, Any] = {}
    # one fit; normalizations and weights are then varied on it (precompute=False: only the validation
    # seeds are scored)
    m = ProductRecommender(**chosen).fit(fit_lines, products, precompute=False)
    q = basket_queries(valid_lines, m.product_index_, len(m.product_ids_), max_basket_size=m.max_basket_size,
                       max_queries=max_queries, random_state=params.get("random_state"))
    if tune_normalization:
        scores, matrices = {}, {}
        for norm in NORMALIZATIONS:
            m.rebuild_cooccurrence(norm)
            scores[norm] = _recall_on(m, q, "bought_together", k)
            matrices[norm] = m.bought_together_
        chosen["normalization"] = max(NORMALIZATIONS, key=lambda x: (scores[x], -NORMALIZATIONS.index(x)))
        trace["normalization_recall"] = scores
        m.normalization = chosen["normalization"]
        m.bought_together_ = matrices[chosen["normalization"]]
        m.__dict__.pop("_neighbour_cache", None)
        del matrices
    if tune_weights:
        grid = {}
        # the two score blocks of the validation seeds, built once; each grid point only re-blends them
        uniq, inv = np.unique(q.seeds, return_inverse=True)
        blocks = m._score_chunks(uniq, ("bought_together", "similar"))
        bt, ct = blocks["bought_together"], blocks["similar"]
        cold = bt.max(axis=1, initial=0.0) <= 0 if len(uniq) else np.zeros(0, bool)
        exclude = ~m.available_ if m.exclude_unavailable else None
        for wc in (0.0, 0.05, 0.2, 0.5):
            for wp in (0.0, 0.05, 0.2, 0.5):
                m.set_params(bought_together_weight=1.0, content_weight=wc, popularity_weight=wp)
                recall = 0.0
                if len(q):
                    hy = m._blend(bt, cold, ct)
                    hy[np.arange(len(uniq)), uniq] = 0.0
                    if exclude is not None:
                        hy[:, exclude] = 0.0
                    idx, _ = top_k_dense(hy, k)
                    recall = ranking_metrics(idx[inv], q.targets, len(m.product_ids_), k)["recall_at_10"]
                grid[f"content={wc},popularity={wp}"] = (recall, wc, wp)
        del blocks, bt, ct
        best = max(grid.values(), key=lambda t: (t[0], -t[1] - t[2]))
        chosen.update(bought_together_weight=1.0, content_weight=best[1], popularity_weight=best[2])
        trace["weights_recall"] = {key: v[0] for key, v in grid.items()}
        m.set_params(bought_together_weight=1.0, content_weight=best[1], popularity_weight=best[2])
        # per customer: which neighbour lists expand the history, and how much popularity is blended in
        # (on the generator the history carries almost no signal beyond bundles, so the tuning is free
        # to end at "popularity" itself: the largest weight)
        c_grid = {}
        c_targets = customer_targets(m, valid_lines, max_queries=max_queries, random_state=params.get("random_state"))
        for nb in CUSTOMER_NEIGHBOURS:
            for wcp in (0.001, 0.1, 0.3, 1.0, 3.0, 10.0):
                m.set_params(customer_neighbours=nb, customer_popularity_weight=wcp)
                figures = evaluate_customers(m, valid_lines, k=k, targets=c_targets)
                if figures["hybrid"]["queries"] == 0:
                    break
                c_grid[(nb, wcp)] = figures["hybrid"]["recall_at_10"]
        if c_grid:
            best_c = max(c_grid, key=lambda key: (c_grid[key], -CUSTOMER_NEIGHBOURS.index(key[0]), -key[1]))
            chosen["customer_neighbours"], chosen["customer_popularity_weight"] = best_c
            trace["customer_popularity_recall"] = {f"{nb},{w}": r for (nb, w), r in c_grid.items()}
            m.set_params(customer_neighbours=best_c[0], customer_popularity_weight=best_c[1])
    if tune_buy_again:
        best_b, b_trace = _tune_buy_again(m, valid_lines, k=k, max_queries=max_queries,
                                          random_state=params.get("random_state"))
        if best_b is not None:
            chosen["repeat_half_life_days"], chosen["buy_again_weight"] = best_b
            trace["buy_again_recall"] = b_trace
    return {"params": chosen, "trace": trace}


BUY_AGAIN_HALF_LIVES = (30.0, 90.0, 365.0, 1000.0)
BUY_AGAIN_WEIGHTS = (0.1, 0.3, 0.6, 0.85, 0.95)


def _tune_buy_again(m: ProductRecommender, valid_lines: pd.DataFrame, *, k: int, max_queries: int,
                    random_state: int | None) -> tuple[tuple[float, float] | None, dict[str, float]]:
    """Repeat half-life and own-history weight of the buy-again list, by recall@k on the validation
    orders (every product the customer bought there). Ties go to the longer memory and the larger
    own-history weight: the simpler list."""
    targets = customer_targets(m, valid_lines, max_queries=max_queries, random_state=random_state, new_only=False)
    if targets is None:
        return None, {}
    grid: dict[tuple[float, float], float] = {}
    for half_life in BUY_AGAIN_HALF_LIVES:
        m.set_params(repeat_half_life_days=half_life)  # recomputes the repeat scores of the fit
        for weight in BUY_AGAIN_WEIGHTS:
            m.set_params(buy_again_weight=weight)
            grid[(half_life, weight)] = evaluate_buy_again(m, valid_lines, k=k, targets=targets,
                                                           baselines=False)["buy_again"]["recall_at_10"]
    best = max(grid, key=lambda key: (grid[key], key[0], key[1]))
    return best, {f"half_life={h},weight={w}": r for (h, w), r in grid.items()}


def tune_and_evaluate(order_lines: pd.DataFrame, products: pd.DataFrame, params: dict[str, Any], *,
                      test_fraction: float = 0.1, tune_normalization: bool = True, tune_weights: bool = True,
                      max_queries: int | None = 20000) -> dict[str, Any]:
    """Time-based holdout: tune on the training period, then report every method on the held-out orders.

    Returns the chosen parameters and the offline figures; the caller then fits the final model on all
    orders with those parameters.
    """
    order_lines = encode_lines(order_lines)
    train_lines, test_lines, cutoff = time_split(order_lines, test_fraction)
    tuned = tune(train_lines, products, params, validation_fraction=test_fraction,
                 tune_normalization=tune_normalization, tune_weights=tune_weights)
    model = ProductRecommender(**tuned["params"]).fit(train_lines, products, precompute=False)
    figures = evaluate_model(model, test_lines, max_queries=max_queries, random_state=params.get("random_state"))
    hybrid = figures["item"]["hybrid"]["recall_at_10"]
    popular = figures["item"]["popularity"]["recall_at_10"]
    return {
        "params": tuned["params"],
        "tuning": tuned["trace"],
        "evaluation": {
            "protocol": f"time-based holdout: last {test_fraction:.0%} of orders; basket completion (one product of each "
                        "held-out basket shown, the rest to find), per-customer discovery (products new to "
                        "the customer in the holdout) and buy again (every product a returning customer "
                        "bought in the holdout, beside the customer's own 10 most-bought products)",
            "test_cutoff": cutoff.isoformat() if hasattr(cutoff, "isoformat") else str(cutoff),
            "train_orders": int(train_lines["order_id"].nunique()),
            "test_orders": int(test_lines["order_id"].nunique()),
            **figures,
            "hybrid_vs_popularity_recall": round(hybrid / popular, 3) if popular > 0 else None,
        },
    }
