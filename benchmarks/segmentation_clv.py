"""Lifetime-value selection on real and generated histories, beside lifetimes on the identical split.

    BENCH_PYTHON=/work/bench-venv/bin/python python benchmarks/segmentation_clv.py [--skip-generator]

For each case the history before the calibration end is given to `select_clv` (which makes its OWN inner
calibration/holdout split of that history and picks a candidate), the chosen model is refitted on the
whole calibration history, and every candidate plus the chosen one is scored on the real outer holdout:
Spearman of predicted vs actual revenue per customer (customers first seen before the calibration end),
MAE and totals. lifetimes' BG/NBD x Gamma-Gamma runs in the benchmark venv on the same calibration summary.

Cases: CDNOW 39 weeks / 39 weeks (the published split); CDNOW cut (only the first 26 weeks as history,
26-week holdout: a shop with half a year of data); the generator (2 years, last 180 days held out).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
from _paths import BENCH_PYTHON, SHARED_DATA  # noqa: E402

sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "backend_django"))

from ml_predictions.estimators.segmentation.clv_candidates import CANDIDATES, predict_candidate  # noqa: E402
from ml_predictions.estimators.segmentation.clv_data import (  # noqa: E402
    day_number,
    purchase_history,
    revenue_between,
    summary_at,
)
from ml_predictions.estimators.segmentation.clv_selection import (  # noqa: E402
    predict_lifetime_value,
    score_prediction,
    select_clv,
)

LIFETIMES = r"""
import sys, json, pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
s = pd.read_csv(sys.argv[1]); t = float(sys.argv[2])
bg = BetaGeoFitter(penalizer_coef=0.0).fit(s["x"], s["t_x"], s["T"])
rep = s[(s["x"] > 0) & (s["monetary_value"] > 0)]
gg = GammaGammaFitter(penalizer_coef=0.0).fit(rep["x"], rep["monetary_value"])
purchases = bg.conditional_expected_number_of_purchases_up_to_time(t, s["x"], s["t_x"], s["T"])
value = gg.conditional_expected_average_profit(s["x"], s["monetary_value"])
print(json.dumps((purchases * value).fillna(0).tolist()))
"""


def cdnow_transactions() -> pd.DataFrame:
    raw = pd.read_csv(SHARED_DATA / "cdnow" / "CDNOW_master.txt", sep=r"\s+",
                      dtype={"customer_id": str, "date": str})
    return pd.DataFrame({"customer_id": raw["customer_id"],
                         "ordered_at": pd.to_datetime(raw["date"], format="%Y%m%d", utc=True),
                         "amount": raw["dollar_value"], "product_id": "cd"})


def generator_transactions() -> pd.DataFrame:
    from backend_django.shop.generator import GeneratorConfig, synthesize
    shop = synthesize(GeneratorConfig(customers=3000, products=300, orders=30000, years=2, seed=11))
    items = shop.order_items.merge(shop.orders[["id", "customer_id", "created_at"]], left_on="order_id",
                                   right_on="id")
    return pd.DataFrame({"customer_id": items["customer_id"].astype(str), "ordered_at": items["created_at"],
                         "amount": items["quantity"] * items["unit_price"], "product_id": items["product_id"]})


def lifetimes_prediction(history, cut: int, horizon: int) -> np.ndarray | None:
    if not Path(BENCH_PYTHON).exists():
        return None
    s = summary_at(history, cut)
    with tempfile.NamedTemporaryFile("w", suffix="_seg.csv", delete=False) as f:
        s[["x", "t_x", "T", "monetary_value"]].to_csv(f, index=False)
    res = subprocess.run([str(BENCH_PYTHON), "-c", LIFETIMES, f.name, str(horizon)], capture_output=True, text=True)
    os.unlink(f.name)
    if res.returncode:
        print("lifetimes failed:", res.stderr[-500:])
        return None
    return np.asarray(json.loads(res.stdout))


def run_case(name: str, tx: pd.DataFrame, cal_end: str, holdout_days: int, inner_holdout: int) -> dict:
    full = purchase_history(tx, end=pd.Timestamp(cal_end) + pd.Timedelta(days=holdout_days))
    cut = day_number(cal_end)
    calib = purchase_history(tx, end=cal_end)
    t0 = time.perf_counter()
    selection = select_clv(calib, holdout_days=inner_holdout)
    pred, details = predict_lifetime_value(calib, selection.chosen, holdout_days=inner_holdout,
                                           horizon_months=max(1, round(holdout_days / 30.4375)),
                                           monthly_discount=0.0)
    seconds = time.perf_counter() - t0
    population = summary_at(calib, cut)
    ids = calib.ids[population.index.to_numpy()]
    code_of = pd.Series(np.arange(full.n_customers), index=full.ids)
    actual = revenue_between(full, cut, full.end, pd.Index(code_of.reindex(ids).to_numpy()))
    rows = {}
    for cand in CANDIDATES:
        try:
            p, _ = predict_candidate(cand, calib, cut, holdout_days)
            rows[cand] = score_prediction(p.reindex(population.index).fillna(0).to_numpy(), actual)
        except Exception as exc:  # noqa: BLE001 — a benchmark reports a failing candidate and goes on
            rows[cand] = {"error": str(exc)}
    rows["chosen"] = score_prediction(pred["clv"].reindex(ids).fillna(0).to_numpy(), actual)
    lt = lifetimes_prediction(calib, cut, holdout_days)
    if lt is not None:
        rows["lifetimes_bgnbd_gg"] = score_prediction(lt, actual)
    return {"case": name, "customers": len(ids), "inner_holdout_days": selection.holdout_days,
            "chosen": details["method"], "inner_scores": {k: v.get("spearman", v.get("skipped"))
                                                          for k, v in selection.scores.items()},
            "outer": rows, "select_and_fit_seconds": round(seconds, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-generator", action="store_true")
    args = parser.parse_args()
    print("load:", os.getloadavg())
    cases = []
    tx = cdnow_transactions()
    cases.append(run_case("cdnow_39w_39w", tx, "1997-10-01", 273, 90))
    cases.append(run_case("cdnow_cut_26w_26w", tx[tx["ordered_at"] < "1997-12-31"], "1997-07-02", 182, 60))
    if not args.skip_generator:
        cases.append(run_case("generator_2y_180d", generator_transactions(), "2026-06-01", 180, 90))
    for c in cases:
        print(f"\n== {c['case']}: {c['customers']} customers, inner holdout {c['inner_holdout_days']} d, "
              f"chosen {c['chosen']} ({c['select_and_fit_seconds']} s)")
        print("   inner Spearman:", {k: (round(v, 4) if isinstance(v, float) else v) for k, v in c["inner_scores"].items()})
        for k, v in c["outer"].items():
            if "error" in v:
                print(f"   {k:22s} error {v['error']}")
            else:
                print(f"   {k:22s} spearman {v['spearman']:.4f}  mae {v['mae']:9.2f}  total {v['total_predicted']:12.0f}"
                      f" / actual {v['total_actual']:.0f}")
    print("load:", os.getloadavg())


if __name__ == "__main__":
    main()
