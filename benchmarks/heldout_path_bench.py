"""The held-out scoring path at full size: a UCI-Online-Retail-II-shaped export built from the real sets,
`manage.py import_orders FILE` with the default options, then every training and read endpoint of the
HTTP API with a staff JWT, printing each step's wall and CPU time and status code.

    nice -n 10 python benchmarks/heldout_path_bench.py [--customers 6000] [--db-url URL] [--variant uci2]
        [--import-options "--returns refund --missing-customer guest"]

The database (default postgres://postgres@127.0.0.1:5432/h_e2e) is dropped and recreated. Trainings run
inline (TASKS_BACKEND=immediate), as the API answers with a queueing backend only change who runs them.
Any 5xx, a failed training log or a crash is printed as FAIL and makes the exit status 1.
"""
from __future__ import annotations

import argparse
import os
import resource
import shlex
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Steps:
    def __init__(self) -> None:
        self.failures: list[str] = []

    def run(self, label: str, fn, *ok: int):
        wall, used = time.perf_counter(), cpu()
        try:
            result = fn()
        except Exception as exc:  # noqa: BLE001  (a benchmark reports every crash and goes on)
            self.failures.append(f"{label}: {type(exc).__name__}: {exc}"[:400])
            print(f"FAIL {label:<44} {type(exc).__name__}: {str(exc)[:300]}", flush=True)
            return None
        status = getattr(result, "status_code", None)
        note = f"HTTP {status}" if status is not None else ""
        if status is not None and status not in (ok or (200,)):
            self.failures.append(f"{label}: HTTP {status} {result.content[:300]!r}")
            note = f"FAIL HTTP {status} {result.content[:200]!r}"
        print(f"{label:<50} {time.perf_counter() - wall:7.1f} s wall {cpu() - used:7.1f} s CPU  {note}", flush=True)
        return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=6000, help="CDNOW customers in the export (6,000 give "
                        "about 150k lines, 4,000 products, 20k invoices)")
    parser.add_argument("--big-baskets", type=int, default=60)
    parser.add_argument("--variant", choices=["uci2", "uci1", "semicolon"], default="uci2")
    parser.add_argument("--import-options", default="", help="extra import_orders options, e.g. "
                        "'--returns refund --missing-customer guest'")
    parser.add_argument("--db-url", default="postgres://postgres@127.0.0.1:5432/h_e2e")
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = args.db_url
    os.environ.setdefault("TASKS_BACKEND", "immediate")
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend_django.settings")
    sys.path.insert(0, str(ROOT))
    _fresh_database(args.db_url)
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework.test import APIClient

    from backend_django.shop.models import Customer, Product
    from ml_predictions.models import MLTrainingLog
    from tests.e2e import heldout_shop

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "MODEL_DIR": tempfile.mkdtemp(prefix="h_e2e_models_")}
    steps = Steps()
    print(f"load {open('/proc/loadavg').read().strip()}", flush=True)
    call_command("migrate", verbosity=0)
    shop = steps.run("build the export from ../shared/data",
                     lambda: heldout_shop.build(customers=args.customers, big_baskets=args.big_baskets))
    path = Path(tempfile.mkdtemp(prefix="h_e2e_")) / f"online_retail_{args.variant}.csv"
    heldout_shop.write(shop, path, variant=args.variant)
    f = shop.frame
    print(f"export: {len(f):,} lines, {f['Invoice'].nunique():,} invoices, {f['StockCode'].nunique():,} codes, "
          f"{(f['Customer ID'] == '').mean():.0%} without customer, largest basket "
          f"{f.groupby('Invoice').size().max()} lines", flush=True)
    extra = shlex.split(args.import_options)
    if args.variant == "semicolon":
        extra += ["--sep", "semicolon"]
    steps.run(f"import_orders {' '.join(extra) or '(default options)'}",
              lambda: call_command("import_orders", str(path), *extra))
    print(f"shop: {Customer.objects.count():,} customers, {Product.objects.count():,} products", flush=True)

    get_user_model().objects.create_user("bench", "b@example.com", "pw-bench-123", is_staff=True)
    client = APIClient()
    token = client.post("/api/auth/token/", {"username": "bench", "password": "pw-bench-123"}, format="json")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.json()['access']}")
    post = lambda url, body: (lambda: client.post(url, body, format="json"))  # noqa: E731
    get = lambda url: (lambda: client.get(url))  # noqa: E731
    steps.run("train-sales-forecast auto", post("/api/ml/train-sales-forecast/", {"model_type": "auto"}))
    steps.run("train-product-recommendation", post("/api/ml/train-product-recommendation/", {}))
    steps.run("train-customer-segmentation auto", post("/api/ml/train-customer-segmentation/", {"n_clusters": "auto"}))
    steps.run("train-customer-segmentation 6", post("/api/ml/train-customer-segmentation/", {"n_clusters": 6}))
    steps.run("retrain inventory", post("/api/ml/retrain/", {"model_type": "inventory"}))
    for log in MLTrainingLog.objects.filter(status="failed"):
        steps.failures.append(f"training log {log.model_type} failed: {str(log.error)[:300]}")
        print(f"FAIL training log {log.model_type}: {str(log.error)[:300]}")
    customer = str(Customer.objects.order_by("external_id").values_list("id", flat=True).first())
    product = str(Product.objects.order_by("sku").values_list("id", flat=True).first())
    reads = [("predict-sales 30 days", post("/api/ml/predict-sales/", {"days_ahead": 30})),
             ("product-recommendations", get(f"/api/ml/product-recommendations/{product}/?top_n=10")),
             ("customer-recommendations", get(f"/api/ml/customer-recommendations/{customer}/?top_n=10")),
             ("customer-segment", get(f"/api/ml/customer-segment/{customer}/")),
             ("segments", get("/api/ml/segments/")),
             ("inventory-analysis", get("/api/ml/inventory-analysis/")),
             ("reorder-recommendations", get("/api/ml/reorder-recommendations/")),
             ("inventory-health", get("/api/ml/inventory-health/")),
             ("dashboard-summary", get("/api/ml/dashboard-summary/"))]
    for label, fn in reads:
        steps.run(label, fn)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB; total CPU {cpu():.1f} s; "
          f"load {open('/proc/loadavg').read().strip()}")
    print("FAILURES:\n  " + "\n  ".join(steps.failures) if steps.failures else "no failure")
    return 1 if steps.failures else 0


def _fresh_database(url: str) -> None:
    if not url.startswith("postgres"):
        return
    import psycopg

    server, name = url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


if __name__ == "__main__":
    raise SystemExit(main())
