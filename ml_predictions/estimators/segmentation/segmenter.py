"""Customer segmentation: K-means on log RFM with a useful automatic k, stable numbers and names.

Pure pandas/numpy/scipy/scikit-learn (no Django), so it runs the same in a view, a worker or a notebook.
RFM features live in `rfm.py`, naming from the centroids' profile in `naming.py`; both are re-exported.

Why it is built this way:
- Money and counts are heavy-tailed; `log1p` before `StandardScaler` stops a few whales from owning a
  cluster each. PCA is optional and only rotates/drops dimensions after scaling.
- Automatic k searches a *business* range (default 4-8): on a real retailer an unrestricted search
  by silhouette picked k=2, which is useless for marketing. Every k gets silhouette (on a fixed-size
  sample: it is O(n^2)), Davies-Bouldin and Calinski-Harabasz (linear, every point) and seed stability
  (mean pairwise adjusted Rand index of `stability_seeds` K-means runs on a sample). The selection metric
  picks the best k; every k within `selection_tolerance` of it is a tie, and the tie goes to the most
  stable k: a segmentation that changes with the random seed changes with every retrain too.
- Cluster numbers from K-means are arbitrary. A retrain starts from the previous run's centroids
  (warm start, when k is the same) and matches its clusters to the previous run's by the Hungarian
  algorithm on centroid distance, so cluster numbers and names do not shuffle from week to week; a
  first run numbers clusters by descending mean monetary value.
"""
from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from ml_predictions.errors import InsufficientDataError, InvalidParameterError, NotFittedError
from ml_predictions.estimators.segmentation.naming import (  # noqa: F401  (re-exported)
    NAME_MARGIN,
    SEGMENT_PROTOTYPES,
    SEGMENT_TYPES,
    cluster_profiles,
    name_clusters,
)
from ml_predictions.estimators.segmentation.rfm import (  # noqa: F401  (re-exported)
    DAYS_PER_MONTH,
    RFM_COLUMNS,
    RFM_RULE_NAMES,
    compute_rfm,
    default_calc_date,
    rfm_from_transactions,
    rfm_scores,
)

SELECTION_METRICS: tuple[str, ...] = ("silhouette", "davies_bouldin", "calinski_harabasz")
BASE_FEATURES: tuple[str, ...] = ("recency_days", "frequency", "monetary")
OPTIONAL_FEATURES: tuple[str, ...] = ("unique_products", "avg_order_value", "purchases_per_month", "tenure_days")


def seed_stability(z: np.ndarray, k: int, seeds: Sequence[int]) -> float:
    """Mean pairwise adjusted Rand index of single-start K-means runs with different seeds (1 = seed-proof)."""
    runs = [KMeans(n_clusters=k, init="k-means++", n_init=1, random_state=int(s)).fit(z).labels_ for s in seeds]
    pairs = [adjusted_rand_score(a, b) for a, b in combinations(runs, 2)]
    return float(np.mean(pairs)) if pairs else 1.0


def match_to_previous(centers: np.ndarray, previous: np.ndarray, value: np.ndarray) -> np.ndarray:
    """New cluster number of each center: the number of the previous centroid it is matched to.

    Hungarian assignment on Euclidean distance; with more clusters than before, the unmatched ones take
    the numbers after the previous run's, by descending `value`; with fewer, numbers are compacted in the
    previous order. Returns `order`: order[j] is the fitted cluster that becomes number j.
    """
    cost = np.linalg.norm(centers[:, None, :] - previous[None, :, :], axis=2)
    rows, cols = linear_sum_assignment(cost)
    rank = np.full(len(centers), np.inf)
    rank[rows] = cols
    unmatched = [i for i in np.argsort(-value, kind="stable") if not np.isfinite(rank[i])]
    for j, i in enumerate(unmatched):
        rank[i] = len(previous) + j
    return np.argsort(rank, kind="stable")


