"""How realistic the synthetic shop is where it matters to the models: acquisition and preferences.

    python benchmarks/generator_realism_bench.py [acquisition] [preference]

acquisition: the forecasting benchmark's shop (4,000 customers, 200 products, 40,000 orders, 3 years,
seed 11, ending 2026-06-30; built as benchmarks/forecasting_bench.py builds it). Prints mean daily
revenue for each of the last six months against the same month a year earlier (a step in customer
acquisition shows as a year-over-year ratio that jumps in the last months), and the weekly
seasonal-naive MAE in-sample against the last 30 / 90 days held out (their ratio is the baseline's
MASE: far above 1 when the holdout holds a level the history never showed).

preference: how much a customer's lines concentrate on their most-bought category, against the same
statistic with the lines' categories shuffled across customers (what independent draws give), on the
recommendations benchmark's first shop (5,000 customers, 1,000 products, 60,000 orders, seed 1).
The per-customer recall itself comes from `recommendations_bench.py customer`.
"""
from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend_django.settings")


def _lines(shop) -> pd.DataFrame:
    kept = shop.orders[~shop.orders["status"].isin(["cancelled", "refunded"])]
    lines = shop.order_items.merge(
        kept[["id", "customer_id", "created_at"]].rename(columns={"id": "order_id", "created_at": "ordered_at"}),
        on="order_id")
    lines["revenue"] = lines["quantity"] * lines["unit_price"]
    lines["archetype"] = lines["customer_id"].map(shop.truth.set_index("customer_id")["archetype"])
    return lines


