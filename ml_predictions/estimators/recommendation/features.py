"""What a fit learns besides the neighbour lists' ranking: co-occurrence, content features, repeat scores,
the hybrid blend, and the catalogue-only parts one training's fits share.

A mixin of ProductRecommender (kept apart so no module holds every job): the bought-together matrix
under each normalization, the content (category, price band, TF-IDF) features, and the customers'
decayed repeat scores of the buy-again list.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize as l2_normalize

from ml_predictions.errors import NotFittedError
from ml_predictions.estimators.recommendation.constants import COLD_START_POPULARITY_SHARE
from ml_predictions.estimators.recommendation.kernels import bm25_weight, drop_diagonal, prune_rows

if TYPE_CHECKING:
    from ml_predictions.estimators.recommendation.recommender import ProductRecommender


def _embed_rows(sub: sp.csr_matrix, rows: np.ndarray, n: int) -> sp.csr_matrix:
    """The rows of `sub` placed at `rows` (sorted) of an n x n matrix, the diagonal dropped."""
    rows = np.asarray(rows, dtype=np.int64)
    lengths = np.zeros(n, np.int64)
    lengths[rows] = np.diff(sub.indptr)
    full = sp.csr_matrix((sub.data, sub.indices, np.concatenate([[0], np.cumsum(lengths)])), shape=(n, n))
    return drop_diagonal(full)


# products x content features held dense when at most this many cells (16M float32 = 64 MB)
CONTENT_DENSE_CELLS = 16_000_000


class FeaturesMixin:
    def repeat_scores(self, half_life_days: float | None = None, rows: np.ndarray | None = None) -> sp.csr_matrix:
        """Customers x products: each past order of the product weighs 0.5 ** (age / half-life), the row
        scaled to a maximum of 1. A product bought every month outweighs one bought once a year ago;
        `half_life_days=None` counts orders (the "most bought" baseline). Needs this process's fit.
        `rows` (customer indices): only those rows, in that order, from only their events (the
        evaluation's sampled customers), equal bit for bit to the same rows of the full matrix."""
        events = self.__dict__.get("_repeat_events")
        if events is None:
            raise NotFittedError("repeat_scores needs a model fitted in this process.")
        c, p, age = events
        n_rows = len(self.customer_ids_)
        if rows is not None:
            position = np.full(n_rows, -1, np.int64)
            position[np.asarray(rows, dtype=np.int64)] = np.arange(len(rows))
            row = position[c]
            keep = row >= 0  # each row keeps its events in their order, so its sums are the same
            c, p, age, n_rows = row[keep], p[keep], age[keep], len(rows)
        w = np.ones(len(age)) if half_life_days is None else np.power(0.5, age / max(half_life_days, 1e-9))
        if half_life_days is None:  # ties of the count go to the more recent product
            w = w + 1e-6 * np.power(0.5, age / 365.0)
        m = sp.csr_matrix((w.astype(np.float32), (c, p)), shape=(n_rows, len(self.product_ids_)))
        m.sum_duplicates()
        top = m.max(axis=1).toarray().ravel()
        m.data /= np.repeat(np.where(top > 0, top, 1), np.diff(m.indptr)).astype(np.float32)
        return m

    def _repeat_neighbours(self, H: sp.csr_matrix) -> sp.csr_matrix:
        """Products x products cosine over customers' histories (who bought i also bought j, at any time),
        the `top_k` best per product: the neighbour part of the buy-again list.

        Not the bought-together lists: those are basket co-occurrence (what goes in the same order),
        while a customer's next orders follow their tastes, which co-occurrence across a customer's whole
        history captures (item-item cosine on customers x products, the repeat-consumption literature's
        strong neighbour baseline). One sparse product of the history matrix, pruned like the others.
        """
        n = H.shape[1]
        if H.shape[0] == 0 or H.nnz == 0:
            return sp.csr_matrix((n, n), dtype=np.float32)
        counts = np.asarray(H.sum(axis=0)).ravel().astype(np.float64)
        C = self._history_cooccurrence(H)
        rows = np.repeat(np.arange(n), np.diff(C.indptr))
        data = C.data / np.sqrt(np.maximum(counts[rows] * counts[C.indices], 1e-12))
        C = sp.csr_matrix((data.astype(np.float32), C.indices, C.indptr), shape=(n, n))
        return prune_rows(C, self.top_k).astype(np.float32)

    def _history_cooccurrence(self, H: sp.csr_matrix) -> sp.csr_matrix:
        """H.T @ H without its diagonal, kept for the rest of the fit: the history cosine of the
        buy-again list and the customer part of the bought-together counts are the same sparse product
        (the costliest of a fit, customers' histories being longer than baskets), so it is built once."""
        cached = self.__dict__.get("_hth")
        if cached is not None and cached[0] is H:
            return cached[1]
        hth = drop_diagonal((H.T.tocsr() @ H).tocsr())
        self._hth = (H, hth)
        return hth

    def rebuild_cooccurrence(self, normalization: str, rows: np.ndarray | None = None, *,
                             prune: bool = True) -> ProductRecommender:
        """Switch normalization on a model fitted in this process (tuning), without re-reading orders.

        `rows` (sorted product indices) builds only those rows, the others left empty: tuning compares
        normalizations on its validation seeds alone, and normalizing + pruning 10k full rows four
        times was a third of a training. `prune=False` keeps every co-occurrence of the rows: the
        comparison only ranks each row's first k, which pruning to `max_neighbors` (> k) never changes
        (ties included: both keep equal scores in stored order), and pruning was most of its cost.
        """
        self._check_fitted()
        if getattr(self, "_baskets", None) is None:
            raise NotFittedError("rebuild_cooccurrence needs a model fitted in this process.")
        self.normalization = normalization
        self._validate()
        C = self._cooccurrence(self._baskets, self.history_, rows)
        self.bought_together_ = (prune_rows(C, self.max_neighbors) if prune else C).astype(np.float32)
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
            C = C + np.float32(cw) * self._history_cooccurrence(H).astype(np.float32)
            counts = counts + cw * np.asarray(H.sum(axis=0)).ravel()
            total += cw * H.shape[0]
        return drop_diagonal(C.tocsr()), counts, total

    def _cooccurrence(self, B: sp.csr_matrix, H: sp.csr_matrix, only: np.ndarray | None = None) -> sp.csr_matrix:
        n = B.shape[1]
        if self.normalization == "bm25":
            cw = float(self.customer_weight)
            Wb = bm25_weight(B.T.tocsr(), self.bm25_k1, self.bm25_b)
            C = (Wb if only is None else Wb[only]) @ Wb.T
            if cw > 0 and H.shape[0]:
                Wh = bm25_weight(H.T.tocsr(), self.bm25_k1, self.bm25_b)
                C = C + cw * ((Wh if only is None else Wh[only]) @ Wh.T)
            return drop_diagonal(C.tocsr()) if only is None else _embed_rows(C.tocsr(), only, n)
        raw = getattr(self, "_raw", None)
        if raw is None:
            raw = self._raw = self._raw_cooccurrence(B, H)
        C, counts, total = raw
        if only is not None:
            C = _embed_rows(C[only], only, n)
        floor = np.maximum(counts, 1e-9)
        ci = np.repeat(floor, np.diff(C.indptr))  # the row's count for each entry, in one pass
        if self.normalization == "conditional":  # P(j | i): ranks by raw count, favours best-sellers
            data = C.data / ci
        elif self.normalization == "cosine":
            data = C.data / np.sqrt(ci * floor[C.indices])
        else:  # lift: P(i, j) / (P(i) P(j)), damped by a pseudo-count so one shared order is not "huge lift"
            data = C.data * total / (ci * (floor[C.indices] + 5.0))
        return sp.csr_matrix((data.astype(np.float32), C.indices.copy(), C.indptr.copy()), shape=C.shape)

    def blend(self, bt: np.ndarray, cold: np.ndarray, ct: np.ndarray | None, *,
              out: np.ndarray | None = None, scratch: np.ndarray | None = None) -> np.ndarray:
        """The hybrid score from row-normalized bought-together and content scores (weights from params).

        Separate from _score_chunks so the weight tuning blends the same two blocks 16 times instead of
        rebuilding them for every grid point; `out` / `scratch` (float32 arrays of bt's shape) let it
        reuse two buffers instead of allocating three blocks per grid point. The sum is taken in the
        same order whatever the buffers, so the scores are bit-identical.
        """
        wb, wc, wp = self.bought_together_weight, self.content_weight, self.popularity_weight
        total = wb + wc + wp
        hy = out if out is not None else np.empty(bt.shape, np.float32)
        if wb > 0:
            np.multiply(bt, np.float32(wb / total), out=hy)
            if wc > 0:
                hy += np.multiply(ct, np.float32(wc / total), out=scratch)
        elif wc > 0:
            np.multiply(ct, np.float32(wc / total), out=hy)
        else:
            hy.fill(0.0)
        if wp > 0:
            hy += np.float32(wp / total) * self.popularity_[None, :]
        if cold.any():
            # cold start: no co-purchase evidence, so the content neighbours lead and popularity
            # only breaks ties (COLD_START_POPULARITY_SHARE)
            hy[cold] = (1 - COLD_START_POPULARITY_SHARE) * ct[cold] \
                + COLD_START_POPULARITY_SHARE * self.popularity_[None, :]
        return hy

    def catalogue_part(self) -> ProductRecommender:
        """A light copy holding only what `content_from` takes (catalogue, content, "similar" lists):
        handing a whole fitted model on would keep its co-occurrence matrices alive through the next fit."""
        part = type(self)(**self.get_params(deep=False))
        for name in ("product_ids_", "available_", "category_codes_", "prices_", "names_", "content_",
                     "_content_dense"):
            if name in self.__dict__:
                part.__dict__[name] = self.__dict__[name]
        topk = getattr(self, "topk_", {})
        part.topk_ = {"similar": topk["similar"]} if "similar" in topk else {}
        excluded = getattr(self, "excluded_topk_", {})
        part.excluded_topk_ = {"similar": excluded["similar"]} if "similar" in excluded else {}
        return part

    def _same_catalogue(self, other: ProductRecommender | None) -> bool:
        """Whether `other` was fitted on this catalogue with the same content and availability rules."""
        if other is None or not hasattr(other, "content_") or not hasattr(other, "product_ids_"):
            return False
        content_params = ("category_weight", "price_weight", "text_weight", "price_bands", "max_text_features",
                          "exclude_unavailable")
        return (all(getattr(other, p) == getattr(self, p) for p in content_params)
                and np.array_equal(other.product_ids_, self.product_ids_)
                and np.array_equal(other.available_, self.available_)
                and np.array_equal(other.category_codes_, self.category_codes_)
                and np.array_equal(other.prices_, self.prices_, equal_nan=True)
                and np.array_equal(other.names_, self.names_))

    def content_scores(self, rows: np.ndarray) -> np.ndarray:
        """Dense content similarity of `rows` against every product (rows x products, float32, C order).

        The content features are usually narrow (categories, price bands and the words of short names:
        tens of columns), so a dense copy of them is a few MB and one BLAS product gives the block
        directly in row order. Only a wide vocabulary (over CONTENT_DENSE_CELLS) keeps the sparse product,
        whose products x rows result then needs a transposing copy.
        """
        dense = self.__dict__.get("_content_dense")
        if dense is None:
            n, d = self.content_.shape
            dense = self._content_dense = self.content_.toarray().astype(np.float32, copy=False) \
                if n * d <= CONTENT_DENSE_CELLS else False
        if dense is not False:
            return dense[rows] @ dense.T
        dense_rows = self.content_[rows].toarray().T
        return np.ascontiguousarray((self.content_ @ dense_rows).T, dtype=np.float32)

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
