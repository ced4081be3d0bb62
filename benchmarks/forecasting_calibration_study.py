"""Interval calibration study: would a test-blind re-weighting of the calibration errors bring the
95 % band's holdout coverage into 90-98 %?

    python benchmarks/forecasting_calibration_study.py [--models random_forest,gradient_boosting]

Fits the service exactly as `forecasting_bench.py quality` does (same data, same 30/90-day holdouts)
and records, without changing the product code, the scaled residuals the service hands to
`SeriesForecaster._quantiles`: first the calibration backtests' (blocks of refits a quarter apart,
most recent block first), then calibration + test window. From those it recomputes the holdout
coverage under alternative band rules that never look at the test window:

- `decay d`: block b (0 = most recent refit) weighs d**b in a weighted quantile (recency weighting);
- `rescale p`: block b's residuals are multiplied by (MAE of block 0 / MAE of block b)**p (earlier
  refits saw less history);
- `leave-one-block-out`: a test-blind check of the current rule: the band from the other blocks,
  scored on the left-out block;
- `pool 200`: neighbouring steps pooled until 200 errors instead of 60;
- `band x c`: the current band multiplied by c (NOT test-blind: only says how far off the band is).

Coverage is computed on scaled residuals (resid in [lo, hi]); the check against the service's own
`interval_coverage` is printed per row. Not part of the test suite. Reads ../shared/data.
"""
from __future__ import annotations

import sys
import time

import forecasting_bench as bench  # noqa: E402  (the script's folder is on sys.path)
import numpy as np
from scipy.stats import binom

from ml_predictions.services.sales_forecast import SeriesForecaster  # noqa: E402

_recorded: list[np.ndarray] = []
_original = SeriesForecaster._quantiles


def _recording(self, resid, alpha):
    _recorded.append(np.array(resid, copy=True))
    return _original(self, resid, alpha)


def weighted_quantile(vals: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Equals np.quantile(..., method='linear') when all weights are equal."""
    order = np.argsort(vals)
    v, w = vals[order], weights[order]
    if v.size == 1:
        return float(v[0])
    pos = (np.cumsum(w) - w) / (w.sum() - w[-1])
    return float(np.interp(q, pos, v))


def band(resid: np.ndarray, row_weights: np.ndarray, alpha: float = 0.05,
         min_pooled: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """The service's per-step rule (neighbouring steps pooled until 60 errors), with row weights."""
    steps = resid.shape[1]
    lo, hi = np.empty(steps), np.empty(steps)
    for h in range(steps):
        w = 0
        while True:
            vals = resid[:, max(0, h - w):h + w + 1]
            wts = np.repeat(row_weights[:, None], vals.shape[1], 1)
            keep = np.isfinite(vals)
            vals, wts = vals[keep], wts[keep]
            if vals.size >= min_pooled or w >= steps:
                break
            w += 1
        lo[h], hi[h] = weighted_quantile(vals, wts, alpha / 2), weighted_quantile(vals, wts, 1 - alpha / 2)
    return lo, hi


def coverage(test_resid: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    t = test_resid.shape[1]
    return float(((test_resid >= lo[:t] - 1e-9) & (test_resid <= hi[:t] + 1e-9)).mean())


def study(models: list[str]) -> None:
    SeriesForecaster._quantiles = _recording
    for n in (30, 90, 240, 720):
        lo, hi = int(np.ceil(0.9 * n - 1e-9)), int(np.floor(0.98 * n + 1e-9))
        p = binom.cdf(hi, n, 0.95) - binom.cdf(lo - 1, n, 0.95)
        print(f"{n} holdout points, a perfectly calibrated 95 % band, independent days: "
              f"P(coverage in [0.90, 0.98]) = {p:.3f}")
    rules = [("current", "decay", 1.0), ("decay 0.8", "decay", 0.8), ("decay 0.7", "decay", 0.7),
             ("decay 0.5", "decay", 0.5), ("rescale 0.5", "rescale", 0.5), ("rescale 1", "rescale", 1.0),
             ("pool 200", "pool", 200)]
    pooled: dict[tuple[str, str], np.ndarray] = {}
    print("| data | holdout | model | service | " + " | ".join(r[0] for r in rules)
          + " | leave-one-block-out (block 0..3) | band x c for <= 0.98 |")
    for name, frame in bench.datasets().items():
        frame.index.name = "date"
        for holdout in (30, 90):
            if len(frame) < holdout * 6:
                continue
            for model in models:
                _recorded.clear()
                start = time.perf_counter()
                fitted = SeriesForecaster(model, test_days=holdout, max_horizon=max(holdout, 90),
                                          intermittent=frame.shape[1] > 1).fit(frame)
                cal, both = _recorded[0], _recorded[1]
                test_resid = both[len(cal):]
                refits = fitted.metrics_["calibration_refits"]
                block = np.repeat(np.arange(refits), len(cal) // refits)
                covs = []
                for _label, kind, par in rules:
                    r = cal.copy()
                    weights = np.ones(len(r))
                    min_pooled = 60
                    if kind == "decay":
                        weights = par ** block.astype(float)
                    elif kind == "pool":
                        min_pooled = int(par)
                    else:
                        m0 = np.nanmean(np.abs(r[block == 0]))
                        for b in range(refits):
                            r[block == b] *= (m0 / np.nanmean(np.abs(r[block == b]))) ** par
                    covs.append(coverage(test_resid, *band(r, weights, min_pooled=min_pooled)))
                    pooled[(model, _label)] = pooled.get((model, _label), np.zeros(2)) + np.array(
                        [round(covs[-1] * test_resid.size), test_resid.size])
                lobo = []
                for b in range(refits):
                    lo, hi = band(cal[block != b], np.ones(int((block != b).sum())))
                    lobo.append(coverage(cal[block == b], lo, hi))
                lo, hi = band(cal, np.ones(len(cal)))
                need = next((round(c, 2) for c in np.arange(1.0, 0.2, -0.02)
                             if coverage(test_resid, lo * c, hi * c) <= 0.98), None)
                label = model if model != "auto" else f"auto -> {fitted.metrics_['model']}"
                print(f"| {name} | {holdout} | {label} | {fitted.metrics_['interval_coverage']:.2f} | "
                      + " | ".join(f"{c:.2f}" for c in covs)
                      + f" | {' / '.join(f'{v:.2f}' for v in lobo)} | {need} |"
                      + f"  ({time.perf_counter() - start:.1f} s)", flush=True)
    SeriesForecaster._quantiles = _original
    for (model, label), (inside, total) in pooled.items():
        print(f"pooled over every holdout: {model} {label}: {int(inside)} of {int(total)} points inside "
              f"({inside / total:.3f})")


def main() -> None:
    args = sys.argv[1:]
    models = ["random_forest", "gradient_boosting"]
    if "--models" in args:
        models = args[args.index("--models") + 1].split(",")
    study(models)


if __name__ == "__main__":
    main()
