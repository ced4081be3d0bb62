"""Cost of netting returns before RFM/CLV on an online-retail-sized history (UCI Online Retail's counts).

    python benchmarks/segmentation_returns_bench.py [--lines 541909]

Why: `customer_purchase_lines` nets the k-th return of every customer in round k, so its cost grows with
the largest number of returns one customer has (a wholesaler with hundreds of cancellations), not with
the number of orders alone. The shape: 25,900 invoices over 373 days, 4,372 customers, one of them with
600 invoices and 250 of the 3,836 cancellation invoices (9,288 lines), a quarter of the lines anonymous.
Prints the load average, wall and CPU (user + system) seconds.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml_predictions.estimators.segmentation.netting import customer_purchase_lines  # noqa: E402


def shop(n_lines: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n_orders, n_customers, n_returns, n_return_orders = 25_900, 4_372, 9_288, 3_836
    start = pd.Timestamp("2010-12-01", tz="UTC")
    customer = rng.integers(0, n_customers, n_orders)
    customer[:600] = 0
    ordered = start + pd.to_timedelta(rng.integers(0, 373 * 24 * 60, n_orders), unit="min")
    order = rng.integers(0, n_orders, n_lines)
    ids = pd.Series(customer[order]).astype(str).to_numpy().astype(object)
    ids[rng.random(n_lines) < 0.25] = None
    lines = pd.DataFrame({"order_id": order.astype(str), "customer_id": ids,
                          "product_id": rng.integers(0, 4_000, n_lines).astype(str), "ordered_at": ordered[order],
                          "quantity": rng.integers(1, 24, n_lines), "unit_price": rng.uniform(0.3, 10.0, n_lines)})
    ret_order = rng.integers(0, n_return_orders, n_returns)
    ret_customer = rng.integers(0, n_customers, n_return_orders)
    ret_customer[:250] = 0
    ret_time = start + pd.to_timedelta(rng.integers(0, 373 * 24 * 60, n_return_orders), unit="min")
    refunds = pd.DataFrame({"order_id": "C" + pd.Series(ret_order).astype(str), "customer_id":
                            pd.Series(ret_customer[ret_order]).astype(str).to_numpy(), "product_id": "p",
                            "ordered_at": ret_time[ret_order], "quantity": rng.integers(1, 5, n_returns),
                            "unit_price": rng.uniform(0.3, 10.0, n_returns)})
    return lines, refunds


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime  # user + system: what this process really consumed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=541_909)
    args = parser.parse_args()
    lines, refunds = shop(args.lines)
    print("load before:", os.getloadavg())
    cpu0, wall0 = _cpu(), time.perf_counter()
    netted = customer_purchase_lines(lines, refunds)
    wall, cpu = time.perf_counter() - wall0, _cpu() - cpu0
    print(f"{len(lines):,} lines, {len(refunds):,} returned lines -> {len(netted.lines):,} purchase lines: "
          f"wall {wall:.2f} s, CPU {cpu:.2f} s")
    print("stats:", netted.stats)
    print("load after:", os.getloadavg())


if __name__ == "__main__":
    main()
