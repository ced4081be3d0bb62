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
import os
import time

import _benchdb


def raw_select(source) -> float:
    """The same SELECT the ORM source sends (same joins, filters and casts), straight into a DataFrame."""
    import pandas as pd
    from django.db import connections
    from django.db.models import FloatField, TextField
    from django.db.models.functions import Cast

    qs = source._order_line_queryset()
    mapping = source.fields["order_line"]
    cols = ["order_id", "customer_id", "product_id", "ordered_at", "quantity", "unit_price"]
    casts = {f"_ml_{c}": Cast(mapping[c], TextField() if c in cols[:4] else FloatField()) for c in cols}
    sql, params = qs.annotate(**casts).values_list(*casts).query.sql_with_params()
    t0 = time.perf_counter()
    with connections[qs.db].cursor() as cursor:
        cursor.execute(sql, params)
        frame = pd.DataFrame.from_records(cursor.fetchall(), columns=cols)
    seconds = time.perf_counter() - t0
    del frame
    gc.collect()
    return seconds


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
    times, raw_times = [], []
    for _ in range(args.repeat):
        raw_times.append(raw_select(source))  # the limit, measured beside each ORM read
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
    ratio = min(times) / min(raw_times)
    paired = sorted(t / r for t, r in zip(times, raw_times, strict=True))
    print(f"raw SELECT of the same columns into pandas (cursor.fetchall + DataFrame.from_records, no conversion): "
          f"best {min(raw_times):.2f} s, runs {', '.join(f'{t:.2f}' for t in raw_times)} s")
    print(f"order_lines() / raw = {ratio:.2f} best vs best, per pair {', '.join(f'{x:.2f}' for x in paired)} "
          f"(limit 1.2: {'met' if ratio <= 1.2 else 'OVER'}); "
          f"load {tuple(round(x, 2) for x in os.getloadavg())}")
    print(f"products() + customers(): {t_other:.2f} s ({len(products):,} products, {len(customers):,} customers)")
    if args.drop:
        _benchdb.drop(args.db, args.name)


if __name__ == "__main__":
    main()
