"""A shop of the shape real online retailers have, for regression tests (not for quality claims).

Every generated test shop used to have the same shape (tens of products, baskets of 2-5 lines), which
is how a crash that only long baskets and an all-unavailable catalogue trigger reached a real shop.
This one has thousands of products, heavy-tailed basket sizes up to several hundred lines, a few
wholesale-like customers with hundreds of orders, closed Saturdays and a busier last month.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def retail_shape(*, products: int = 2500, customers: int = 300, orders: int = 1500, max_basket: int = 400,
                 heavy_customers: int = 5, heavy_orders: int = 150, days: int = 344,
                 seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(order_lines, products, customers) in the data source's canonical columns, without stock."""
    rng = np.random.default_rng(seed)
    n_heavy = heavy_customers * heavy_orders
    cust = np.concatenate([np.repeat(np.arange(heavy_customers), heavy_orders),
                           rng.integers(heavy_customers, customers, orders - n_heavy)])
    # basket sizes: log-normal, median ~12 lines, tail cut at max_basket; a few at the cap itself
    sizes = np.minimum(np.ceil(rng.lognormal(2.5, 1.1, orders)).astype(int), max_basket)
    sizes[rng.choice(orders, 3, replace=False)] = max_basket
    order_of_line = np.repeat(np.arange(orders), sizes)
    # product popularity: Zipf-like, plus each customer's own favourites (repeat buying)
    weights = 1.0 / np.arange(1, products + 1) ** 0.9
    prod = rng.choice(products, len(order_of_line), p=weights / weights.sum())
    favourites = rng.integers(0, products, (customers, 20))
    repeat = rng.random(len(order_of_line)) < 0.35
    prod[repeat] = favourites[cust[order_of_line[repeat]], rng.integers(0, 20, repeat.sum())]
    day = rng.integers(0, days, orders)
    late = rng.random(orders) < 0.25  # the run-up at the end of the period
    day[late] = rng.integers(days - 30, days, late.sum())
    start = pd.Timestamp("2025-12-01", tz="UTC")
    when = start + pd.to_timedelta(day, unit="D") + pd.to_timedelta(rng.integers(8 * 60, 18 * 60, orders), unit="m")
    when = when.where(when.day_of_week != 5, when + pd.Timedelta(days=1))  # closed on Saturdays
    lines = pd.DataFrame({
        "order_id": [f"5{o:05d}" for o in order_of_line],
        "customer_id": [f"{12000 + c}" for c in cust[order_of_line]],
        "product_id": [f"SKU{p:05d}" for p in prod],
        "ordered_at": when[order_of_line].to_numpy(),
        "quantity": rng.integers(1, 24, len(order_of_line)),
        "unit_price": np.round(rng.lognormal(1.0, 0.8, products), 2)[prod],
    })
    catalogue = pd.DataFrame({
        "id": [f"SKU{p:05d}" for p in range(products)],
        "name": [f"ITEM {p} {'MUG' if p % 3 else 'LANTERN'}" for p in range(products)],
        "category": "",
        "price": np.round(rng.lognormal(1.0, 0.8, products), 2),
        "active": True,
    })
    people = pd.DataFrame({"id": [f"{12000 + c}" for c in range(customers)],
                           "created_at": start.isoformat()})
    return lines, catalogue, people


def write_csv_shop(directory: Path, lines: pd.DataFrame, products: pd.DataFrame, customers: pd.DataFrame) -> Path:
    """The three files CSVDataSource reads."""
    directory.mkdir(parents=True, exist_ok=True)
    lines.to_csv(directory / "order_lines.csv", index=False)
    products.to_csv(directory / "products.csv", index=False)
    customers.to_csv(directory / "customers.csv", index=False)
    return directory
