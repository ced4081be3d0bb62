"""Time the synthetic generator: draw and write ~1M order lines into a fresh database.

    python benchmarks/generator_bench.py --db sqlite --name mine
    python benchmarks/generator_bench.py --db postgres --name mine
    python benchmarks/generator_bench.py --db postgres --name mine --curve   # 250k / 1M / 3M lines

Target (issue 15): at most 20 s and 1 GB for 1M order lines on SQLite and PostgreSQL on a 2-core
machine (issue 3's was 60 s). The cores are shared, so each run prints the 1-minute load average and
its CPU time (user + sys of this process; PostgreSQL's server process is not in it) beside the wall
time: under load the CPU time is the steadier figure. The database is a new
/tmp/bench_imp_<name>.sqlite3 file or a new PostgreSQL database bench_imp_<name>, dropped afterwards
unless --keep (datasource_bench.py reuses a kept one). --curve runs each size in its own process (so
each peak RSS is its own) with customers scaled with the orders and the catalogue fixed.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import date

import _benchdb

LIMIT_S_PER_MILLION = 20.0
LIMIT_RSS_MB = 1024.0
# orders and customers for ~250k, ~1M and ~3M lines (381k orders give 970,987 lines)
CURVE = [(95_250, 12_500), (381_000, 50_000), (1_143_000, 150_000)]


def _cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def _server_cpu_s() -> float:
    """CPU time of this connection's PostgreSQL backend (same machine): the COPY parsing, index builds
    and key checks run there, outside this process's own CPU time."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(args: argparse.Namespace) -> None:
    print(f"load before: {os.getloadavg()[0]:.2f}")
    _benchdb.create(args.db, args.name)
    from backend_django.shop.generator import GeneratorConfig, synthesize, write_shop

    config = GeneratorConfig(customers=args.customers, products=args.products, orders=args.orders, seed=42,
                             end_date=date(2026, 6, 30))
    server = _server_cpu_s if args.db == "postgres" else (lambda: 0.0)
    s0 = server()
    t0, c0 = time.perf_counter(), _cpu_s()
    shop = synthesize(config)
    t1, c1 = time.perf_counter(), _cpu_s()
    write_shop(shop)
    t2, c2 = time.perf_counter(), _cpu_s()
    server_cpu = server() - s0
    lines = len(shop.order_items)
    rss = _benchdb.peak_rss_mb()
    per_million = (t2 - t0) / lines * 1e6
    print(f"db={args.db} customers={len(shop.customers):,} products={len(shop.products):,} "
          f"orders={len(shop.orders):,} order_lines={lines:,}")
    print(f"synthesize {t1 - t0:.1f} s ({c1 - c0:.1f} s CPU), write {t2 - t1:.1f} s ({c2 - c1:.1f} s CPU), "
          f"total {t2 - t0:.1f} s ({c2 - c0:.1f} s CPU), {lines / (t2 - t0):,.0f} lines/s"
          + (f"; PostgreSQL backend {server_cpu:.1f} s CPU" if args.db == "postgres" else ""))
    print(f"per 1M lines {per_million:.1f} s (limit {LIMIT_S_PER_MILLION:.0f} s: "
          f"{'ok' if per_million <= LIMIT_S_PER_MILLION else 'OVER'}); peak RSS {rss:,.0f} MB "
          f"(limit {LIMIT_RSS_MB:,.0f} MB: {'ok' if rss <= LIMIT_RSS_MB else 'OVER'}); "
          f"load after: {os.getloadavg()[0]:.2f}")
    print(f"RESULT db={args.db} lines={lines} wall={t2 - t0:.2f} cpu={c2 - c0:.2f} server_cpu={server_cpu:.2f} write_wall={t2 - t1:.2f} "
          f"rss_mb={rss:.0f} per_million={per_million:.2f} load={os.getloadavg()[0]:.2f}", flush=True)
    if not args.keep:
        _benchdb.drop(args.db, args.name)


def curve(args: argparse.Namespace) -> None:
    rows = []
    for orders, customers in CURVE:
        cmd = [sys.executable, __file__, "--db", args.db, "--name", args.name, "--orders", str(orders),
               "--customers", str(customers), "--products", str(args.products)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        print(out, end="", flush=True)
        fields = dict(kv.split("=") for kv in out.split("RESULT ", 1)[1].split())
        rows.append(fields)
    print("\n| lines | total wall | CPU (this process) | CPU (PostgreSQL backend) | per 1M lines (limit 20 s) "
          "| peak RSS (limit 1 GB) | load |")
    print("|---|---|---|---|---|---|---|")
    for f in rows:
        print(f"| {int(f['lines']):,} | {float(f['wall']):.1f} s | {float(f['cpu']):.1f} s | "
              f"{float(f['per_million']):.1f} s | {float(f['rss_mb']):,.0f} MB | {f['load']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--name", default="gen")
    parser.add_argument("--orders", type=int, default=381_000, help="381k orders give about 1.0M lines")
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--products", type=int, default=2_000)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--curve", action="store_true", help="250k / 1M / 3M lines, one process each")
    args = parser.parse_args()
    if args.curve:
        curve(args)
    else:
        run(args)


if __name__ == "__main__":
    main()
