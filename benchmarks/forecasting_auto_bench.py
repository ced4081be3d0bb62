"""`auto` (rolling-origin selection) against statsforecast on identical rolling windows.

    BENCH_PYTHON=/work/bench-venv/bin/python python benchmarks/forecasting_auto_bench.py [--windows 4] [--horizon 30]

For every real series (pharmacy total, N02BE, the pharmacy total cut to 344 days ending in its
strongest rise and the same with Saturdays/Christmas closed, Bread Basket's daily lines) and each of
the last `--windows` 30-day windows (14 days apart), the history is cut at the window's start, our
AutoSeriesForecaster is fitted exactly as training does for one total-level series, and statsforecast
AutoETS / AutoARIMA / MSTL / SeasonalNaive forecast the same window in the benchmark venv. Prints per
series mean MASE (in-sample weekly seasonal-naive scale), pooled 95 % coverage and our fit time, with
`uptime` (the machine is shared). Reads ../shared/data at run time.
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
from _paths import BENCH_PYTHON, SHARED_DATA  # noqa: E402

from ml_predictions.estimators.forecasting import AutoSeriesForecaster  # noqa: E402

SF_SCRIPT = """
import json, sys, numpy as np, pandas as pd
from statsforecast import StatsForecast
from statsforecast.models import AutoETS, AutoARIMA, MSTL, SeasonalNaive
jobs = json.load(open(sys.argv[1])); out = {}
for key, job in jobs.items():
    df = pd.DataFrame({"unique_id": "a", "ds": pd.date_range(job["start"], periods=len(job["y"]), freq="D"), "y": job["y"]})
    fc = StatsForecast(models=[AutoETS(season_length=7), AutoARIMA(season_length=7), MSTL(season_length=[7]),
                               SeasonalNaive(7)], freq="D").forecast(df=df, h=job["h"])
    out[key] = {c: fc[c].tolist() for c in fc.columns if c not in ("ds", "unique_id")}
json.dump(out, open(sys.argv[2], "w"))
"""


def series() -> dict[str, pd.Series]:
    pharma = pd.read_csv(SHARED_DATA / "pharma_sales" / "salesdaily_clean.csv", parse_dates=["date"]).set_index("date")
    total = pharma.sum(axis=1).astype(float)
    cut = total.loc[:"2019-02-07"].iloc[-374:]
    closed = cut.copy()
    idx = closed.index
    closed[(idx.day_of_week == 5) | ((idx.month == 12) & (idx.day >= 24)) | ((idx.month == 1) & (idx.day <= 2))] = 0.0
    bread = pd.read_csv(SHARED_DATA / "bread_basket" / "BreadBasket_DMS.csv")
    bread = bread[bread["Item"] != "NONE"]
    daily = bread.groupby(pd.to_datetime(bread["Date"])).size().astype(float)
    daily = daily.reindex(pd.date_range(daily.index.min(), daily.index.max(), freq="D"), fill_value=0.0)
    return {"pharma_total_2y": total.iloc[-730:], "N02BE_2y": pharma["N02BE"].astype(float).iloc[-730:],
            "pharma_total_cut344_rise": cut, "pharma_total_cut344_rise_closed": closed, "bread_basket_daily": daily}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--windows", type=int, default=4)
    ap.add_argument("--horizon", type=int, default=30)
    args = ap.parse_args()
    h = args.horizon
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    jobs, ours = {}, {}
    for name, s in series().items():
        for w in range(args.windows):
            end = len(s) - 14 * w
            hist, test = s.iloc[:end - h], s.iloc[end - h:end].to_numpy()
            if len(hist) < 150:
                continue
            t0 = time.perf_counter()
            m = AutoSeriesForecaster(horizon=h, max_horizon=h).fit(hist.to_frame("x"))
            secs = time.perf_counter() - t0
            ours[(name, w)] = (m.forecast_[0, :h], m.lower_[0, :h], m.upper_[0, :h], test, hist.to_numpy(), secs,
                               m.model_type_)
            jobs[f"{name}|{w}"] = {"start": str(hist.index[0].date()), "y": hist.tolist(), "h": h}
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "in.json").write_text(json.dumps(jobs))
        subprocess.run([str(BENCH_PYTHON), "-c", SF_SCRIPT, f"{tmp}/in.json", f"{tmp}/out.json"], check=True,
                       capture_output=True)
        peer = json.loads(Path(tmp, "out.json").read_text())
    rows = {}
    for (name, w), (pred, lo, hi, test, y, secs, chosen) in ours.items():
        scale = np.abs(y[7:] - y[:-7]).mean()
        r = rows.setdefault(name, {"ours": [], "cov": [], "secs": [], "chosen": [], **{k: [] for k in peer[f"{name}|{w}"]}})
        r["ours"].append(np.abs(pred - test).mean() / scale)
        r["cov"].extend(((test >= lo) & (test <= hi)).tolist())
        r["secs"].append(secs)
        r["chosen"].append(chosen)
        for k, v in peer[f"{name}|{w}"].items():
            r[k].append(np.abs(np.maximum(np.array(v), 0) - test).mean() / scale)
    print(f"{'series':34s} {'ours':>6s} {'AutoETS':>7s} {'AutoARIMA':>9s} {'MSTL':>6s} {'SNaive':>6s} {'cov95':>6s} "
          f"{'fit s':>6s}  chosen")
    cov_all = []
    for name, r in rows.items():
        cov_all += r["cov"]
        print(f"{name:34s} {np.mean(r['ours']):6.3f} {np.mean(r['AutoETS']):7.3f} {np.mean(r['AutoARIMA']):9.3f} "
              f"{np.mean(r['MSTL']):6.3f} {np.mean(r['SeasonalNaive']):6.3f} {np.mean(r['cov']):6.3f} "
              f"{np.mean(r['secs']):6.1f}  {','.join(r['chosen'])}")
    print(f"pooled 95% coverage over all windows: {np.mean(cov_all):.3f} ({len(cov_all)} days)")
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
