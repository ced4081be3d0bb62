"""The CLV figure the API returns, scored the way a held-out retailer scores it, on real CDNOW windows.

    BENCH_PYTHON=/work/bench-venv/bin/python python benchmarks/segmentation_clv_product.py

Why this exists beside segmentation_clv.py: the held-out real retailer imports six months of orders,
trains with the default settings and reads each customer's `clv` from `GET /api/ml/customer-segment/{id}/`,
then ranks customers first seen in those six months against what each spent in the next six. That
figure is `trainer.lifetime_value(...)["predictions"]["clv"]` (12 discounted months of the chosen
model, refitted on all history), so this script calls exactly that, on order lines shaped like the
data source returns them, and scores it beside the naive rate x spend and lifetimes' BG/NBD x GG on the
identical split. Windows: CDNOW cut to calibration [start, cal_end) with a 6-month holdout after it,
customers first seen in the calibration period (all of CDNOW's cohort is first seen in Q1 1997).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "backend_django"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend_django.settings")
os.environ.setdefault("DEBUG", "1")  # settings only; this script touches no database

import django  # noqa: E402
from _paths import SHARED_DATA  # noqa: E402
from segmentation_clv import lifetimes_prediction  # noqa: E402

django.setup()

from ml_predictions.capabilities.segmentation.trainer import lifetime_value  # noqa: E402
from ml_predictions.estimators.segmentation.clv_candidates import predict_naive  # noqa: E402
from ml_predictions.estimators.segmentation.clv_data import day_number, purchase_history, summary_at  # noqa: E402
from ml_predictions.estimators.segmentation.clv_selection import score_prediction  # noqa: E402
from ml_predictions.estimators.segmentation.drift import window_factor  # noqa: E402

# (calibration start, calibration end, holdout end): 6+6 months as the held-out retailer, then later windows
WINDOWS = (("1997-01-01", "1997-07-01", "1998-01-01"),
           ("1997-01-01", "1997-10-01", "1998-04-01"),
           ("1997-04-01", "1997-10-01", "1998-04-01"),
           ("1997-07-01", "1998-01-01", "1998-07-01"))


def cdnow_lines() -> pd.DataFrame:
    raw = pd.read_csv(SHARED_DATA / "cdnow" / "CDNOW_master.txt", sep=r"\s+", dtype={"customer_id": str, "date": str})
    qty = raw["number_of_cds"].clip(lower=1)
    return pd.DataFrame({"customer_id": raw["customer_id"],
                         "ordered_at": pd.to_datetime(raw["date"], format="%Y%m%d", utc=True),
                         "product_id": "cd", "quantity": qty, "unit_price": raw["dollar_value"] / qty})


def run_window(lines: pd.DataFrame, start: str, cal_end: str, stop: str, params: dict) -> dict:
    calib = lines[(lines["ordered_at"] >= start) & (lines["ordered_at"] < cal_end)]
    later = lines[(lines["ordered_at"] >= cal_end) & (lines["ordered_at"] < stop)]
    t0 = time.perf_counter()
    out = lifetime_value(calib, pd.Timestamp(cal_end, tz="UTC"), params)
    seconds = time.perf_counter() - t0
    ids = out["predictions"].index
    actual = (later["quantity"] * later["unit_price"]).groupby(later["customer_id"]).sum().reindex(ids).fillna(0)
    rows = {"api_clv": score_prediction(out["predictions"]["clv"].to_numpy(), actual.to_numpy())}
    # the 12-month clv brought to the holdout's length at its own average monthly rate (what drift checks)
    factor = window_factor(day_number(stop) - day_number(cal_end), out["details"]["horizon_months"],
                           out["details"]["monthly_discount_rate"])
    rows["api_clv_window"] = score_prediction(out["predictions"]["clv"].to_numpy() * factor, actual.to_numpy())
    amounts = calib.assign(amount=calib["quantity"] * calib["unit_price"])
    hist = purchase_history(amounts, end=cal_end)
    horizon = day_number(stop) - day_number(cal_end)
    naive = predict_naive(hist, hist.end, horizon)
    naive.index = hist.ids[naive.index.to_numpy()]
    rows["naive_rate_x_spend"] = score_prediction(naive.reindex(ids).fillna(0).to_numpy(), actual.to_numpy())
    lt = lifetimes_prediction(hist, hist.end, horizon)
    if lt is not None:
        s = summary_at(hist, hist.end)
        lt_s = pd.Series(lt, index=hist.ids[s.index.to_numpy()])
        rows["lifetimes_bgnbd_gg"] = score_prediction(lt_s.reindex(ids).fillna(0).to_numpy(), actual.to_numpy())
    sel = out["selection"]
    inner = {k: round(v["spearman"], 4) if "spearman" in v else "skipped" for k, v in sel["candidates"].items()}
    inner["calibration"] = out["details"].get("calibration_scale")
    return {"window": f"{start}..{cal_end} -> {stop}", "customers": len(ids), "chosen": out["method"],
            "inner": inner, "rows": rows, "seconds": round(seconds, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--windows", type=int, default=len(WINDOWS))
    args = parser.parse_args()
    print("load:", os.getloadavg())
    lines = cdnow_lines()
    api = []
    for start, cal_end, stop in WINDOWS[: args.windows]:
        r = run_window(lines, start, cal_end, stop, {})
        api.append(r["rows"]["api_clv"]["spearman"])
        print(f"\n== {r['window']}: {r['customers']} customers, chosen {r['chosen']} ({r['seconds']} s)")
        print("   inner:", r["inner"])
        for k, v in r["rows"].items():
            print(f"   {k:20s} spearman {v['spearman']:.4f}  mae {v['mae']:8.2f}  total {v['total_predicted']:10.0f}"
                  f" / actual {v['total_actual']:.0f}")
    print("\nmean api_clv spearman:", round(float(np.mean(api)), 4))
    print("load:", os.getloadavg())


if __name__ == "__main__":
    main()
