"""`auto` (rolling-origin selection) against statsforecast on identical rolling windows: MASE and the
95 % / 80 % bands' coverage.

    BENCH_PYTHON=/work/bench-venv/bin/python python benchmarks/forecasting_auto_bench.py [--windows 6] [--horizon 30]
        [--only name,...] [--skip-80]
    python benchmarks/forecasting_auto_bench.py --speed        # total-level training time, two years
    DEBUG=1 python benchmarks/forecasting_auto_bench.py --latency   # predict-sales through the API, `auto`

For every real daily series of `_forecast_series.py` and each of the last `--windows` 30-day windows
(14 days apart, the last ending on the series' last day; closer together, and on down to 90 days of
history, for a series too short for that: `window_plan`), the history is cut at the window's start,
our AutoSeriesForecaster is fitted as training fits a total-level revenue series (statistical
candidates, random forest, two combinations) and statsforecast AutoETS / AutoARIMA / MSTL /
SeasonalNaive forecast the same window with their own 80 / 95 % intervals (benchmark venv).

Printed per series: the model AutoETS picked in each window beside ours, mean MASE (in-sample weekly seasonal-naive scale), pooled and per-window 95 %
coverage, pooled 80 % coverage, mean band width / mean level of the window's history (28 days) and
the mean 95 % interval (Winkler) score / level (lower is better: width plus 2/alpha x the miss).
Days the shop was shut by construction (the closed variant's Saturdays and Christmas) are not
scored: nobody can sell on them, and a model cannot know a closure its history never showed.
Reads ../shared/data at run time; prints `uptime` (the machine is shared).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from _forecast_series import real_series  # noqa: E402
from _paths import BENCH_PYTHON  # noqa: E402

from ml_predictions.estimators.forecasting.selection import (  # noqa: E402
    AUTO_STATISTICAL,
    COMBINATIONS,
    AutoSeriesForecaster,
)

SF_SCRIPT = """
import json, sys, numpy as np, pandas as pd
from statsforecast import StatsForecast
from statsforecast.models import AutoETS, AutoARIMA, MSTL, SeasonalNaive
jobs = json.load(open(sys.argv[1])); out = {}
for key, job in jobs.items():
    df = pd.DataFrame({"unique_id": "a", "ds": pd.date_range(job["start"], periods=len(job["y"]), freq="D"), "y": job["y"]})
    sf = StatsForecast(models=[AutoETS(season_length=7), AutoARIMA(season_length=7), MSTL(season_length=[7]),
                               SeasonalNaive(7)], freq="D").fit(df=df)
    fc = sf.predict(h=job["h"], level=[80, 95])
    out[key] = {c: fc[c].tolist() for c in fc.columns if c not in ("ds", "unique_id")}
    out[key]["AutoETS-method"] = sf.fitted_[0, 0].model_["method"]
