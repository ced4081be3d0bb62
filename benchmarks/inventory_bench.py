"""Inventory optimization benchmark: policy simulation on held-out demand, and analysis speed.

    python benchmarks/inventory_bench.py                 # both simulations + 10k-product timing
    python benchmarks/inventory_bench.py --only speed    # just the timing
    python benchmarks/inventory_bench.py --only sim --levels classes
        # the simulation with the shipped per-class service levels (AX 0.98 ... CZ 0.90) instead of 95 %
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/inv_bench python benchmarks/inventory_bench.py --only db
        # end-to-end through the ORM data source (writes a 10k-product shop into that database!)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/inv_bench python benchmarks/inventory_bench.py --only cache
        # the three GET endpoints through the API on that shop: cold, warm (cached) and after changes,
        # with the shipped settings and in exact mode (INVENTORY_FINGERPRINT_SECONDS = 0)

Simulation (both data sets): every product's real daily demand over a held-out period is replayed day by
day with lost sales. The service-level policy is re-fitted every 7 days on the history known at that
day (same code as the API: InventoryOptimizer with its defaults: 95 % cycle service level, order-up-to,
56-day robust average, shop-wide year-over-year seasonal index; also run without that index) and orders
`S - inventory position` whenever the position falls to the reorder point; an order arrives after the
product's lead time. The naive rule is a static min/max from the plain historical average demand y:
min = y x (L + m), max = min + y x R (R = the policy's 14-day review period, so the order size is the
same), with no variability and no service level. It is run for several m, and once with m chosen by
bisection so that its total purchase value over the held-out period equals the policy's
("same order budget"). Figures: fill rate (units served / units demanded), stockout days (product-days
with unmet demand) and average inventory value (mean end-of-day stock x unit cost).

Data: the generator (400 products, 3 years to 2026-12-31; held out Jul-Dec 2026, both seasonal peaks
inside) and the real pharmacy sales in ../shared/data/pharma_sales/salesdaily_clean.csv (8 drug
categories as products, held out the last 365 days; no costs in the data, so unit cost = 1 and
inventory value = units; lead times fixed per category, listed in the output).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _paths import SHARED_DATA  # noqa: E402

sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend_django.settings")
DATA = SHARED_DATA

from ml_predictions.estimators.inventory import DEFAULT_CLASS_SERVICE_LEVELS  # noqa: E402
from ml_predictions.estimators.inventory.optimizer import InventoryOptimizer  # noqa: E402

REVIEW = 14
SERVICE_LEVEL = 0.95
LEVELS = "uniform"  # --levels classes: the shipped per-class service levels instead


# --------------------------------------------------------------------------- simulation
def simulate(demand: np.ndarray, lead: np.ndarray, cost: np.ndarray, levels) -> dict[str, float]:
    """Replay `demand` (products x days) with lost sales. `levels(t)` -> (s, S) arrays for day t."""
    n, days = demand.shape
    lead = lead.astype(int)
    pipeline = np.zeros((n, days + int(lead.max()) + 1))
    s, big_s = levels(0)
    stock = np.ceil(big_s).astype(float)  # every rule starts at its own order-up-to level
    served = lost = stockout_days = 0.0
    served_p = np.zeros(n)
    inv_value = np.zeros(days)
    purchased_value = 0.0
    orders = 0
    rows = np.arange(n)
    for t in range(days):
        if t and t % 7 == 0:
            s, big_s = levels(t)
        stock += pipeline[:, t]
        d = demand[:, t]
        sold = np.minimum(stock, d)
        stock -= sold
        served += sold.sum()
        served_p += sold
        short = d - sold
        lost += short.sum()
        stockout_days += int((short > 1e-9).sum())
        position = stock + pipeline[:, t + 1:].sum(axis=1)
        order = (position <= s) & (big_s > position)
        q = np.where(order, np.ceil(big_s - position), 0.0)
        pipeline[rows, t + lead] += q
        purchased_value += float((q * cost).sum())
        orders += int(order.sum())
        inv_value[t] = float((stock * cost).sum())
    total = served + lost
    wanted = demand.sum(axis=1)
    product_fill = served_p[wanted > 0] / wanted[wanted > 0]
    return {
        "median_product_fill": float(np.median(product_fill)) if len(product_fill) else 1.0,
        "products_at_target": float((product_fill >= SERVICE_LEVEL - 1e-9).mean()) if len(product_fill) else 1.0,
        "fill_rate": served / total if total else 1.0,
        "stockout_days": stockout_days,
        "avg_inventory_value": float(inv_value.mean()),
        "purchased_value": purchased_value,
        "orders": orders,
        "served_by_product": served_p,
        "demand_by_product": wanted,
    }


def long_frame(demand: np.ndarray, ids: np.ndarray, days: pd.DatetimeIndex) -> pd.DataFrame:
    p, t = np.nonzero(demand > 0)
    return pd.DataFrame({"product_id": ids[p], "date": days[t], "quantity": demand[p, t]})


def policy_levels(history: np.ndarray, test: np.ndarray, ids: np.ndarray, days: pd.DatetimeIndex,
                  products: pd.DataFrame, optimizer: InventoryOptimizer):
    """(s, S) re-fitted every 7 days on the history known that day (the last 90 days are enough)."""
    full = np.concatenate([history, test], axis=1)
    h = history.shape[1]
    span = optimizer.history_days_needed
    cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def levels(t: int):
        if t not in cache:
            end = h + t
            window = full[:, max(end - span, 0):end]
            sales = long_frame(window, ids, days[max(end - span, 0):end])
            optimizer.fit(sales, products, as_of=days[end] if end < len(days) else days[-1] + pd.Timedelta(days=1))
            p = optimizer.policy_
            cache[t] = (p["reorder_point"].to_numpy(), p["order_up_to"].to_numpy())
        return cache[t]

    return levels


def naive_levels(history: np.ndarray, lead: np.ndarray, extra_days: float):
    mean = history.mean(axis=1)
    low = mean * (lead + extra_days)
    high = low + mean * REVIEW
    return lambda t: (low, high)


def run_case(name: str, history: np.ndarray, test: np.ndarray, ids: np.ndarray, days: pd.DatetimeIndex,
             lead: np.ndarray, cost: np.ndarray, category: np.ndarray | None = None) -> list[str]:
    products = pd.DataFrame({"id": ids, "name": ids, "category": category if category is not None else "x",
                             "cost": cost, "price": cost * 2, "stock": 0, "lead_time_days": lead})
    # LEVELS = "classes": the shipped per-class levels (AX 0.98 ... CZ 0.90); else 95 % for every product
    levels = {"class_service_levels": dict(DEFAULT_CLASS_SERVICE_LEVELS)} if LEVELS == "classes" else {
        "service_level": SERVICE_LEVEL}
    optimizer = InventoryOptimizer(review_period_days=REVIEW, **levels)
    started = time.perf_counter()
    policy_at = policy_levels(history, test, ids, days, products, optimizer)
    policy_at(0)
    first = optimizer.policy_["service_level"].to_numpy(float)  # each product's target at the first fit
    policy = simulate(test, lead, cost, policy_at)
    sim_seconds = time.perf_counter() - started
    wanted = test.sum(axis=1)
    # the fill rate the targets ask for overall: the targets weighted by each product's held-out demand
    target = float(np.average(first, weights=wanted)) if wanted.sum() else SERVICE_LEVEL
    label = ("service-level policy (class levels AX 0.98 ... CZ 0.90, order-up-to, weekly refit)"
             if LEVELS == "classes" else "service-level policy (95 %, order-up-to, weekly refit)")
    rows = [(label, policy)]
    plain = InventoryOptimizer(review_period_days=REVIEW, seasonal_adjustment=False, **levels)
    rows.append(("same policy without the seasonal index",
                 simulate(test, lead, cost, policy_levels(history, test, ids, days, products, plain))))
    for m in (0, 7, 14, 30):
        rows.append((f"naive min/max, min = y x (L + {m} d)", simulate(test, lead, cost, naive_levels(history, lead, m))))
    # same order budget: bisection on m so purchase value matches the policy's
    lo, hi = -14.0, 120.0
    for _ in range(30):
        mid = (lo + hi) / 2
        spent = simulate(test, lead, cost, naive_levels(history, lead, mid))["purchased_value"]
        lo, hi = (mid, hi) if spent < policy["purchased_value"] else (lo, mid)
    m_budget = (lo + hi) / 2
    rows.append((f"naive min/max, same order budget (m = {m_budget:.1f} d)",
                 simulate(test, lead, cost, naive_levels(history, lead, m_budget))))
    # the naive rule's smallest m that reaches the policy's fill rate
    lo, hi = -14.0, 365.0
    for _ in range(30):
        mid = (lo + hi) / 2
        fr = simulate(test, lead, cost, naive_levels(history, lead, mid))["fill_rate"]
        lo, hi = (mid, hi) if fr < policy["fill_rate"] else (lo, mid)
    rows.append((f"naive min/max, same fill rate as the policy (m = {hi:.1f} d)",
                 simulate(test, lead, cost, naive_levels(history, lead, hi))))
    out = [f"### {name}", "",
           f"{test.shape[0]} products, {history.shape[1]} history days, {test.shape[1]} held-out days "
           f"({days[history.shape[1]].date()} .. {days[-1].date()}), lead times {int(lead.min())}-{int(lead.max())} d, "
           f"simulation of the policy {sim_seconds:.1f} s.", "",
           "| rule | fill rate | median product fill rate | products >= 95 % | stockout days | avg inventory value "
           "| purchased value | orders |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for label, r in rows:
        out.append(f"| {label} | {r['fill_rate']:.2%} | {r['median_product_fill']:.2%} | {r['products_at_target']:.0%} "
                   f"| {r['stockout_days']:.0f} | {r['avg_inventory_value']:,.0f} | "
                   f"{r['purchased_value']:,.0f} | {r['orders']} |")
    budget = rows[-2][1]
    verdict = (
        f"Policy fill rate {policy['fill_rate']:.2%} vs target {target:.2%}"
        f"{' (class targets weighted by held-out demand)' if LEVELS == 'classes' else ''}: "
        f"{'met' if policy['fill_rate'] >= target else 'NOT met'}; average inventory "
        f"{policy['avg_inventory_value']:,.0f} vs {budget['avg_inventory_value']:,.0f} for the naive rule with the "
        f"same order budget ({policy['avg_inventory_value'] / budget['avg_inventory_value'] - 1:+.1%}) and "
        f"{rows[-1][1]['avg_inventory_value']:,.0f} for the naive rule at the same fill rate "
        f"({policy['avg_inventory_value'] / rows[-1][1]['avg_inventory_value'] - 1:+.1%})."
    )
    out += ["", verdict, ""]
    print("\n".join(out), flush=True)
    return out


# --------------------------------------------------------------------------- data sets
def generator_case() -> list[str]:
    import django

    django.setup()
    from backend_django.shop.generator import GeneratorConfig, synthesize

    shop = synthesize(GeneratorConfig(customers=6000, products=400, orders=120_000, years=3, seed=11,
                                      end_date=date(2026, 12, 31)))
    orders = shop.orders[~shop.orders["status"].isin(["cancelled", "refunded"])]
    lines = shop.order_items.merge(orders[["id", "created_at"]].rename(columns={"id": "order_id"}), on="order_id")
    days = pd.date_range(shop.stats["start"], shop.stats["end"], freq="D")
    pid = pd.Index(shop.products["id"])
    code = pid.get_indexer(lines["product_id"])
    t = (pd.to_datetime(lines["created_at"]).dt.normalize() - days[0]).dt.days.to_numpy()
    demand = np.zeros((len(pid), len(days)))
    np.add.at(demand, (code, t), lines["quantity"].to_numpy(float))
    test_days = 184  # 2026-07-01 .. 2026-12-31
    sold = demand[:, :-test_days].sum(axis=1) > 0
    demand = demand[sold]
    ids = pid.to_numpy()[sold]
    lead = shop.products["lead_time_days"].to_numpy(float)[sold]
    cost = shop.products["cost"].to_numpy(float)[sold]
    units = demand.sum(axis=1)
    out = run_case("Generator shop (all products with history)", demand[:, :-test_days], demand[:, -test_days:],
                   ids, days, lead, cost)
    # intermittent items dominate a boutique catalogue; report the busier half separately too
    busy = units >= np.median(units)
    out += run_case("Generator shop, busier half of the products", demand[busy, :-test_days],
                    demand[busy, -test_days:], ids[busy], days, lead[busy], cost[busy])
    return out


def pharma_case() -> list[str]:
    frame = pd.read_csv(DATA / "pharma_sales" / "salesdaily_clean.csv", parse_dates=["date"])
    frame = frame.set_index("date").asfreq("D").fillna(0)
    cols = list(frame.columns)
    demand = frame.to_numpy(float).T
    lead = np.array([3, 5, 7, 7, 10, 14, 14, 21], dtype=float)[: len(cols)]
    cost = np.ones(len(cols))
    out = run_case("Pharmacy daily sales (real), 8 categories", demand[:, :-365], demand[:, -365:],
                   np.array(cols, dtype=object), frame.index, lead, cost)
    extra = ["Lead times (days): " + ", ".join(f"{c} {int(v)}" for c, v in zip(cols, lead, strict=True)), ""]
    print("\n".join(extra), flush=True)
    return out + extra


# --------------------------------------------------------------------------- speed
def speed_case(n_products: int = 10_000, n_lines: int = 2_000_000, history_days: int = 421) -> list[str]:
    rng = np.random.default_rng(3)
    as_of = pd.Timestamp("2026-07-01")
    ids = np.array([f"p{i:05d}" for i in range(n_products)], dtype=object)
    pop = rng.pareto(1.2, n_products) + 0.05
    prod = rng.choice(n_products, n_lines, p=pop / pop.sum())
    seconds = rng.integers(0, history_days * 86400, n_lines)  # 421 days: the seasonal index is computed
    lines = pd.DataFrame({
        "product_id": ids[prod],
        "ordered_at": (as_of - pd.Timedelta(days=history_days)).tz_localize("UTC") + pd.to_timedelta(seconds, unit="s"),
        "quantity": rng.geometric(0.7, n_lines),
    })
    products = pd.DataFrame({
        "id": ids, "name": [f"Product {i}" for i in range(n_products)],
        "category": rng.choice(["A", "B", "C", "D", "E"], n_products),
        "cost": np.where(rng.random(n_products) < 0.02, np.nan, rng.uniform(5, 200, n_products)),
        "price": rng.uniform(10, 400, n_products), "stock": rng.integers(0, 400, n_products),
        "lead_time_days": np.where(rng.random(n_products) < 0.05, np.nan, rng.integers(3, 22, n_products)),
    })
    times = []
    for _ in range(3):
        started = time.perf_counter()
        model = InventoryOptimizer().fit(lines, products, as_of=as_of)
        model.alerts(), model.health(), model.summary(), model.reorder_recommendations(), model.data_issues()
        times.append(time.perf_counter() - started)
    a = model.alerts()
    out = ["### Speed: analysis of 10k products (service only)", "",
           f"{n_products:,} products, {n_lines:,} order lines over the last {history_days} days: fit + alerts + health + "
           f"summary + reorder list in {min(times):.2f} s (best of 3; runs {', '.join(f'{t:.2f}' for t in times)} s); "
           f"{len(a):,} alerts. Target <= 10 s.", ""]
    print("\n".join(out), flush=True)
    return out


def _db_shop(n_products: int = 10_000, orders: int = 400_000):
    """The 10k-product shop in the configured database (written once; the same seed reuses it)."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from backend_django.shop.generator import GeneratorConfig, synthesize, write_shop

    call_command("migrate", verbosity=0)
    shop = synthesize(GeneratorConfig(customers=50_000, products=n_products, orders=orders, years=1, seed=5,
                                      end_date=date(2026, 6, 30)))
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM shop_product")
        present = cursor.fetchone()[0]
    started = time.perf_counter()
    if present != n_products:  # the same seed gives the same shop: reuse one written by an earlier run
        write_shop(shop, clear=True)
    return shop, time.perf_counter() - started