def _naive_ratio(y: np.ndarray, h: int) -> float:
    train, actual = y[:-h], y[-h:]
    return float(np.abs(np.tile(train[-7:], h // 7 + 1)[:h] - actual).mean() / np.abs(train[7:] - train[:-7]).mean())


def _step(y: np.ndarray) -> float:
    """Growth from the previous 90 days into the last 90, over the same growth a year earlier: season
    and trend cancel, so a burst of customers in the last 90 days shows as a figure above 1."""
    return float((y[-90:].sum() / y[-180:-90].sum()) / (y[-455:-365].sum() / y[-545:-455].sum()))


def acquisition() -> None:
    from backend_django.shop.generator import GeneratorConfig, synthesize

    shop = synthesize(GeneratorConfig(customers=4000, products=200, orders=40_000, years=3, seed=11,
                                      end_date=date(2026, 6, 30)))
    lines = _lines(shop)
    day = pd.to_datetime(lines["ordered_at"]).dt.normalize()
    days = pd.date_range(end="2026-06-30", periods=int(round(3 * 365)), freq="D")
    revenue = lines.groupby(day)["revenue"].sum().reindex(days, fill_value=0.0)
    monthly = revenue.groupby(revenue.index.to_period("M")).mean()
    print("## acquisition: forecasting benchmark shop (3 y, 40k orders, 200 products, seed 11)\n")
    print("| month | mean daily revenue | same month a year earlier | ratio |")
    print("|---|---|---|---|")
    for month in pd.period_range("2026-01", "2026-06", freq="M"):
        now, before = monthly[month], monthly[month - 12]
        print(f"| {month} | {now:,.0f} | {before:,.0f} | {now / before:.2f} |")
    quarters = revenue.groupby(revenue.index.to_period("Q")).mean()
    yoy = (quarters / quarters.shift(4)).dropna()
    print("\nyear-over-year ratio of mean daily revenue by quarter: "
          + ", ".join(f"{q} {r:.2f}" for q, r in yoy.items()))
    y = revenue.to_numpy()
    print("\n| holdout | seasonal-naive MAE in-sample | on the holdout | ratio (baseline MASE) |")
    print("|---|---|---|---|")
    for h in (30, 90):
        train, actual = y[:-h], y[-h:]
        insample = np.abs(train[7:] - train[:-7]).mean()
        naive = np.tile(train[-7:], h // 7 + 1)[:h]
        holdout = np.abs(naive - actual).mean()
        print(f"| {h} d | {insample:,.0f} | {holdout:,.0f} | {holdout / insample:.3f} |")
    print(f"\nstep into the last 90 days (growth over the previous 90, / the same a year earlier): {_step(y):.3f}")
    print("\nsame shop, seeds 11-20 (seasonal-naive ratio at 30 d, at 90 d, step):")
    figures = []
    for seed in range(11, 21):
        other = synthesize(GeneratorConfig(customers=4000, products=200, orders=40_000, years=3, seed=seed,
                                           end_date=date(2026, 6, 30)))
        v = _lines(other).groupby(pd.to_datetime(_lines(other)["ordered_at"]).dt.normalize())["revenue"].sum()
        v = v.reindex(days, fill_value=0.0).to_numpy()
        figures.append([_naive_ratio(v, 30), _naive_ratio(v, 90), _step(v)])
    f = np.array(figures)
    for name, col in zip(("30 d", "90 d", "step"), f.T, strict=True):
        print(f"- {name}: mean {col.mean():.3f}, range {col.min():.3f}-{col.max():.3f}")
    last90 = day >= pd.Timestamp("2026-04-01")
    share = lines.loc[last90, "revenue"].groupby(lines.loc[last90, "archetype"]).sum()
    print("\nshare of the last 90 days' revenue by archetype: "
          + ", ".join(f"{k} {v / share.sum():.3f}" for k, v in share.sort_values(ascending=False).items()))
    customers = shop.truth["archetype"].value_counts(normalize=True)
    print("customers by archetype: " + ", ".join(f"{k} {v:.3f}" for k, v in customers.items()))
    first = pd.to_datetime(shop.orders.groupby("customer_id")["created_at"].min())
    last = pd.to_datetime(shop.orders.groupby("customer_id")["created_at"].max())
    arche = shop.truth.set_index("customer_id")["archetype"]
    end = pd.Timestamp("2026-07-01")
    print(f"'new' customers with their first order in the last 90 days: "
          f"{((end - first[arche[arche == 'new'].index]).dt.days <= 90).mean():.3f}; "
          f"orders per 'new' customer: {shop.orders['customer_id'].map(arche).eq('new').sum() / (arche == 'new').sum():.2f}; "
          f"churned customers' days since last order: min "
          f"{(end - last[arche[arche == 'churned'].index]).dt.days.min()}, median "
          f"{(end - last[arche[arche == 'churned'].index]).dt.days.median():.0f}")


def preference() -> None:
    from backend_django.shop.generator import GeneratorConfig, synthesize

    shop = synthesize(GeneratorConfig(customers=5000, products=1000, orders=60_000, years=2, seed=1,
                                      end_date=date(2026, 6, 30)))
    lines = _lines(shop)
    lines["category"] = lines["product_id"].map(shop.products.set_index("id")["category_id"])
    rng = np.random.default_rng(0)

    def top_share(frame: pd.DataFrame) -> float:
        per = frame.groupby(["customer_id", "category"]).size()
        top = per.groupby(level=0).max() / per.groupby(level=0).sum()
        return float(top.mean())

    n = lines.groupby("customer_id").size()
    many = lines[lines["customer_id"].map(n) >= 8]
    shuffled = many.assign(category=rng.permutation(many["category"].to_numpy()))
    print("\n## preference: recommendations benchmark shop (5,000 customers, 1,000 products, 60k orders, seed 1)\n")
    print(f"customers with >= 8 lines: {many['customer_id'].nunique():,}; mean share of their lines in their "
          f"most-bought category: {top_share(many):.3f} (categories shuffled across customers: "
          f"{top_share(shuffled):.3f})")


if __name__ == "__main__":
    import django

    django.setup()
    what = sys.argv[1:] or ["acquisition", "preference"]
    if "acquisition" in what:
        acquisition()
    if "preference" in what:
        preference()