json.dump(out, open(sys.argv[2], "w"))
"""
PEERS = ("AutoETS", "AutoARIMA", "MSTL", "SeasonalNaive")
SPACING, MIN_HISTORY, SHORT_MIN_HISTORY = 14, 120, 90


def shut_by_construction(name: str, dates: pd.DatetimeIndex) -> np.ndarray:
    if not name.endswith("_closed"):
        return np.zeros(len(dates), dtype=bool)
    return np.asarray((dates.day_of_week == 5) | ((dates.month == 12) & (dates.day >= 24))
                      | ((dates.month == 1) & (dates.day <= 2)))


def window_plan(n_days: int, horizon: int, windows: int) -> tuple[int, int]:
    """(spacing, minimum history) of the rolling windows: 14 days apart with 120 days of history
    (training's default minimum), closer together (down to 7 days) and then down to 90 days of history
    for a series too short to hold `windows` of them (Bread Basket's 162 days)."""
    room = n_days - horizon - MIN_HISTORY
    if windows <= 1 or room >= SPACING * (windows - 1):
        return SPACING, MIN_HISTORY
    spacing = max(7, room // (windows - 1))
    return spacing, max(SHORT_MIN_HISTORY, min(MIN_HISTORY, n_days - horizon - spacing * (windows - 1)))


def band_scores(pred, lo, hi, test, scored, level, alpha):
    inside = (test >= lo - 1e-9) & (test <= hi + 1e-9)
    wink = (hi - lo) + 2 / alpha * np.maximum(lo - test, 0) + 2 / alpha * np.maximum(test - hi, 0)
    return inside[scored].tolist(), float((hi - lo)[scored].mean() / level), float(wink[scored].mean() / level)


def speed(repeats: int = 2) -> None:
    """Total-level training time on two years (the pharmacy total): the revenue model with every
    revenue candidate and the units model with the statistical ones, as training fits them."""
    total = real_series()["pharma_total_2y"].to_frame("total")
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        AutoSeriesForecaster((*AUTO_STATISTICAL, "random_forest", *COMBINATIONS), max_horizon=365).fit(total)
        t1, c1 = time.perf_counter(), time.process_time()
        AutoSeriesForecaster((*AUTO_STATISTICAL, *COMBINATIONS), max_horizon=365).fit(total / 30.0)
        t2, c2 = time.perf_counter(), time.process_time()
        print(f"total level on 730 days: revenue {t1 - t0:.2f} s + units {t2 - t1:.2f} s = {t2 - t0:.2f} s wall; "
              f"CPU {c1 - c0:.2f} + {c2 - c1:.2f} = {c2 - c0:.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--speed", action="store_true", help="only time total-level training on two years")
    ap.add_argument("--latency", action="store_true",
                    help="only time predict-sales through the API from an `auto` model (generator, 2 years)")
    ap.add_argument("--windows", type=int, default=6)
    ap.add_argument("--horizon", type=int, default=30)
    ap.add_argument("--only", default="")
    ap.add_argument("--skip-80", action="store_true", help="fit ours at 95 %% only (half the time; no 80 %% column)")
    args = ap.parse_args()
    h = args.horizon
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    if args.latency:
        import forecasting_bench

        lines, cats = forecasting_bench.generator_lines(years=2.0, orders=30_000)
        print(forecasting_bench.predict_latency(lines, cats, model="auto"))
        return
    if args.speed:
        speed()
        print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
        return
    jobs, ours = {}, {}
    for name, s in real_series().items():
        if args.only and name not in args.only.split(","):
            continue
        spacing, min_hist = window_plan(len(s), h, args.windows)
        for w in range(args.windows):
            start = len(s) - spacing * w - h
            if start < min_hist:  # also catches a negative start, which iloc would read from the end
                continue
            hist, test = s.iloc[:start], s.iloc[start:start + h]
            t0 = time.perf_counter()
            fits = {}
            for level in (0.95,) if args.skip_80 else (0.95, 0.8):
                fits[level] = AutoSeriesForecaster((*AUTO_STATISTICAL, "random_forest", *COMBINATIONS), horizon=h,
                                                   max_horizon=h, interval_level=level,
                                                   min_history_days=min_hist).fit(hist.to_frame("x"))
                if level == 0.95:
                    secs = time.perf_counter() - t0
            m = fits[0.95]
            ours[(name, w)] = dict(
                pred=m.forecast_[0].astype(float), bands={lv: (f.lower_[0], f.upper_[0]) for lv, f in fits.items()},
                test=test.to_numpy(), y=hist.to_numpy(), secs=secs, chosen=m.model_type_,
                scored=~shut_by_construction(name, test.index), level=max(hist.iloc[-28:].mean(), 1e-9),
                loo=m.metrics_["interval_coverage"])
            jobs[f"{name}|{w}"] = {"start": str(hist.index[0].date()), "y": hist.tolist(), "h": h}
            print(f"  fitted {name} window {w}: {m.model_type_} in {secs:.1f} s", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "in.json").write_text(json.dumps(jobs))
        subprocess.run([str(BENCH_PYTHON), "-c", SF_SCRIPT, f"{tmp}/in.json", f"{tmp}/out.json"], check=True,
                       capture_output=True)
        peer = json.loads(Path(tmp, "out.json").read_text())
    rows: dict[str, dict] = {}
    for (name, w), o in ours.items():
        scale = np.abs(o["y"][7:] - o["y"][:-7]).mean()
        test, sc, lvl = o["test"], o["scored"], o["level"]
        p = peer[f"{name}|{w}"]
        cands = {"ours": (o["pred"], o["bands"][0.95], o["bands"].get(0.8))}
        for k in PEERS:
            band = {lv: (np.maximum(np.array(p[f"{k}-lo-{lv}"]), 0), np.maximum(np.array(p[f"{k}-hi-{lv}"]), 0))
                    for lv in (95, 80) if f"{k}-lo-{lv}" in p}
            cands[k] = (np.maximum(np.array(p[k]), 0), band.get(95), band.get(80))
        r = rows.setdefault(name, {"secs": [], "chosen": [], "loo": [], "ets_method": []})
        r["ets_method"].append(p.get("AutoETS-method", "?"))
        r["secs"].append(o["secs"])
        r["chosen"].append(o["chosen"])
        r["loo"].append(o["loo"])
        for k, (pred, b95, b80) in cands.items():
            d = r.setdefault(k, {"mase": [], "in95": [], "win95": [], "in80": [], "width": [], "wink": []})
            d["mase"].append(float(np.abs(pred - test)[sc].mean() / scale))
            if b95 is not None:
                ins, width, wink = band_scores(pred, *b95, test, sc, lvl, 0.05)
                d["in95"] += ins
                d["win95"].append(float(np.mean(ins)))
                d["width"].append(width)
                d["wink"].append(wink)
            if b80 is not None:
                d["in80"] += band_scores(pred, *b80, test, sc, lvl, 0.2)[0]
    pooled: dict[str, list] = {}
    print(f"\n{'series':32s} {'model':13s} {'MASE':>6s} {'cov95':>6s} {'cov80':>6s} {'width':>6s} {'winkler':>7s}  "
          "per-window 95 % coverage")
    for name, r in rows.items():
        for k in ("ours", *PEERS):
            d = r[k]
            pooled.setdefault(k, []).extend(d["in95"])
            cov95 = f"{np.mean(d['in95']):6.3f}" if d["in95"] else "     -"
            cov80 = f"{np.mean(d['in80']):6.3f}" if d["in80"] else "     -"
            width = f"{np.mean(d['width']):6.2f}" if d["width"] else "     -"
            wink = f"{np.mean(d['wink']):7.2f}" if d["wink"] else "      -"
            print(f"{name:32s} {k:13s} {np.mean(d['mase']):6.3f} {cov95} {cov80} {width} {wink}  "
                  + " ".join(f"{v:.2f}" for v in d["win95"]))
        print(f"{'':32s} ours: fit {np.mean(r['secs']):.1f} s/window; chosen {', '.join(r['chosen'])}; "
              f"reported leave-one-origin-out 95 % coverage {', '.join(f'{v:.2f}' for v in r['loo'])}")
        ours_m, ets_m = np.mean(r["ours"]["mase"]), np.mean(r["AutoETS"]["mase"])
        print(f"{'':32s} AutoETS chose {', '.join(r['ets_method'])}; per-window MASE ours "
              + " ".join(f"{v:.3f}" for v in r["ours"]["mase"]) + " | AutoETS "
              + " ".join(f"{v:.3f}" for v in r["AutoETS"]["mase"])
              + f"; ours {'<=' if ours_m <= ets_m else '>'} AutoETS ({ours_m:.4f} vs {ets_m:.4f})")
    print("\npooled 95 % coverage over every series and window: "
          + ", ".join(f"{k} {np.mean(v):.3f} ({len(v)} days)" for k, v in pooled.items() if v))
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
