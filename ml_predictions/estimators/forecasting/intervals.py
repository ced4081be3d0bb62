"""Conformal intervals from rolling-origin errors: the band at step h is the empirical quantile of
the backtest errors at step h (in units of the series' recent level), so it is as wide as the
model's real errors at that distance, and it widens with the level as a growing shop's errors do.

Coverage is reported honestly: each backtest window is scored with a band built from the OTHER
windows' errors only (leave one origin out), never from its own.
"""
from __future__ import annotations

import numpy as np

_MIN_POOLED = 60


def step_quantiles(resid: np.ndarray, alpha: float, max_horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-step (1..max_horizon) lower/upper quantiles of scaled errors `resid` (rows x steps, NaN =
    no error there, e.g. a closed day).

    Step h pools the errors of steps h-w..h+w, w growing until at least 60 errors are pooled, so a
    single series with a few origins still gets a stable band. Beyond the backtested steps the last
    band grows with sqrt(step / backtested steps), the random-walk rate."""
    steps = resid.shape[1]
    lo_s, hi_s = np.zeros(steps), np.zeros(steps)
    for h in range(steps):
        w = 0
        while True:
            vals = resid[:, max(0, h - w):h + w + 1].ravel()
            vals = vals[np.isfinite(vals)]
            if vals.size >= _MIN_POOLED or w >= steps:
                break
            w += 1
        if vals.size:
            lo_s[h], hi_s[h] = np.quantile(vals, alpha / 2), np.quantile(vals, 1 - alpha / 2)
    h = np.arange(1, int(max_horizon) + 1)
    grow = np.sqrt(np.maximum(h / steps, 1.0))
    idx = np.minimum(h, steps) - 1
    return lo_s[idx] * grow, hi_s[idx] * grow


def leave_one_origin_out_coverage(
    pred: np.ndarray, actual: np.ndarray, level: np.ndarray, open_days: np.ndarray, alpha: float,
) -> tuple[float, list[float]]:
    """(pooled, per-window) coverage of the conformal band on backtest windows (origins x series x
    steps), each window's band built from the other windows' scaled errors. Closed days (open_days
    False) are neither scored nor used: their forecast is exactly 0 by construction."""
    k, _, steps = pred.shape
    resid = np.where(open_days, (actual - pred) / level[:, :, None], np.nan)
    if k < 2:
        return float("nan"), []
    per_window, hits, total = [], 0, 0
    for i in range(k):
        others = np.delete(resid, i, axis=0).reshape(-1, steps)
        lo, hi = step_quantiles(others, alpha, steps)
        lower = np.maximum(pred[i] + lo[None, :] * level[i][:, None], 0.0)
        upper = np.maximum(pred[i] + hi[None, :] * level[i][:, None], 0.0)
        inside = (actual[i] >= lower - 1e-9) & (actual[i] <= upper + 1e-9)
        mask = open_days[i]
        n = int(mask.sum())
        if n:
            per_window.append(float(inside[mask].mean()))
            hits += int(inside[mask].sum())
            total += n
    return (hits / total if total else float("nan")), per_window