def db_case(n_products: int = 10_000, orders: int = 400_000) -> list[str]:
    """End to end through the ORM data source on the configured database (wipes its shop tables)."""
    shop, write_s = _db_shop(n_products, orders)
    from django.db import connection

    from ml_predictions.capabilities.inventory.selectors import run_inventory_analysis
    from ml_predictions.capabilities.inventory.services import inventory_alerts_sync
    from ml_predictions.models import InventoryAlert

    InventoryAlert.objects.all().delete()  # the first run creates every alert, the next ones find them
    times, reads, syncs = [], [], []
    for _ in range(3):
        started = time.perf_counter()
        analysis = run_inventory_analysis(as_of="2026-07-01")
        analysis.optimizer.health()
        sync_started = time.perf_counter()
        sync = inventory_alerts_sync(analysis=analysis, force=True)
        times.append(time.perf_counter() - started)
        reads.append(analysis.read_seconds)
        syncs.append((time.perf_counter() - sync_started, sync.created, sync.unchanged))
    best = int(np.argmin(times))
    sync_text = "; ".join(f"{s:.2f} s ({c:,} created, {u:,} unchanged)" for s, c, u in syncs)
    created = pd.to_datetime(shop.orders["created_at"])
    recent = int((created >= pd.Timestamp("2026-04-02")).sum())
    last_year = int(((created >= pd.Timestamp("2025-05-06")) & (created < pd.Timestamp("2025-07-29"))).sum())
    out = ["### Speed: analysis of 10k products through the ORM data source", "",
           f"{connection.vendor}, {n_products:,} products, {shop.stats['order_lines']:,} order lines in a year "
           f"(read: {recent:,} orders of the last 90 days + {last_year:,} orders of last year's season window): "
           f"run_inventory_analysis (read products and order lines, fit, alerts) + health + alert sync in "
           f"{times[best]:.2f} s, "
           f"of which {reads[best]:.2f} s reading the database (best of 3; runs {', '.join(f'{t:.2f}' for t in times)} "
           f"s). Alert sync per run: {sync_text}. Writing the shop took {write_s:.0f} s (0 = reused; not part "
           f"of the figure).",
           ""]
    print("\n".join(out), flush=True)
    return out


