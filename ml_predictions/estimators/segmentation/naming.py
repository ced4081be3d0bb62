"""Segment names from the centroids' RFM profile, never from K-means' arbitrary cluster numbers.

Pure numpy/pandas/scipy. Each cluster's standardized (recentness, frequency, monetary, newness)
profile is matched to six prototypes; see `name_clusters` for the rule.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

SEGMENT_TYPES: tuple[str, ...] = ("vip", "frequent", "occasional", "at_risk", "new", "inactive")

# Prototype profile of each segment type in standardized space: (recentness, frequency, monetary, newness).
# recentness = -z(log recency), newness = -z(log tenure). A cluster is matched to the closest prototype.
SEGMENT_PROTOTYPES: dict[str, tuple[float, float, float, float]] = {
    "vip": (0.8, 1.5, 1.8, -0.5),
    "frequent": (0.8, 1.0, 0.4, -0.3),
    "occasional": (0.0, -0.2, -0.2, 0.0),
    "at_risk": (-1.0, 0.4, 0.4, -0.5),
    "new": (1.0, -0.8, -0.5, 1.5),
    "inactive": (-1.6, -1.0, -1.0, 0.0),
}


# How much worse (squared distance) the one-to-one type may fit than the nearest type before it is dropped.
NAME_MARGIN = 2.0



def cluster_profiles(rfm: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """Per cluster: mean raw R/F/M/tenure and the standardized log profile used for naming."""
    logs = pd.DataFrame({
        "recentness": -np.log1p(rfm["recency_days"].to_numpy(dtype=float)),
        "frequency": np.log1p(rfm["frequency"].to_numpy(dtype=float)),
        "monetary": np.log1p(rfm["monetary"].to_numpy(dtype=float)),
        "newness": -np.log1p(rfm["tenure_days"].to_numpy(dtype=float)) if "tenure_days" in rfm
        else np.zeros(len(rfm)),
    })
    std = logs.std(ddof=0).replace(0, 1.0)
    z = (logs - logs.mean()) / std
    z["cluster"] = labels
    prof = z.groupby("cluster").mean()
    raw = pd.DataFrame({"cluster": labels, "mean_recency_days": rfm["recency_days"].to_numpy(dtype=float),
                        "mean_frequency": rfm["frequency"].to_numpy(dtype=float),
                        "mean_monetary": rfm["monetary"].to_numpy(dtype=float)}).groupby("cluster").mean()
    return prof.join(raw)


def name_clusters(profiles: pd.DataFrame) -> tuple[dict[int, str], dict[int, str]]:
    """Deterministic segment type and unique name per cluster, for any k.

    Rule: each cluster's standardized profile (recentness, frequency, monetary, newness) is compared
    with the six prototypes in SEGMENT_PROTOTYPES by squared Euclidean distance. The first
    min(k, 6) types are assigned one-to-one by an optimal assignment (Hungarian algorithm), so with
    k <= 6 clusters normally get distinct types — except that a cluster whose assigned prototype is
    farther than its nearest one by more than NAME_MARGIN (2.0) takes the nearest type instead (two
    lapsed clusters are both 'inactive', not one of them 'new'). Clusters left over (k > 6) take their
    closest type; a type
    held by several clusters gets a numeric suffix in `cluster_name` ("frequent", "frequent_2", ...),
    numbered by descending mean monetary value, so names are always unique and never silently merged.
    Returns (segment_type by cluster, cluster_name by cluster).
    """
    clusters = list(profiles.index)
    proto = np.array([SEGMENT_PROTOTYPES[t] for t in SEGMENT_TYPES])
    prof = profiles[["recentness", "frequency", "monetary", "newness"]].to_numpy(dtype=float)
    cost = ((prof[:, None, :] - proto[None, :, :]) ** 2).sum(axis=2)
    rows, cols = linear_sum_assignment(cost)
    seg_type: dict[int, str] = {}
    for r, c in zip(rows, cols, strict=True):
        nearest = int(np.argmin(cost[r]))
        # one-to-one, unless that forces a clearly wrong name: then the nearest type (suffixed below)
        seg_type[int(clusters[r])] = SEGMENT_TYPES[c if cost[r, c] - cost[r, nearest] <= NAME_MARGIN else nearest]
    for i, c in enumerate(clusters):
        if int(c) not in seg_type:
            seg_type[int(c)] = SEGMENT_TYPES[int(np.argmin(cost[i]))]
    names: dict[int, str] = {}
    value = profiles["mean_monetary"]
    by_value = sorted(clusters, key=lambda c: (-float(value.loc[c]), int(c)))
    counts: dict[str, int] = {}
    for c in by_value:
        t = seg_type[int(c)]
        counts[t] = counts.get(t, 0) + 1
        names[int(c)] = t if counts[t] == 1 else f"{t}_{counts[t]}"
    return seg_type, names
