"""Service level achieved per ABC-XYZ class against its target, by simulation on real item demand.

    python benchmarks/inventory_classes_bench.py            # Bread Basket (real), pharmacy (real), generator
    python benchmarks/inventory_classes_bench.py --only bread

Every product's real daily demand over a held-out period is replayed with lost sales (the simulator of
inventory_bench.py: the policy re-fitted every 7 days on the history known that day, orders of
`S - position` at the reorder point, arriving after the lead time). The policy runs with the default
class service levels (AX 0.98 ... CZ 0.90) twice: as cycle service levels (type 1, the default) and as
fill-rate targets (type 2, INVENTORY_SERVICE_TYPE = "fill_rate"). A product's class and target are the
ones of the first fit (the start of the held-out period); the fill rate of a class is units served /
units demanded over its products. Average inventory is in units x unit cost (1 when the data has none).

Data: Bread Basket (../shared/data/bread_basket, a bakery's item lines 2016-10 .. 2017-04; items sold in
the history, last 56 days held out, lead time 2 days, review 7 days, no prices in the data so every
item is worth 1 and ABC is by units); the real pharmacy (8 drug categories, last 365 days held out);
the generator (400 products, Jul-Dec 2026 held out).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from inventory_bench import (  # sets sys.path for ml_predictions
    DATA,
    InventoryOptimizer,
    policy_levels,
    simulate,
)

from ml_predictions.estimators.inventory import DEFAULT_CLASS_SERVICE_LEVELS


def class_table(name: str, history: np.ndarray, test: np.ndarray, ids: np.ndarray, days: pd.DatetimeIndex,
                lead: np.ndarray, cost: np.ndarray, review: int) -> list[str]:
    products = pd.DataFrame({"id": ids, "name": ids, "category": "x", "cost": cost, "price": cost,
                             "stock": 0, "lead_time_days": lead})
    out = [f"### {name}", "", f"{len(ids)} products, {history.shape[1]} history days, {test.shape[1]} held out "
           f"({days[history.shape[1]].date()} .. {days[-1].date()}), lead {int(lead.min())}-{int(lead.max())} d, "
           f"review {review} d.", "",
           "| class | products | share of held-out units | target | fill rate, cycle levels | fill rate, fill-rate "
           "targets | met (fill-rate targets) |", "|---|---:|---:|---:|---:|---:|---|"]
    results = {}
    for service_type in ("cycle", "fill_rate"):
        opt = InventoryOptimizer(class_service_levels=dict(DEFAULT_CLASS_SERVICE_LEVELS), service_type=service_type,
                                 review_period_days=review, seasonal_adjustment=history.shape[1] > 420)
        started = time.perf_counter()
        levels = policy_levels(history, test, ids, days, products, opt)
        levels(0)
        first = opt.policy_[["abc_xyz", "service_level"]].copy()
        sim = simulate(test, lead, cost, levels)
        results[service_type] = (first, sim, time.perf_counter() - started)
    first = results["cycle"][0]
    wanted = results["cycle"][1]["demand_by_product"]
    for klass in sorted(set(first["abc_xyz"])):
        mask = (first["abc_xyz"] == klass).to_numpy() & (wanted > 0)
        if not mask.any():
            continue
        target = float(first.loc[mask, "service_level"].mean())
        fills = {}
        for service_type, (_f, sim, _s) in results.items():
            fills[service_type] = sim["served_by_product"][mask].sum() / sim["demand_by_product"][mask].sum()
        out.append(f"| {klass} | {int(mask.sum())} | {wanted[mask].sum() / wanted.sum():.1%} | {target:.0%} | "
                   f"{fills['cycle']:.2%} | {fills['fill_rate']:.2%} | "
                   f"{'yes' if fills['fill_rate'] >= target - 1e-9 else 'no'} |")
    for service_type, (_f, sim, seconds) in results.items():
        out.append("")
        out.append(f"{service_type}: overall fill rate {sim['fill_rate']:.2%}, average inventory value "
                   f"{sim['avg_inventory_value']:,.0f}, {sim['orders']} orders, simulated in {seconds:.1f} s.")
    out.append("")
    print("\n".join(out), flush=True)
    return out


def bread_case() -> list[str]:
    lines = pd.read_csv(DATA / "bread_basket" / "BreadBasket_DMS.csv")
    lines = lines[lines["Item"] != "NONE"]
    lines["day"] = pd.to_datetime(lines["Date"])
    days = pd.date_range(lines["day"].min(), lines["day"].max(), freq="D")
    counts = lines.groupby(["Item", "day"]).size()
    items = counts.index.get_level_values(0).unique()
    demand = np.zeros((len(items), len(days)))
    demand[items.get_indexer(counts.index.get_level_values(0)),
           days.get_indexer(counts.index.get_level_values(1))] = counts.to_numpy()
    test_days = 56
    sold = demand[:, :-test_days].sum(axis=1) > 0
    demand, ids = demand[sold], np.array(items[sold], dtype=object)
    return class_table("Bread Basket items (real)", demand[:, :-test_days], demand[:, -test_days:], ids, days,
                       np.full(len(ids), 2.0), np.ones(len(ids)), review=7)


def pharma_case() -> list[str]:
    frame = pd.read_csv(DATA / "pharma_sales" / "salesdaily_clean.csv", parse_dates=["date"])
    frame = frame.set_index("date").asfreq("D").fillna(0)
    demand = frame.to_numpy(float).T
    lead = np.array([3, 5, 7, 7, 10, 14, 14, 21], dtype=float)[: demand.shape[0]]
    return class_table("Pharmacy daily sales (real), 8 categories", demand[:, :-365], demand[:, -365:],
                       np.array(frame.columns, dtype=object), frame.index, lead, np.ones(len(lead)), review=14)


def generator_case() -> list[str]:
    from datetime import date

    import django

    django.setup()
    from backend_django.shop.generator import GeneratorConfig, synthesize

    shop = synthesize(GeneratorConfig(customers=6000, products=400, orders=120_000, years=3, seed=11,
                                      end_date=date(2026, 12, 31)))
    orders = shop.orders[~shop.orders["status"].isin(["cancelled", "refunded"])]
    lines = shop.order_items.merge(orders[["id", "created_at"]].rename(columns={"id": "order_id"}), on="order_id")
    days = pd.date_range(shop.stats["start"], shop.stats["end"], freq="D")
    pid = pd.Index(shop.products["id"])
    t = (pd.to_datetime(lines["created_at"]).dt.normalize() - days[0]).dt.days.to_numpy()
    demand = np.zeros((len(pid), len(days)))
    np.add.at(demand, (pid.get_indexer(lines["product_id"]), t), lines["quantity"].to_numpy(float))
    test_days = 184
    sold = demand[:, :-test_days].sum(axis=1) > 0
    lead = shop.products["lead_time_days"].to_numpy(float)[sold]
    cost = shop.products["cost"].to_numpy(float)[sold]
    return class_table("Generator shop (all products with history)", demand[sold, :-test_days],
                       demand[sold, -test_days:], pid.to_numpy()[sold], days, lead, cost, review=14)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=["bread", "pharma", "generator"], default=None)
    args = parser.parse_args()
    for name, case in (("bread", bread_case), ("pharma", pharma_case), ("generator", generator_case)):
        if args.only in (None, name):
            case()


if __name__ == "__main__":
    main()
