"""Does the forecast's own backtest error make a better safety stock than the history's spread?

On real daily unit histories (pharmacy: 8 drug categories; bakery: items), at rolling cutoffs: fit the
SalesForecaster's product level on the data before the cutoff, take its 7-day forecast d*L and two
sigmas — the backtest daily RMSE (`residual_std`) and the inventory optimiser's history spread — and
count how often the real 7-day demand after the cutoff stays under d*L + z*sigma*sqrt(L) (target 95 %).
Usage: python benchmarks/inventory_spread_bench.py [--cutoffs 6]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._paths import SHARED_DATA  # noqa: E402
from ml_predictions.estimators.forecasting import SalesForecaster  # noqa: E402
from ml_predictions.estimators.inventory import InventoryOptimizer  # noqa: E402

LEAD, LEVEL = 7, 0.95


def pharma() -> pd.DataFrame:
    wide = pd.read_csv(SHARED_DATA / "pharma_sales" / "salesdaily_clean.csv", parse_dates=["date"])
    long = wide.melt(id_vars="date", var_name="product_id", value_name="quantity")
    return long[long["quantity"] > 0]


def bakery() -> pd.DataFrame:
    raw = pd.read_csv(SHARED_DATA / "bread_basket" / "BreadBasket_DMS.csv")
    raw = raw[raw["Item"] != "NONE"]
    top = raw["Item"].value_counts().index[:20]
    raw = raw[raw["Item"].isin(top)]
    out = raw.groupby([pd.to_datetime(raw["Date"]), "Item"]).size().rename("quantity").reset_index()
    return out.rename(columns={"Date": "date", "Item": "product_id"})


def evaluate(name: str, daily: pd.DataFrame, n_cutoffs: int, spacing: int) -> None:
    daily = daily.assign(date=pd.to_datetime(daily["date"]).dt.normalize())
    last = daily["date"].max()
    ids = sorted(daily["product_id"].unique())
    products = pd.DataFrame({"id": ids, "name": ids, "category": "all", "cost": 1.0, "price": 2.0, "lead_time_days": float(LEAD),
                             "stock": 0})
    z = norm.ppf(LEVEL)
    hit = {"forecast_backtest": [], "history": []}
    ss = {"forecast_backtest": [], "history": []}
    for k in range(n_cutoffs, 0, -1):
        cut = last - pd.Timedelta(days=LEAD + spacing * (k - 1))
        past = daily[daily["date"] < cut]
        if past["date"].nunique() < 130:  # the forecaster's minimum history, with room for its backtest
            continue
        lines = past.assign(order_id="o", customer_id="c", unit_price=1.0,
                            ordered_at=past["date"].dt.tz_localize("UTC"))
        model = SalesForecaster("linear", max_train_rows=3000, product_train_rows=20_000, max_horizon=30)
        model.fit(lines, products.rename(columns={"id": "id"})[["id", "category"]])
        fc = model.product_demand(LEAD)
        d_lt = fc.groupby("product_id")["predicted_quantity"].sum()
        sig_fc = fc.groupby("product_id")["residual_std"].first()
        hist = InventoryOptimizer(seasonal_adjustment=False).fit(
            past.rename(columns={"date": "date"}), products, as_of=cut).policy_.set_index("product_id")["demand_std"]
        future = daily[(daily["date"] >= cut) & (daily["date"] < cut + pd.Timedelta(days=LEAD))]
        actual = future.groupby("product_id")["quantity"].sum().reindex(d_lt.index, fill_value=0.0)
        for src, sig in (("forecast_backtest", sig_fc), ("history", hist.reindex(d_lt.index))):
            buffer = z * sig * np.sqrt(LEAD)
            hit[src].extend((actual <= d_lt + buffer).tolist())
            ss[src].extend((buffer / d_lt.clip(lower=1e-9)).clip(upper=10).tolist())
    for src in hit:
        print(f"{name}: sigma={src:17s} 7-day cycle service {np.mean(hit[src]):.3f} (target {LEVEL}) over "
              f"{len(hit[src])} product-cutoffs; median safety stock / lead-time demand {np.median(ss[src]):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cutoffs", type=int, default=6)
    args = parser.parse_args()
    print(f"load {os.getloadavg()[0]:.2f}")
    evaluate("pharmacy (8 categories)", pharma(), args.cutoffs, 28)
    evaluate("bakery (top 20 items)", bakery(), args.cutoffs, 5)


if __name__ == "__main__":
    main()
