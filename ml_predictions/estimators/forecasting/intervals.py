"""Conformal intervals from rolling-origin errors.

`step_quantiles` (the global model's product-level band): per-step empirical quantiles of signed
scaled errors.

`conformal_band` (the `auto` selection's band, total and category level). Measured on 7 real daily
series x 6 rolling 30-day windows, the chosen model's own backtest errors under-cover badly (95 %
band held 0.78): its 5 selection windows span the last ~3 months only (one season, a calm one is
typical), and the model was chosen *because* it erred least on them, so its next month errs
1.2-1.5x more than its backtest. The band therefore pools two kinds of errors, each in units of the
series' level (mean of the 28 days before the origin, so a growth phase widens the band):

- the chosen model's and the next best candidates' absolute errors on the selection windows;
- a reference model's (seasonal-naive, free to run) absolute errors from weekly origins over the
  last year, which sample every season's surprises, times rho: the chosen model's error relative to
  the reference on the selection windows, never below `rho_min` (selection optimism).

Each set becomes a per-step half-width: a horizon profile (mean error per step, neighbours pooled,
non-decreasing, so the band widens with the horizon) times the finite-sample conformal quantile of
the errors divided by that profile (order statistic ceil((n+1)(1-alpha)) of n). The band takes the
wider of the two at every step. Beyond the backtested steps it grows with sqrt(step), the
random-walk rate. Lower bounds are clipped at 0.

Coverage is reported per window and pooled: each selection window is scored with a band built
without any window (own or reference) that shares a day with it. It still scores the windows the
model was chosen on, so it reads higher than out-of-sample coverage (benchmarks/forecasting_auto_bench.py).
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


_PROFILE_HALF_WINDOW = 3


def conformal_quantile(scores: np.ndarray, alpha: float) -> float:
    """The finite-sample split-conformal quantile of nonconformity scores: the ceil((n+1)(1-alpha))-th
    smallest of the n finite scores (the largest when that rank exceeds n; NaN when there are none).
    With exchangeable scores a new one falls at or below it with probability >= 1 - alpha."""
    vals = np.sort(np.asarray(scores, dtype=float).ravel())
    vals = vals[np.isfinite(vals)]
    n = vals.size
    if n == 0:
        return float("nan")
    rank = int(np.ceil((n + 1) * (1 - float(alpha))))
    return float(vals[min(max(rank, 1), n) - 1])


def horizon_profile(scores: np.ndarray) -> np.ndarray:
    """(steps,) mean absolute scaled error per step (steps h-3..h+3 pooled), made non-decreasing: an
    error never shrinks with the distance to the origin. NaN-only steps take the previous step's."""
    steps = scores.shape[1]
    prof = np.full(steps, np.nan)
    for h in range(steps):
        vals = scores[:, max(0, h - _PROFILE_HALF_WINDOW):h + _PROFILE_HALF_WINDOW + 1]
        vals = vals[np.isfinite(vals)]
        if vals.size:
            prof[h] = vals.mean()
    prof = np.where(np.isfinite(prof), prof, 0.0)
    return np.maximum.accumulate(prof)


def half_width(scores: np.ndarray, alpha: float) -> np.ndarray:
    """(steps,) conformal half-width of scores (rows x steps of |error| / level, NaN = not scored):
    profile x conformal quantile of the profile-normalised scores (all steps pooled)."""
    if not np.isfinite(scores).any():
        return np.zeros(scores.shape[1])
    prof = horizon_profile(scores)
    safe = np.where(prof > 0, prof, np.nan)
    q = conformal_quantile(scores / safe[None, :], alpha)
    return np.nan_to_num(q * prof, nan=0.0)


def extend(half: np.ndarray, max_horizon: int) -> np.ndarray:
    """A half-width over 1..max_horizon: backtested steps as they are, later ones grow with sqrt."""
    steps = half.size
    h = np.arange(1, int(max_horizon) + 1)
    idx = np.minimum(h, steps) - 1
    return half[idx] * np.sqrt(np.maximum(h / steps, 1.0))


def error_ratio(own: np.ndarray, ref: np.ndarray) -> float:
    """Mean of own over mean of ref (both |error| / level on the same windows and days); 1 without data."""
    both = np.isfinite(own) & np.isfinite(ref)
    if not both.any() or ref[both].mean() <= 0:
        return 1.0
    return float(own[both].mean() / ref[both].mean())


def conformal_band(
    own: np.ndarray, ref: np.ndarray | None, rho: float, alpha: float, steps: int,
) -> np.ndarray:
    """(steps,) half-width in level units: the wider of the own-error band and rho x the reference
    band (see the module docstring). own, ref: rows x backtested steps of |error| / level."""
    half = half_width(own, alpha)
    if ref is not None and ref.size and np.isfinite(ref).any():
        half = np.maximum(half, rho * half_width(ref, alpha))
    return extend(half, steps)


def band_coverage(
    pred: np.ndarray, actual: np.ndarray, level: np.ndarray, open_days: np.ndarray, half_for: object,
) -> tuple[float, list[float]]:
    """(pooled, per-window) coverage of backtest windows (origins x series x steps) where
    half_for(i) gives window i's (steps,) half-width in level units built without window i."""
    k = pred.shape[0]
    if k < 2:
        return float("nan"), []
    per_window, hits, total = [], 0, 0
    for i in range(k):
        half = half_for(i)
        lower = np.maximum(pred[i] - half[None, :] * level[i][:, None], 0.0)
        upper = pred[i] + half[None, :] * level[i][:, None]
        inside = (actual[i] >= lower - 1e-9) & (actual[i] <= upper + 1e-9)
        mask = open_days[i]
        n = int(mask.sum())
        if n:
            per_window.append(float(inside[mask].mean()))
            hits += int(inside[mask].sum())
            total += n
    return (hits / total if total else float("nan")), per_window
