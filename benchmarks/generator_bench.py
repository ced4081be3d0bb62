"""Time the synthetic generator: draw and write ~1M order lines into a fresh database.

    python benchmarks/generator_bench.py --db sqlite
    python benchmarks/generator_bench.py --db postgres

Target (issue 15): at most 20 s and 1 GB for 1M order lines on SQLite and PostgreSQL on a 2-core
machine (issue 3's was 60 s). The load average is printed beside the figure: the cores are shared. The database is a
new /tmp/bench_imp_gen.sqlite3 file or a new PostgreSQL database bench_imp_gen, dropped afterwards
unless --keep (datasource_bench.py reuses a kept one).
"""
from __future__ import annotations

import argparse
import os
import time
from datetime import date

import _benchdb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--name", default="gen")
    parser.add_argument("--orders", type=int, default=381_000, help="381k orders give about 1.0M lines")
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--products", type=int, default=2_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    print(f"load before: {os.getloadavg()}")
    _benchdb.create(args.db, args.name)
    from backend_django.shop.generator import GeneratorConfig, synthesize, write_shop

    config = GeneratorConfig(customers=args.customers, products=args.products, orders=args.orders, seed=42,
                             end_date=date(2026, 6, 30))
    t0 = time.perf_counter()
    shop = synthesize(config)
    t1 = time.perf_counter()
    write_shop(shop)
    t2 = time.perf_counter()
    lines = len(shop.order_items)
    print(f"db={args.db} customers={len(shop.customers):,} products={len(shop.products):,} "
          f"orders={len(shop.orders):,} order_lines={lines:,}")
    print(f"synthesize {t1 - t0:.1f} s, write {t2 - t1:.1f} s, total {t2 - t0:.1f} s "
          f"({lines / (t2 - t0):,.0f} lines/s); peak RSS {_benchdb.peak_rss_mb():,.0f} MB")
    per_million = (t2 - t0) / lines * 1e6
    print(f"per 1M lines {per_million:.1f} s (limit 20 s: {'ok' if per_million <= 20 else 'OVER'}); "
          f"load after: {os.getloadavg()}")
    if not args.keep:
        _benchdb.drop(args.db, args.name)


if __name__ == "__main__":
    main()
