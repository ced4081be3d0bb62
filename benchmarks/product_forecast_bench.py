"""Product and category forecasts end to end: speed and memory at 2,000 products, and holdout accuracy of
reconciliation on real histories.

    python benchmarks/product_forecast_bench.py scale [--model random_forest] [--products 2000]
    python benchmarks/product_forecast_bench.py holdout [--model auto] [--data bread,superstore]

scale: a synthetic catalogue (log-normal popularity, so most products are intermittent; weekly and
yearly shape; 20 categories) over 730 days, as order lines; SalesForecaster.fit on all three levels
with the production settings (365-day forecasts, 40,000 product training rows), then the
reconciliation. Run one configuration per process: the peak RSS printed is the whole process's.
Issue target: <= 60 s and <= 2 GB.

holdout: a real history (Bread Basket: 94 items, categories drinks / food; Superstore: 1,862 products
in 3 categories, a BI tool's demo data, a shape fixture, not evidence of quality) is cut 28 days
before its end; the forecaster is fitted on the rest with reconciliation none, bottom_up and
mint_shrink (and once with the level's model for every product, no Croston family), and the 28
forecast days are scored per level (MAE of daily units; total, mean over categories, mean over
products; products' RMSE too) against what was sold. Also prints the demand classes and methods.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from _paths import SHARED_DATA  # noqa: E402

from ml_predictions.estimators.forecasting import SalesForecaster  # noqa: E402
from ml_predictions.estimators.forecasting.series import daily_series  # noqa: E402

HOLDOUT = 28
DRINKS = {"Coffee", "Tea", "Hot chocolate", "Juice", "Mineral water", "Coke", "Smoothies"}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic(n_products: int, days: int = 730, seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    index = pd.date_range(end="2026-06-30", periods=days, freq="D", tz="UTC")
    weekly = np.array([0.85, 0.9, 0.95, 1.0, 1.15, 1.35, 1.1])[index.day_of_week]
    yearly = 1 + 0.3 * np.sin(2 * np.pi * index.day_of_year.to_numpy() / 365.25)
    rate = rng.lognormal(-1.0, 1.2, n_products)[:, None] * (weekly * yearly)[None, :]
    counts = rng.poisson(rate)
    p, d = np.nonzero(counts)
    ids = np.array([f"p{i:05d}" for i in range(n_products)], dtype=object)
    price = rng.lognormal(3, 0.8, n_products).round(2)
    lines = pd.DataFrame({"order_id": np.arange(len(p)).astype(str), "product_id": ids[p], "ordered_at": index[d],
                          "quantity": counts[p, d].astype(float), "unit_price": price[p]})
    products = pd.DataFrame({"id": ids, "category": [f"cat{c:02d}" for c in rng.integers(0, 20, n_products)]})
    return lines, products


def scale(args: argparse.Namespace) -> None:
    lines, products = synthetic(args.products)
    print(f"{len(lines):,} order lines, {args.products} products; load {os.getloadavg()[0]:.2f}", flush=True)
    start = time.perf_counter()
    model = SalesForecaster(args.model, max_train_rows=5000, product_train_rows=40_000, max_horizon=365)
    model.fit(lines, products)
    took = time.perf_counter() - start
    rec = model.reconciliation_
    demand = model.levels_["product"]["units"].metrics_["demand"]
    ok = took <= 60 and _peak_mb() <= 2048
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"train {args.model}, 3 levels, {args.products} products x 730 days, 365-day forecasts: {took:.1f} s "
          f"(CPU {usage.ru_utime + usage.ru_stime:.1f} s), "
          f"peak RSS {_peak_mb():.0f} MB -> {'OK' if ok else 'OVER'}; load {os.getloadavg()[0]:.2f}")
    print(f"reconciliation {rec['method']} ({rec['nodes']} nodes): units {rec['units']}")
    print(f"classes {demand['classes']}; methods {demand['methods']}; "
          f"sparse-series backtest MSE {demand.get('backtest_mse')}; NB band coverage {demand.get('interval_coverage')}")


def bread() -> tuple[pd.DataFrame, pd.DataFrame]:
    df = pd.read_csv(SHARED_DATA / "bread_basket" / "BreadBasket_DMS.csv")
    df = df[df["Item"] != "NONE"]
    lines = pd.DataFrame({"order_id": df["Transaction"].astype(str), "product_id": df["Item"],
                          "ordered_at": pd.to_datetime(df["Date"] + " " + df["Time"], utc=True),
                          "quantity": 1.0, "unit_price": 2.0})
    items = sorted(df["Item"].unique())
    return lines, pd.DataFrame({"id": items, "category": ["drinks" if i in DRINKS else "food" for i in items]})


def superstore() -> tuple[pd.DataFrame, pd.DataFrame]:
    df = pd.read_csv(SHARED_DATA / "superstore_fictional" / "Sample - Superstore.csv", encoding="latin-1")
    lines = pd.DataFrame({"order_id": df["Order ID"], "product_id": df["Product ID"],
                          "ordered_at": pd.to_datetime(df["Order Date"], format="%m/%d/%Y", utc=True),
                          "quantity": df["Quantity"].astype(float),
                          "unit_price": df["Sales"] / df["Quantity"]})
    cats = df.drop_duplicates("Product ID")[["Product ID", "Category"]]
    return lines, pd.DataFrame({"id": cats["Product ID"], "category": cats["Category"]})


def holdout(args: argparse.Namespace) -> None:
    for name in args.data.split(","):
        lines, products = {"bread": bread, "superstore": superstore}[name]()
        last = lines["ordered_at"].max().normalize()
        cut = last - pd.Timedelta(days=HOLDOUT)
        train = lines[lines["ordered_at"] <= cut + pd.Timedelta(hours=23, minutes=59, seconds=59)]
        categories = pd.Series(products["category"].to_numpy(), index=products["id"].astype(str).to_numpy())
        start = (cut + pd.Timedelta(days=1)).tz_localize(None)
        actual = {lvl: daily_series(lines, level=lvl, product_categories=categories, start=start,
                                    end=last.tz_localize(None))[1] for lvl in ("total", "category", "product")}
        print(f"\n{name}: {len(train):,} training lines up to {cut.date()}, {HOLDOUT} held-out days; "
              f"load {os.getloadavg()[0]:.2f}", flush=True)
        for method, per_product in (("none", False), ("none", True), ("bottom_up", True), ("mint_shrink", True)):
            start = time.perf_counter()
            model = SalesForecaster(args.model, max_horizon=90, reconciliation=method,
                                    intermittent_methods=per_product).fit(train, products)
            took = time.perf_counter() - start
            maes = {}
            for lvl in ("total", "category", "product"):
                ids = model.ids(lvl)
                truth = actual[lvl].reindex(columns=ids, fill_value=0.0).to_numpy()[:HOLDOUT]
                pred = np.column_stack([model.predict(HOLDOUT, level=lvl, id=None if lvl == "total" else i)
                                        ["predicted_quantity"].to_numpy() for i in ids])
                maes[lvl] = round(float(np.abs(pred - truth).mean()), 4)
                if lvl == "product":
                    maes["product_rmse"] = round(float(np.sqrt(((pred - truth) ** 2).mean())), 4)
            used = model.reconciliation_method
            which = "per-product methods" if per_product else "the level's model only"
            print(f"  {which}, reconciliation {method:<11} (used {used:<11}): holdout units/day {maes}; "
                  f"fit {took:.1f} s", flush=True)
            if method == "mint_shrink":
                demand = model.levels_["product"]["units"].metrics_["demand"]
                print(f"  classes {demand['classes']}; methods {demand['methods']}; sparse-series backtest MSE "
                      f"{demand.get('backtest_mse')}; NB band coverage {demand.get('interval_coverage')}; "
                      f"in-fit backtest MAE {model.reconciliation_['units'].get('backtest_mae')}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["scale", "holdout"])
    parser.add_argument("--model", default=None)
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--data", default="bread,superstore")
    args = parser.parse_args()
    args.model = args.model or ("random_forest" if args.what == "scale" else "auto")
    {"scale": scale, "holdout": holdout}[args.what](args)


if __name__ == "__main__":
    main()
