"""Interval calibration study: would a test-blind re-weighting of the calibration errors bring the
95 % band's holdout coverage into 90-98 %?

    python benchmarks/forecasting_calibration_study.py [--models random_forest,gradient_boosting]
    python benchmarks/forecasting_calibration_study.py --rolling RESIDUALS.pkl

--rolling reads the residuals `forecasting_bench.py rolling --record RESIDUALS.pkl` kept for every
fit of every rolling window (no refit), rebuilds which series, origin and block every calibration
residual belongs to from the service's calibration layout, and scores the rules below plus three
that express the residuals in units of the series' recent level (mean of the 56 or 28 days before
each origin, or the geometric mean of that and the yearly scale the service uses): coverage of the
standard holdouts (window 0) and, per model, pooled coverage / windows in 90-98 % / mean
abs(coverage - 0.95) over the earlier and the later half of the windows separately (a rule is
chosen on the earlier half and confirmed on the later).

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
import pandas as pd
from scipy.stats import binom

from ml_predictions.estimators.forecasting.forecaster import (  # noqa: E402
    _BLOCK_SPACING,
    _MIN_CALIBRATION_CUT,
    _MIN_TRAIN_ROWS,
    _ROLL_WINDOW,
    LAGS,
    SeriesForecaster,
)

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


# --- rolling windows: band rules on the residuals recorded by `forecasting_bench.py rolling` -------

def _layout(T: int, test_days: int, n: int, refits: int) -> dict:
    """The service's calibration layout for a history of T days (rows in recording order): which
    series and origin every calibration residual row belongs to, and each block's cut."""
    test = int(min(test_days, max(7, T // 6)))
    room = T - test - test - (_ROLL_WINDOW + _MIN_TRAIN_ROWS)
    k = int(max(1, min(8, room // 7 + 1)))
    cal_cut = T - test - test - 7 * (k - 1)
    max_lag = max(lag for lag in LAGS if lag <= 28 or cal_cut - lag >= 2 * _MIN_TRAIN_ROWS)
    cuts = [cal_cut - _BLOCK_SPACING * b for b in range(4)]
    cuts = [c for c in cuts if c >= _MIN_CALIBRATION_CUT and c - max_lag >= 2 * _MIN_TRAIN_ROWS] or [cal_cut]
    assert len(cuts) == refits, (len(cuts), refits)
    series = np.concatenate([np.repeat(np.arange(n), k) for _ in cuts])
    origins = np.concatenate([np.tile(c + 7 * np.arange(k), n) for c in cuts])
    cut_of_row = np.concatenate([np.full(n * k, c) for c in cuts])
    block = np.concatenate([np.full(n * k, b) for b in range(len(cuts))])
    return {"test": test, "series": series, "origins": origins, "cut": cut_of_row, "block": block}


def _year_scale(values: np.ndarray, rows: np.ndarray, cut: np.ndarray) -> np.ndarray:
    """The service's residual scale: each series' mean over the 364 days before the cut (1 if 0)."""
    csum = np.hstack([np.zeros((values.shape[0], 1)), np.cumsum(values, 1)])
    start = np.maximum(cut - 364, 0)
    s = (csum[rows, cut] - csum[rows, start]) / (cut - start)
    return np.where(s > 0, s, 1.0)


def _local_level(values: np.ndarray, rows: np.ndarray, origin: np.ndarray, width: int,
                 fallback: np.ndarray) -> np.ndarray:
    csum = np.hstack([np.zeros((values.shape[0], 1)), np.cumsum(values, 1)])
    s = (csum[rows, origin] - csum[rows, origin - width]) / width
    return np.where(s > 1e-9, s, fallback)


def rolling_rules(path: str) -> None:
    """Coverage per window under test-blind band rules, from the residuals the rolling bench
    recorded; aggregates over the earlier and the later half of the windows separately, so a rule
    chosen on the earlier half is confirmed on windows it was not chosen on."""
    import pickle

    with open(path, "rb") as fh:
        kept = pickle.load(fh)
    frames = bench.datasets()
    rules = ["current", "decay 0.7", "rescale 0.5", "rescale 1", "pool 200", "local level 56", "local level 28",
             "local level 56, sqrt"]
    out = []
    for rec in kept:
        frame = frames[rec["data"]]
        T = len(frame) - rec["window"] * rec["holdout"]
        values = np.maximum(np.nan_to_num(frame.to_numpy(dtype=float).T[:, :T]), 0.0)
        n = values.shape[0]
        cal, test_resid = rec["cal"], rec["test"]
        lay = _layout(T, rec["holdout"], n, rec["refits"])
        assert len(lay["series"]) == len(cal), (len(lay["series"]), len(cal))
        test_origin = T - lay["test"]
        all_rows = np.arange(n)
        cal_year = _year_scale(values, lay["series"], lay["cut"])
        test_year = _year_scale(values, all_rows, np.full(n, test_origin))
        covs = {}
        for rule in rules:
            r, t = cal.copy(), test_resid.copy()
            weights = np.ones(len(r))
            min_pooled = 60
            if rule.startswith("decay"):
                weights = float(rule.split()[1]) ** lay["block"].astype(float)
            elif rule.startswith("rescale"):
                p = float(rule.split()[1])
                m0 = np.nanmean(np.abs(r[lay["block"] == 0]))
                for b in range(rec["refits"]):
                    r[lay["block"] == b] *= (m0 / np.nanmean(np.abs(r[lay["block"] == b]))) ** p
            elif rule == "pool 200":
                min_pooled = 200
            elif rule.startswith("local level"):
                width = int(rule.split()[2].rstrip(","))
                power = 0.5 if rule.endswith("sqrt") else 1.0
                cal_local = _local_level(values, lay["series"], lay["origins"], width, cal_year)
                test_local = _local_level(values, all_rows, np.full(n, test_origin), width, test_year)
                # residual in units of the local level (or of the geometric mean with the yearly scale)
                r *= ((cal_year / cal_local) ** power)[:, None]
                t *= ((test_year / test_local) ** power)[:, None]
            covs[rule] = coverage(t, *band(r, weights, min_pooled=min_pooled))
        assert abs(covs["current"] - rec["coverage_95"]) < 1e-3, (rec["data"], covs["current"], rec["coverage_95"])
        out.append({**{k: rec[k] for k in ("data", "holdout", "window", "model")}, "points": t.size, **covs})
    table = pd.DataFrame(out)
    print("Standard holdouts (window 0 = the last 30 / 90 days), coverage per rule:")
    print("| data | holdout | model | " + " | ".join(rules) + " |")
    print("|---|---|---|" + "---|" * len(rules))
    for _, r in table[table["window"] == 0].iterrows():
        print(f"| {r['data']} | {r['holdout']} | {r['model']} | " + " | ".join(f"{r[c]:.2f}" for c in rules) + " |")
    count = table["holdout"].map(bench.ROLLING_WINDOWS)
    table["half"] = np.where(table["window"] >= count // 2, "earlier", "later")
    for model, g_model in table.groupby("model"):
        for half in ("earlier", "later"):
            g_half = g_model[g_model["half"] == half]
            print(f"\n{model}, {half} half of the windows: pooled coverage / windows in 90-98 % "
                  f"(perfect band: expected) / mean |coverage - 0.95|")
            print("| data | holdout | windows | " + " | ".join(rules) + " |")
            print("|---|---|---|" + "---|" * len(rules))
            groups = [*g_half.groupby(["data", "holdout"]), (("all", "30+90"), g_half)]
            for (data, holdout), g in groups:
                if g.empty:
                    continue
                expected = sum(bench._binomial_in_range(int(p)) for p in g["points"])
                cells = []
                for rule in rules:
                    pooled = float((g[rule] * g["points"]).sum() / g["points"].sum())
                    in_range = int(((g[rule] >= 0.9 - 1e-9) & (g[rule] <= 0.98 + 1e-9)).sum())
                    cells.append(f"{pooled:.3f} / {in_range} ({expected:.1f}) / {np.abs(g[rule] - 0.95).mean():.3f}")
                print(f"| {data} | {holdout} | {len(g)} | " + " | ".join(cells) + " |")


def main() -> None:
    args = sys.argv[1:]
    if "--rolling" in args:
        rolling_rules(args[args.index("--rolling") + 1])
        return
    models = ["random_forest", "gradient_boosting"]
    if "--models" in args:
        models = args[args.index("--models") + 1].split(",")
    study(models)


if __name__ == "__main__":
    main()
