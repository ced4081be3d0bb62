"""Time `manage.py import_orders` on a 500k-line file, then the idempotent re-import.

    python benchmarks/import_bench.py --db sqlite
    python benchmarks/import_bench.py --db postgres

The file is written once to /tmp/bench_imp_lines_<n>.csv from the generator (seed 42) in the UCI Online
Retail layout (InvoiceNo, StockCode, Description, Quantity, InvoiceDate as M/D/YYYY H:MM, UnitPrice,
CustomerID, Country), so the run exercises --map and --date-format like a real retail export. It is
imported into a fresh database (/tmp/bench_imp_import.sqlite3 or PostgreSQL bench_imp_import) through
the management command, exactly as a user runs it. Target (issue 3): 500k lines in under 60 s.

    python benchmarks/import_bench.py --db sqlite --real

imports the real data sets of ../shared/data instead, with the command lines of docs/import.md.

    python benchmarks/import_bench.py --db sqlite --orders 40000 --as xlsx

imports the same rows as an Excel workbook (two sheets, as UCI Online Retail II ships) or a gzip CSV
(`--as gz`), to price those file kinds against the plain CSV.
"""
from __future__ import annotations

import argparse
import io
import time
from contextlib import redirect_stdout
from datetime import date
from pathlib import Path

import _benchdb

UCI_MAP = ("InvoiceNo=order_id,StockCode=product_id,Description=product_name,Quantity=quantity,"
           "InvoiceDate=ordered_at,UnitPrice=unit_price,CustomerID=customer_id,Country=country")


def write_file(path: Path, orders: int) -> int:
    import numpy as np
    import pandas as pd

    from backend_django.shop.generator import GeneratorConfig, synthesize

    shop = synthesize(GeneratorConfig(customers=30_000, products=3_000, orders=orders, seed=42,
                                      end_date=date(2026, 6, 30)))
    orders_df = shop.orders.assign(InvoiceNo=[f"{536365 + i}" for i in range(len(shop.orders))])
    customers = shop.customers.assign(CustomerID=np.arange(12346, 12346 + len(shop.customers)))
    products = shop.products.assign(StockCode=[f"{85000 + i}" for i in range(len(shop.products))])
    lines = (shop.order_items
             .merge(orders_df[["id", "InvoiceNo", "customer_id", "created_at"]], left_on="order_id", right_on="id")
             .merge(customers[["id", "CustomerID", "country"]], left_on="customer_id", right_on="id",
                    suffixes=("", "_c"))
             .merge(products[["id", "StockCode", "name"]], left_on="product_id", right_on="id", suffixes=("", "_p")))
    out = pd.DataFrame({
        "InvoiceNo": lines["InvoiceNo"], "StockCode": lines["StockCode"], "Description": lines["name"].str.upper(),
        "Quantity": lines["quantity"],
        "InvoiceDate": pd.to_datetime(lines["created_at"]).dt.strftime("%-m/%-d/%Y %-H:%M"),
        "UnitPrice": lines["unit_price"], "CustomerID": lines["CustomerID"], "Country": lines["country"]})
    out.to_csv(path, index=False)
    return len(out)


from _paths import SHARED_DATA  # noqa: E402  (the script's folder is on sys.path)

DATA = SHARED_DATA
REAL = {
    "cdnow": [str(DATA / "cdnow" / "CDNOW_master.txt"), "--sep", "whitespace", "--map",
              "date=ordered_at,number_of_cds=quantity,dollar_value=line_total", "--date-format", "%Y%m%d",
              "--id-prefix", "cdnow:", "--currency", "USD"],
    "bread_basket": [str(DATA / "bread_basket" / "BreadBasket_DMS.csv"), "--map",
                     "Transaction=order_id,Item=product_id,Date+Time=ordered_at", "--date-format", "%Y-%m-%d %H:%M:%S",
                     "--default", "unit_price=0", "--exclude", "product_id=NONE", "--missing-customer", "guest",
                     "--id-prefix", "bread:", "--currency", "GBP"],
    "superstore": [str(DATA / "superstore_fictional" / "Sample - Superstore.csv"), "--map",
                   "Order ID=order_id,Order Date=ordered_at,Customer ID=customer_id,Product ID=product_id,"
                   "Product Name=product_name,Category=category,Sales=line_total,Quantity=quantity",
                   "--date-format", "%m/%d/%Y", "--id-prefix", "superstore:", "--currency", "USD"],
}


def convert(path: Path, kind: str) -> Path:
    """The CSV as a gzip file, or as a workbook of two sheets (its halves) with Excel date cells."""
    import pandas as pd

    target = path.with_suffix(".csv.gz" if kind == "gz" else ".xlsx")
    if target.exists():
        return target
    frame = pd.read_csv(path, dtype=str)
    if kind == "gz":
        frame.to_csv(target, index=False, compression="gzip")
        return target
    frame["InvoiceDate"] = pd.to_datetime(frame["InvoiceDate"], format="%m/%d/%Y %H:%M")
    half = len(frame) // 2
    with pd.ExcelWriter(target) as writer:
        frame.iloc[:half].to_excel(writer, sheet_name="Year 1", index=False)
        frame.iloc[half:].to_excel(writer, sheet_name="Year 2", index=False)
    return target


def run(command: list[str], label: str) -> None:
    from django.core.management import call_command

    buffer = io.StringIO()
    t0 = time.perf_counter()
    with redirect_stdout(buffer):
        call_command(*command, stdout=buffer)
    elapsed = time.perf_counter() - t0
    print(f"{label}: {elapsed:.1f} s")
    print("  " + "\n  ".join(line for line in buffer.getvalue().splitlines() if line.strip() and "[" not in line[:3]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--orders", type=int, default=190_000, help="190k orders give about 500k lines")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--real", action="store_true", help="Import the real data sets instead")
    parser.add_argument("--as", dest="kind", choices=["csv", "gz", "xlsx"], default="csv",
                        help="the file kind to import the same rows as")
    args = parser.parse_args()

    _benchdb.create(args.db, "import")
    if args.real:
        print(f"db={args.db} real data sets from {DATA}")
        for name, command in REAL.items():
            run(["import_orders", *command], name)
        if not args.keep:
            _benchdb.drop(args.db, "import")
        return

    path = Path(f"/tmp/bench_imp_lines_{args.orders}.csv")
    if not path.exists():
        write_file(path, args.orders)
    n_lines = sum(1 for _ in path.open()) - 1
    if args.kind != "csv":
        path = convert(path, args.kind)
    print(f"db={args.db} file={path} ({n_lines:,} lines, {path.stat().st_size / 2**20:.0f} MB)")
    dates = [] if args.kind == "xlsx" else ["--date-format", "%m/%d/%Y %H:%M"]  # Excel keeps date cells
    command = ["import_orders", str(path), "--map", UCI_MAP, *dates]
    for label in ("first import", "re-import (idempotent)"):
        run(command, label)
    print(f"peak RSS {_benchdb.peak_rss_mb():,.0f} MB")
    if not args.keep:
        _benchdb.drop(args.db, "import")


if __name__ == "__main__":
    main()
