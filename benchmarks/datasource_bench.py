"""Time the ORM data source's read of ~1M order lines, and its memory.

    python benchmarks/generator_bench.py --db sqlite --keep      # fills /tmp/bench_imp_gen.sqlite3
    python benchmarks/datasource_bench.py --db sqlite
    python benchmarks/generator_bench.py --db postgres --keep    # fills database bench_imp_gen
    python benchmarks/datasource_bench.py --db postgres --drop

Reads `get_data_source().order_lines()` (the path every capability uses), then products() and
customers(), each --repeat times; reports the best time and the peak resident memory above the
process's baseline before the first read.
"""
from __future__ import annotations

import argparse
import gc
import time

import _benchdb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--name", default="gen")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--drop", action="store_true", help="Drop the benchmark database afterwards")
    args = parser.parse_args()

    _benchdb.use(args.db, args.name)
    from ml_predictions.data import get_data_source

    source = get_data_source()
    source.products()  # warm up the connection and imports
    gc.collect()
    base = _benchdb.rss_mb()
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        lines = source.order_lines()
        times.append(time.perf_counter() - t0)
        n = len(lines)
        frame_mb = lines.memory_usage(deep=True).sum() / 2**20
        del lines
        gc.collect()
    peak = _benchdb.peak_rss_mb() - base
    t0 = time.perf_counter()
    products, customers = source.products(), source.customers()
    t_other = time.perf_counter() - t0
    print(f"db={args.db} order_lines={n:,} (cancelled/refunded excluded)")
    print(f"order_lines(): best {min(times):.2f} s, runs {', '.join(f'{t:.2f}' for t in times)} s; "
          f"frame {frame_mb:,.0f} MB; peak RSS above baseline {peak:,.0f} MB")
    print(f"products() + customers(): {t_other:.2f} s ({len(products):,} products, {len(customers):,} customers)")
    if args.drop:
        _benchdb.drop(args.db, args.name)


if __name__ == "__main__":
    main()
