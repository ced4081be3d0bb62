"""The purchase-model diagnostics users of lifetimes and PyMC-Marketing ask for, as plain numbers.

Pure numpy/scipy/pandas. Computed once at training (the API only draws them):
- calibration vs holdout: customers grouped by their repeat purchases in the calibration period; per
  group the mean purchases they really made in the holdout beside the mean the model (fitted on the
  calibration period only) expected. A model that tracks the diagonal ranks customers honestly.
- probability-alive matrix: P(alive) over a grid of frequency (repeat purchases) x recency (age at the
  last purchase, t_x) for a customer observed as long as the longest-observed one.
- expected vs actual cumulative repeat purchases over the calendar, calibration and holdout: the
  model's unconditional expectation summed over customers from each one's first purchase.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import hyp2f1

from ml_predictions.errors import InsufficientDataError
from ml_predictions.estimators.segmentation.clv_candidates import fit_probabilistic
from ml_predictions.estimators.segmentation.clv_data import PurchaseHistory, days_between, summary_at

FREQUENCY_BUCKETS = 7  # 0..6 repeat purchases, then "7+"
MATRIX_SIZE = 20
CUMULATIVE_POINTS = 60


def calibration_vs_holdout(model: Any, history: PurchaseHistory, cal_end: int) -> list[dict[str, Any]]:
    """Per calibration-frequency bucket: customers, mean actual and mean expected holdout purchases."""
    s = summary_at(history, cal_end)
    horizon = history.end - cal_end
    actual = days_between(history, cal_end, history.end, s.index)
    expected = model.expected_purchases(horizon, s["x"], s["t_x"], s["T"])
    bucket = np.minimum(s["x"].to_numpy().astype(int), FREQUENCY_BUCKETS)
    rows = []
    for b in range(FREQUENCY_BUCKETS + 1):
        mask = bucket == b
        if mask.any():
            rows.append({"frequency": str(b) if b < FREQUENCY_BUCKETS else f"{FREQUENCY_BUCKETS}+",
                         "customers": int(mask.sum()), "actual": float(actual[mask].mean()),
                         "expected": float(expected[mask].mean())})
    return rows


def probability_alive_matrix(model: Any, history: PurchaseHistory) -> dict[str, Any]:
    """P(alive) on a frequency x recency grid at the longest observation time T (rows: frequency)."""
    s = summary_at(history, history.end)
    T = float(s["T"].max())
    max_x = float(max(1.0, np.quantile(s["x"], 0.99)))
    freq = np.unique(np.round(np.linspace(0, max_x, MATRIX_SIZE)))
    recency = np.linspace(0, T, MATRIX_SIZE)
    fx, rx = np.meshgrid(freq, recency, indexing="ij")
    alive = model.probability_alive(fx.ravel(), rx.ravel(), np.full(fx.size, T)).reshape(fx.shape)
    alive[fx == 0] = model.probability_alive(0.0, 0.0, T)  # no repeat purchase: recency is meaningless
    return {"frequency": freq.tolist(), "recency_days": recency.round(1).tolist(), "T_days": T,
            "p_alive": alive.round(4).tolist()}


def unconditional_purchases(params: dict[str, float], t: np.ndarray) -> np.ndarray:
    """BG/NBD E[X(t)]: expected repeat purchases in the first t days after a first purchase (FHL 2005 eq. 9)."""
    r, alpha, a, b = params["r"], params["alpha"], params["a"], params["b"]
    t = np.asarray(t, dtype=float)
    with np.errstate(invalid="ignore", over="ignore"):
        out = (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, t / (alpha + t)))
    return np.clip(np.nan_to_num(out, nan=0.0), 0.0, None)


def cumulative_purchases(params: dict[str, float], history: PurchaseHistory, cal_end: int | None
                         ) -> dict[str, Any]:
    """Actual vs expected cumulative repeat purchases on CUMULATIVE_POINTS days (day numbers from the start).

    Customers are those first seen before `cal_end` (the calibration cohort) when a split is given.
    """
    s = summary_at(history, cal_end if cal_end is not None else history.end)
    first = s["first"].to_numpy()
    cohort = s.index.to_numpy()
    grid = np.unique(np.linspace(history.start, history.end, CUMULATIVE_POINTS).round().astype(int))
    # actual: repeat purchase days (every purchase day after the customer's first) up to each grid day
    in_cohort = np.isin(history.code, cohort)
    first_of = np.full(history.n_customers, np.iinfo(np.int64).max)
    first_of[cohort] = first
    repeat_days = np.sort(history.day[in_cohort & (history.day > first_of[history.code])])
    actual = np.searchsorted(repeat_days, grid, side="right")
    births, weight = np.unique(first, return_counts=True)  # one column per first-purchase day, not per customer
    ages = np.clip(grid[:, None] - births[None, :], 0, None)
    expected = (unconditional_purchases(params, ages) * weight[None, :]).sum(axis=1)
    return {"day": (grid - history.start).tolist(), "actual": actual.astype(float).tolist(),
            "expected": expected.round(2).tolist(), "calibration_end_day": None if cal_end is None
            else int(cal_end - history.start), "customers": int(len(cohort))}


def purchase_diagnostics(history: PurchaseHistory, cal_end: int | None, *, min_repeat_customers: int = 2
                         ) -> dict[str, Any]:
    """All three diagnostics of BG/NBD (the purchase model behind P(alive)), or the reason they are missing.

    The calibration chart and the cumulative curve use BG/NBD fitted on the calibration period only
    (days before `cal_end`, the selection's split); the P(alive) matrix uses the fit on all history.
    """
    out: dict[str, Any] = {"model": "bgnbd"}
    try:
        full, _, _ = fit_probabilistic(history, history.end, kind="bgnbd", min_repeat_customers=min_repeat_customers)
    except InsufficientDataError as exc:
        return {"model": "bgnbd", "unavailable": str(exc)}
    out["p_alive_matrix"] = probability_alive_matrix(full, history)
    model = full
    if cal_end is not None:
        try:
            model, _, _ = fit_probabilistic(history, cal_end, kind="bgnbd", min_repeat_customers=min_repeat_customers)
            out["calibration_vs_holdout"] = calibration_vs_holdout(model, history, cal_end)
        except InsufficientDataError as exc:
            out["calibration_unavailable"] = str(exc)
            model, cal_end = full, None
    out["cumulative_purchases"] = cumulative_purchases(model.params_, history, cal_end)
    return out
