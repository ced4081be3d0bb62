"""What a segmentation retrain changed, and how an earlier run's lifetime values fared. Pure pandas/numpy.

Why: a weekly retrain that quietly moves a third of the customers to another segment breaks every
campaign list built on the previous one, and a CLV that was scored once on the training's own holdout
can go stale as the shop changes. Both are measured at each retrain, from the kept history:

- segment changes: the customers present in both runs, how many changed segment type and cluster
  name, and the (from, to) transition counts;
- CLV realised: an earlier run's per-customer CLV against the revenue each customer really spent in the
  `window_days` after that run's calc date. The stored CLV covers `horizon_months` discounted months;
  it is brought to the window at the CLV's own average monthly rate
  (clv / sum of monthly discount factors x window months), so MAE and totals compare like with like.
  Spearman does not depend on that scaling.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

DAYS_PER_MONTH = 30.4375


def segment_changes(before: pd.DataFrame, after: pd.DataFrame) -> dict[str, Any]:
    """Counts of customers who kept or changed segment between two runs.

    Both frames are indexed by customer id with columns segment_type and cluster_name. Shares are of
    the customers present in both runs; `transitions` lists every (from, to) segment-type pair.
    """
    common = before.index.intersection(after.index)
    b, a = before.loc[common], after.loc[common]
    changed_type = b["segment_type"].to_numpy() != a["segment_type"].to_numpy()
    changed_name = b["cluster_name"].to_numpy() != a["cluster_name"].to_numpy()
    cells = (pd.DataFrame({"from": b["segment_type"].to_numpy(), "to": a["segment_type"].to_numpy()})
             .groupby(["from", "to"]).size().reset_index(name="customers"))
    n = len(common)
    return {
        "n_previous": int(len(before)), "n_current": int(len(after)), "n_common": int(n),
        "n_new": int(len(after.index.difference(before.index))),
        "n_gone": int(len(before.index.difference(after.index))),
        "n_changed_segment_type": int(changed_type.sum()),
        "n_changed_cluster_name": int(changed_name.sum()),
        "changed_share": round(float(changed_type.mean()), 4) if n else None,
        "transitions": [{"from": str(f), "to": str(t), "customers": int(c)}
                        for f, t, c in cells.itertuples(index=False, name=None)],
    }


def discount_sum(horizon_months: int, monthly_discount: float) -> float:
    """Sum of the monthly discount factors the CLV was computed with."""
    months = np.arange(1, int(horizon_months) + 1)
    return float((1.0 / (1 + monthly_discount) ** months).sum())


def window_factor(window_days: float, horizon_months: int, monthly_discount: float) -> float:
    """Multiplier that turns a horizon CLV into the revenue of `window_days` at the same average rate."""
    return float(window_days / DAYS_PER_MONTH / discount_sum(horizon_months, monthly_discount))


def clv_realised(predicted_clv: pd.Series, actual_revenue: pd.Series, *, window_days: float, horizon_months: int,
                 monthly_discount: float) -> dict[str, Any]:
    """Spearman, MAE and totals of an earlier run's CLV (brought to the window) against the revenue spent.

    `predicted_clv` is indexed by customer id (the earlier run's customers); a customer missing from
    `actual_revenue` spent nothing in the window.
    """
    factor = window_factor(window_days, horizon_months, monthly_discount)
    predicted = predicted_clv.to_numpy(dtype=float) * factor
    actual = actual_revenue.reindex(predicted_clv.index).fillna(0.0).to_numpy(dtype=float)
    rho = float(spearmanr(predicted, actual)[0]) if len(actual) > 2 and np.ptp(predicted) > 0 and np.ptp(actual) > 0 \
        else None
    return {
        "n_customers": int(len(actual)), "window_days": int(window_days), "window_factor": round(factor, 6),
        "spearman": None if rho is None or not np.isfinite(rho) else round(rho, 4),
        "mae": round(float(np.mean(np.abs(predicted - actual))), 4) if len(actual) else None,
        "total_predicted": round(float(predicted.sum()), 2), "total_actual": round(float(actual.sum()), 2),
        "n_buyers": int((actual > 0).sum()),
    }


def is_drifting(realised_mae: float | None, promised_mae: float | None, tolerance: float) -> bool:
    """The realised per-customer error exceeds the one the training's holdout promised by `tolerance`."""
    if realised_mae is None or promised_mae is None or not np.isfinite(promised_mae) or promised_mae <= 0:
        return False
    return bool(realised_mae > promised_mae * (1 + tolerance))