def cache_case(n_products: int = 10_000, orders: int = 400_000, repeats: int = 7) -> list[str]:
    """The GET endpoints through the API (DRF test client, staff user): cold, warm, after changes.

    Shipped settings (INVENTORY_FINGERPRINT_SECONDS = 60: the fingerprint is reused while the data change
    stamp holds; rendered answers reused), then the exact mode (0) beside it. Each figure: wall time and
    this process's CPU time (the database server's CPU is not in it), median of `repeats`."""
    _shop, write_s = _db_shop(n_products, orders)
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.db import connection
    from django.db.models import F
    from rest_framework.test import APIClient

    from backend_django.shop.models import Product
    from ml_predictions.capabilities.inventory.selectors import analysis_cache_key, build_optimizer
    from ml_predictions.conf import ml_settings
    from ml_predictions.data import mark_changed

    shipped = dict(settings.ML_PREDICTIONS)
    user, _created = get_user_model().objects.get_or_create(username="inventory_bench", defaults={"is_staff": True})
    client = APIClient()
    client.force_authenticate(user)
    query = {"as_of": "2026-07-01"}
    urls = {"analysis": "/api/ml/inventory-analysis/", "reorder": "/api/ml/reorder-recommendations/",
            "health": "/api/ml/inventory-health/"}

    def timed(url: str, params: dict | None = None) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        response = client.get(url, params or query)
        out = (time.perf_counter() - wall, time.process_time() - cpu)
        assert response.status_code == 200, response.content[:300]
        return out

    def ms(values: list[tuple[float, float]]) -> str:
        walls, cpus = [v[0] for v in values], [v[1] for v in values]
        return (f"{1000 * float(np.median(walls)):.0f} ms (min {1000 * min(walls):.0f}) | "
                f"{1000 * float(np.median(cpus)):.0f} ms")

    def one(value: tuple[float, float]) -> str:
        return f"{1000 * value[0]:.0f} ms | {1000 * value[1]:.0f} ms"

    category = Product.objects.values_list("category__name", flat=True).first()
    product = Product.objects.order_by("pk").first()
    rows: list[str] = []
    for label, memo in (("shipped (INVENTORY_FINGERPRINT_SECONDS = 60)", None), ("exact (= 0)", 0)):
        settings.ML_PREDICTIONS = shipped if memo is None else {**shipped, "INVENTORY_FINGERPRINT_SECONDS": memo}
        ml_settings.reload()
        cache.clear()
        cold = timed(urls["analysis"])
        warm = {name: [timed(url) for _ in range(repeats)] for name, url in urls.items()}
        warm_category = [timed(urls["analysis"], {**query, "category": category}) for _ in range(repeats)]
        optimizer = build_optimizer()
        key_times = []
        for _ in range(repeats):
            wall, cpu = time.perf_counter(), time.process_time()
            analysis_cache_key(date(2026, 7, 1), optimizer)
            key_times.append((time.perf_counter() - wall, time.process_time() - cpu))
        product.refresh_from_db()
        product.stock_quantity = (product.stock_quantity or 0) + 1
        product.save()  # through the ORM: the change stamp moves
        after_save = timed(urls["analysis"])
        after_save_warm = [timed(urls["analysis"]) for _ in range(repeats)]
        Product.objects.filter(pk=product.pk).update(stock_quantity=F("stock_quantity") - 1)
        mark_changed()  # a bulk writer's contract
        after_bulk = timed(urls["analysis"])
        rows += [f"| **{label}** | | |",
                 f"| inventory-analysis, cold (empty cache: fingerprint + read + fit + sync + response) | {one(cold)} |",
                 f"| inventory-analysis, warm | {ms(warm['analysis'])} |",
                 f"| reorder-recommendations, warm (shares the analysis) | {ms(warm['reorder'])} |",
                 f"| inventory-health, warm | {ms(warm['health'])} |",
                 f"| inventory-analysis?category=…, warm | {ms(warm_category)} |",
                 f"| the analysis cache key alone (fingerprint or stamp, active models) | {ms(key_times)} |",
                 f"| inventory-analysis after one product.save() (recomputed) | {one(after_save)} |",
                 f"| … and warm again | {ms(after_save_warm)} |",
                 "| inventory-analysis after QuerySet.update() + mark_changed() (data re-checked; the stock is back "
                 f"to its first value, so the first analysis comes from the cache and only the answer is rebuilt) | "
                 f"{one(after_bulk)} |"]
    settings.ML_PREDICTIONS = shipped
    ml_settings.reload()
    out = ["### Speed: the GET endpoints with the analysis cache (10k products, through the API)", "",
           f"{connection.vendor}, {n_products:,} products, the same shop as above, Django's default LocMemCache, "
           f"INVENTORY_CACHE_SECONDS = {ml_settings.INVENTORY_CACHE_SECONDS}; each figure is one whole GET "
           "through the DRF test client (authentication, filters, serialization included), median of "
           f"{repeats}; CPU = this process only (PostgreSQL's own CPU is not in it):", "",
           "| request | wall | CPU |", "|---|---:|---:|", *rows,
           "", f"(Writing the shop took {write_s:.0f} s; 0 = reused.)", ""]
    print("\n".join(out), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=["sim", "speed", "db", "cache"], default=None)
    parser.add_argument("--levels", choices=["uniform", "classes"], default="uniform",
                        help="simulation: 95 %% for every product, or the shipped per-class service levels")
    args = parser.parse_args()
    global LEVELS
    LEVELS = args.levels
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}\n", flush=True)
    if args.only in (None, "sim"):
        pharma_case()
        generator_case()
    if args.only in (None, "speed"):
        speed_case()
    if args.only == "db":
        db_case()
    if args.only == "cache":
        cache_case()


if __name__ == "__main__":
    main()