class CustomerSegmenter(BaseEstimator):
    """log1p -> StandardScaler -> optional PCA -> KMeans(k-means++), with automatic k.

    scikit-learn estimator contract: `__init__` stores parameters, `fit(rfm)` learns and returns self,
    learned attributes end in `_`, using it unfitted raises NotFittedError. `rfm` is a frame from
    `compute_rfm` (or any frame with the feature columns; `tenure_days` improves the naming of 'new'
    customers). `init_centroids` are the previous run's centroids in log1p feature space
    (`centroids_log_` of the previous fit): the warm start and the reference for cluster numbers.
    """

    def __init__(
        self,
        n_clusters: int | str = "auto",
        *,
        min_clusters: int = 4,
        max_clusters: int = 8,
        selection_metric: str = "silhouette",
        features: Sequence[str] = BASE_FEATURES,
        use_pca: bool = False,
        pca_components: int | None = None,
        silhouette_sample_size: int = 3000,
        stability_seeds: int = 5,
        stability_sample_size: int = 3000,
        selection_tolerance: float = 0.05,
        n_init: int = 4,
        random_state: int | None = 42,
        n_threads: int | None = 1,
        init_centroids: np.ndarray | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.min_clusters = min_clusters
        self.max_clusters = max_clusters
        self.selection_metric = selection_metric
        self.features = features
        self.use_pca = use_pca
        self.pca_components = pca_components
        self.silhouette_sample_size = silhouette_sample_size
        self.stability_seeds = stability_seeds
        self.stability_sample_size = stability_sample_size
        self.selection_tolerance = selection_tolerance
        self.n_init = n_init
        self.random_state = random_state
        self.n_threads = n_threads
        self.init_centroids = init_centroids

    # -- validation and feature space
    def _validate(self, n_rows: int) -> list[int]:
        if self.selection_metric not in SELECTION_METRICS:
            raise InvalidParameterError(
                f"selection_metric must be one of {', '.join(SELECTION_METRICS)}; got {self.selection_metric!r}.",
                field="selection_metric")
        unknown = [f for f in self.features if f not in BASE_FEATURES + OPTIONAL_FEATURES]
        if unknown:
            raise InvalidParameterError(
                f"unknown features {unknown}; allowed: {list(BASE_FEATURES + OPTIONAL_FEATURES)}.", field="features")
        if self.n_clusters == "auto" or self.n_clusters is None:
            lo, hi = int(self.min_clusters), int(self.max_clusters)
            if lo < 2 or hi < lo:
                raise InvalidParameterError(f"need 2 <= min_clusters <= max_clusters; got {lo}..{hi}.",
                                            field="min_clusters" if lo < 2 else "max_clusters")
            if n_rows <= lo:
                raise InsufficientDataError(
                    f"{n_rows} customers are too few for automatic k in {lo}..{hi} (at least {lo + 1} are needed).",
                    field="n_clusters")
            return list(range(lo, min(hi, n_rows - 1) + 1))
        try:
            k = int(self.n_clusters)
        except (TypeError, ValueError) as exc:
            raise InvalidParameterError(f"n_clusters must be an integer >= 2 or 'auto'; got {self.n_clusters!r}.",
                                        field="n_clusters") from exc
        if k < 2:
            raise InvalidParameterError(f"n_clusters must be at least 2; got {k}.", field="n_clusters")
        if n_rows < k:
            raise InsufficientDataError(f"{n_rows} customers are fewer than n_clusters={k}.", field="n_clusters")
        return [k]

    def _check_fitted(self) -> None:
        try:
            check_is_fitted(self, "kmeans_")
        except SklearnNotFittedError as exc:
            raise NotFittedError("This CustomerSegmenter is not fitted yet; call fit() first.") from exc

    def _matrix(self, rfm: pd.DataFrame) -> np.ndarray:
        missing = [f for f in self.features if f not in rfm]
        if missing:
            raise InvalidParameterError(f"missing feature values: {', '.join(missing)}.", field=missing[0])
        x = rfm[list(self.features)].to_numpy(dtype="float64")
        if not np.isfinite(x).all() or (x < 0).any():
            raise InvalidParameterError("feature values must be finite and non-negative.",
                                        field=list(self.features)[0])
        return np.log1p(x)

    def transform_scaled(self, rfm: pd.DataFrame) -> np.ndarray:
        """The standardized (log1p + z-score) features: the clustering input before PCA."""
        self._check_fitted()
        return self.scaler_.transform(self._matrix(rfm))

    def _embed(self, rfm: pd.DataFrame) -> np.ndarray:
        z = self.transform_scaled(rfm)
        return self.pca_.transform(z) if self.pca_ is not None else z

    def _embed_log(self, logs: np.ndarray) -> np.ndarray:
        z = self.scaler_.transform(logs)
        return self.pca_.transform(z) if self.pca_ is not None else z

    # -- estimator API
    def fit(self, rfm: pd.DataFrame, y: Any = None) -> CustomerSegmenter:
        # KMeans' OpenMP threads spin-wait: on a busy 2-core host a fit runs 4-50x slower with them
        # (300 customers: 4 s instead of 0.08 s; 100k: 9.4 s instead of 1.9 s), so one thread is the
        # default. n_threads=-1 lets OpenMP use every core (faster only on an idle machine).
        threads = None if self.n_threads == -1 else (self.n_threads or 1)
        with threadpool_limits(limits=threads, user_api="openmp"):
            return self._fit(rfm)

    def _fit(self, rfm: pd.DataFrame) -> CustomerSegmenter:
        ks = self._validate(len(rfm))
        x = self._matrix(rfm)
        self.scaler_ = StandardScaler().fit(x)
        z = self.scaler_.transform(x)
        self.pca_ = None
        if self.use_pca:
            n_comp = self.pca_components or min(2, z.shape[1])
            if not 1 <= int(n_comp) <= z.shape[1]:
                raise InvalidParameterError(f"pca_components must be between 1 and {z.shape[1]}.",
                                            field="pca_components")
            self.pca_ = PCA(n_components=int(n_comp), random_state=self.random_state).fit(z)
            z = self.pca_.transform(z)
        rng = np.random.default_rng(self.random_state)
        sil_sample = rng.choice(len(z), size=self.silhouette_sample_size, replace=False) \
            if len(z) > self.silhouette_sample_size else None
        stab_sample = rng.choice(len(z), size=self.stability_sample_size, replace=False) \
            if len(z) > self.stability_sample_size else np.arange(len(z))
        seeds = rng.integers(0, 2**31 - 1, size=max(int(self.stability_seeds), 0))
        table = self._k_table(z, ks, sil_sample, z[stab_sample], seeds)
        k = self._choose_k(table)
        km = self._final_kmeans(z, k, x.shape[1], len(ks))
        self._store(rfm, z, km, table, k, sil_sample, auto=len(ks) > 1)
        return self

    def _k_table(self, z: np.ndarray, ks: list[int], sil_sample: np.ndarray | None, z_stab: np.ndarray,
                 seeds: np.ndarray) -> list[dict[str, Any]]:
        """One row per k: inertia, silhouette (sampled), Davies-Bouldin, Calinski-Harabasz, seed stability."""
        n_distinct = len(np.unique(np.round(z, 9), axis=0))
        table: list[dict[str, Any]] = []
        for k in ks:
            if k > n_distinct:
                if len(ks) == 1:
                    raise InsufficientDataError(
                        f"only {n_distinct} distinct customer profiles; cannot form n_clusters={k} clusters.",
                        field="n_clusters")
                continue
            km = KMeans(n_clusters=k, init="k-means++", n_init=1, random_state=self.random_state).fit(z)
            labels = km.labels_
            if len(np.unique(labels)) < 2:
                continue
            table.append({"k": k, "inertia": float(km.inertia_), **_scores(z, labels, sil_sample),
                          "stability": seed_stability(z_stab, k, seeds) if len(z_stab) > k else 1.0})
        if not table:
            raise InsufficientDataError("the customers' profiles are too alike to form two clusters.",
                                        field="n_clusters")
        return table

    def _choose_k(self, table: list[dict[str, Any]]) -> int:
        """Best by the selection metric; within `selection_tolerance` of it, the most stable k wins."""
        def score(row: dict[str, Any]) -> float:
            value = -row["davies_bouldin"] if self.selection_metric == "davies_bouldin" else row[self.selection_metric]
            return value if np.isfinite(value) else -np.inf

        best = max(score(r) for r in table)
        ties = [r for r in table if not np.isfinite(best) or score(r) >= best - float(self.selection_tolerance) * abs(best)]
        chosen = max(ties, key=lambda r: (round(r["stability"], 6), score(r)))
        self.selection_ = {"best_by_metric": int(max(table, key=score)["k"]), "tied": [int(r["k"]) for r in ties],
                           "chosen": int(chosen["k"]), "rule": "metric, then stability within tolerance"}
        return int(chosen["k"])

    def _final_kmeans(self, z: np.ndarray, k: int, n_features: int, n_ks: int) -> KMeans:
        """Warm start from the previous centroids when k matches; otherwise k-means++ with n_init starts."""
        init = None if self.init_centroids is None else np.asarray(self.init_centroids, dtype=float)
        self.warm_started_ = bool(init is not None and init.shape == (k, n_features) and np.isfinite(init).all())
        if self.warm_started_:
            return KMeans(n_clusters=k, init=self._embed_log(init), n_init=1, random_state=self.random_state).fit(z)
        return KMeans(n_clusters=k, init="k-means++", n_init=self.n_init, random_state=self.random_state).fit(z)

    def _store(self, rfm: pd.DataFrame, z: np.ndarray, km: KMeans, table: list[dict[str, Any]], k: int,
               sil_sample: np.ndarray | None, *, auto: bool) -> None:
        raw_labels = km.labels_
        monetary = rfm["monetary"].to_numpy(dtype=float)
        means = pd.Series(monetary).groupby(raw_labels).mean().reindex(range(k)).fillna(0.0).to_numpy()
        previous = None if self.init_centroids is None else np.asarray(self.init_centroids, dtype=float)
        self.matched_previous_ = bool(previous is not None and previous.ndim == 2
                                      and previous.shape[1] == len(self.features) and np.isfinite(previous).all())
        if self.matched_previous_:
            order = match_to_previous(km.cluster_centers_, self._embed_log(previous), means)
        else:
            order = np.array(sorted(range(k), key=lambda c: (-means[c], c)))
        remap = np.empty(k, dtype=int)
        remap[order] = np.arange(k)
        km.cluster_centers_ = km.cluster_centers_[order]
        self.kmeans_ = km
        self.labels_ = remap[raw_labels]
        self.k_table_ = table
        self.n_clusters_ = k
        self.auto_k_ = auto
        row = next(r for r in table if r["k"] == k)
        self.metrics_ = {"inertia": float(km.inertia_), **_scores(z, self.labels_, sil_sample),
                         "stability": row["stability"]}
        named = rfm if "tenure_days" in rfm else rfm.assign(tenure_days=0.0)
        prof = cluster_profiles(named, self.labels_)
        self.centroids_rfm_ = prof[["mean_recency_days", "mean_frequency", "mean_monetary"]].rename(
            columns=lambda c: c.removeprefix("mean_"))
        self.centroids_rfm_.index.name = "cluster"
        self.segment_types_, self.cluster_names_ = name_clusters(prof)
        self.feature_names_in_ = np.asarray(list(self.features), dtype=object)
        centers = self.kmeans_.cluster_centers_
        if self.pca_ is not None:
            centers = self.pca_.inverse_transform(centers)
        self.centroids_log_ = self.scaler_.inverse_transform(centers)  # what the next retrain starts from

    def transform(self, rfm: pd.DataFrame) -> np.ndarray:
        """Distances to every centroid (n_customers x k)."""
        self._check_fitted()
        return self.kmeans_.transform(self._embed(rfm))

    def predict(self, rfm: pd.DataFrame) -> np.ndarray:
        return np.argmin(self.transform(rfm), axis=1)

    def predict_with_confidence(self, rfm: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Cluster and confidence = 1 - d1/d2 (d1, d2 = distances to nearest and second-nearest centroid).

        1 means the customer sits on its centroid; 0 means it is exactly between two clusters.
        """
        d = self.transform(rfm)
        return np.argmin(d, axis=1), confidence_from_distances(d)

    def score(self, rfm: pd.DataFrame, y: Any = None) -> float:
        """Silhouette of the fitted clustering on `rfm` (sampled as in fit)."""
        z = self._embed(rfm)
        labels = self.kmeans_.predict(z)
        n = min(len(z), self.silhouette_sample_size)
        idx = np.random.default_rng(self.random_state).choice(len(z), size=n, replace=False)
        return float(silhouette_score(z[idx], labels[idx]))

    def cluster_name(self, labels: np.ndarray) -> np.ndarray:
        self._check_fitted()
        lookup = np.array([self.cluster_names_[c] for c in range(self.n_clusters_)], dtype=object)
        return lookup[labels]

    def segment_type(self, labels: np.ndarray) -> np.ndarray:
        self._check_fitted()
        lookup = np.array([self.segment_types_[c] for c in range(self.n_clusters_)], dtype=object)
        return lookup[labels]


def _scores(z: np.ndarray, labels: np.ndarray, sil_sample: np.ndarray | None) -> dict[str, float]:
    """The three internal scores; NaN when undefined (every customer its own cluster: k = n)."""
    if not 1 < len(np.unique(labels)) < len(z):
        return {"silhouette": float("nan"), "davies_bouldin": float("nan"), "calinski_harabasz": float("nan")}
    if sil_sample is not None:
        sub = labels[sil_sample]
        sil = silhouette_score(z[sil_sample], sub) if len(np.unique(sub)) > 1 else -1.0
    else:
        sil = silhouette_score(z, labels)
    return {"silhouette": float(sil), "davies_bouldin": float(davies_bouldin_score(z, labels)),
            "calinski_harabasz": float(calinski_harabasz_score(z, labels))}


def confidence_from_distances(distances: np.ndarray) -> np.ndarray:
    """1 - nearest/second-nearest distance, in [0, 1]."""
    if distances.shape[1] < 2:
        return np.ones(distances.shape[0])
    part = np.partition(distances, 1, axis=1)
    d1, d2 = part[:, 0], part[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        conf = np.where(d2 > 0, 1.0 - d1 / d2, 1.0)
    return np.clip(conf, 0.0, 1.0)


def segment_summary(assignments: pd.DataFrame, *, group: str = "cluster_name") -> pd.DataFrame:
    """Per segment: size, share of customers and of revenue, mean R/F/M."""
    total_n = max(len(assignments), 1)
    total_m = float(assignments["monetary"].sum()) or 1.0
    g = assignments.groupby(group, sort=False)
    out = pd.DataFrame({
        "size": g.size(),
        "mean_recency_days": g["recency_days"].mean(),
        "mean_frequency": g["frequency"].mean(),
        "mean_monetary": g["monetary"].mean(),
        "revenue": g["monetary"].sum(),
    })
    out["customer_share"] = out["size"] / total_n
    out["revenue_share"] = out["revenue"] / total_m
    return out.sort_values("revenue", ascending=False)
