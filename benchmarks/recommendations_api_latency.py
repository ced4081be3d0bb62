"""End-to-end latency of the recommendation endpoints (Django + DRF + registry lookup + sampled row write).

Runs in the PRODUCT venv against a throw-away test database (SQLite by default, or DATABASE_URL):

    PYTHONPATH=. .venv/bin/python benchmarks/recommendations_api_latency.py [products] [lines]

It fits the model on generator data (default 10k products, ~1M order lines), registers it as the active
model, then times GET /api/ml/product-recommendations/{id}/ and /customer-recommendations/{id}/ through
DRF's APIClient (authentication, permission, validation, lookup, JSON rendering; no network socket).
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend_django.settings")
# a few thousand requests a minute from one user is the measurement, not abuse: no throttling; and a
# throw-away key so the production settings (DEBUG off) start without one
os.environ.setdefault("DISABLE_THROTTLING", "1")
if not os.environ.get("SECRET_KEY"):
    import secrets

    os.environ["SECRET_KEY"] = secrets.token_urlsafe(64)


def main() -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import setup_test_environment
    from rest_framework.test import APIClient

    from benchmarks.recommendations_bench import generator_data
    from ml_predictions.estimators.recommendation import ProductRecommender
    from ml_predictions.models import Prediction
    from ml_predictions.training.registry import register_model

    n_products = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    orders = int(sys.argv[2]) if len(sys.argv) > 2 else 400_000
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        import tempfile

        from django.conf import settings

        settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "MODEL_DIR": tempfile.mkdtemp()}
        lines, products = generator_data(customers=max(orders // 4, 100), products=n_products, orders=orders, seed=3)
        # the data source hands the model canonical (dashed) ids and the endpoints canonicalize the URL's
        # id; the generator's frames carry 32-hex ids, so spell them the same way here
        from ml_predictions.data.orm import canonical_ids

        for col in ("order_id", "customer_id", "product_id"):
            lines[col] = canonical_ids(lines[col])
        products["id"] = canonical_ids(products["id"])
        t0 = time.perf_counter()
        model = ProductRecommender(random_state=42).fit(lines, products)
        fit_s = time.perf_counter() - t0
        register_model(model_type="product_recommendation", artifact=model, algorithm="hybrid_cosine",
                       metrics=model.summary())
        user = get_user_model().objects.create_user("bench", "b@example.com", "pw", is_staff=True)
        client = APIClient()
        client.force_authenticate(user)
        rng = np.random.default_rng(0)
        pids = model.product_ids_[rng.integers(0, len(model.product_ids_), 2000)]
        cids = model.customer_ids_[rng.integers(0, len(model.customer_ids_), 1000)]
        client.get(f"/api/ml/product-recommendations/{pids[0]}/")  # loads the artifact into the cache
        print(f"# API latency ({os.cpu_count()} cores, {connection.vendor}): {len(lines):,} lines, "
              f"{len(model.product_ids_):,} products, fit {fit_s:.1f} s\n")
        print(f"load average before: {tuple(round(x, 2) for x in os.getloadavg())} (2 cores shared with other "
              "sessions)\n")
        print("| request | p50 ms | p95 ms | p99 ms | n |")
        print("|---|---|---|---|---|")
        cases = {
            "GET product-recommendations (hybrid, top_n=10)": [f"/api/ml/product-recommendations/{p}/" for p in pids],
            "GET product-recommendations (bought_together, top_n=50)": [
                f"/api/ml/product-recommendations/{p}/?method=bought_together&top_n=50" for p in pids[:1000]],
            "GET customer-recommendations (top_n=10)": [f"/api/ml/customer-recommendations/{c}/" for c in cids],
            "GET customer-recommendations (buy again: include_purchased=true)": [
                f"/api/ml/customer-recommendations/{c}/?include_purchased=true" for c in cids],
        }
        for label, urls in cases.items():
            times = []
            for url in urls:
                s = time.perf_counter()
                res = client.get(url)
                times.append(time.perf_counter() - s)
                assert res.status_code == 200, res.content[:300]
            t = np.array(times) * 1e3
            print(f"| {label} | {np.percentile(t, 50):.2f} | {np.percentile(t, 95):.2f} | "
                  f"{np.percentile(t, 99):.2f} | {len(t)} |")
        print(f"\nload average after: {tuple(round(x, 2) for x in os.getloadavg())}")
        print(f"\nPrediction rows written: {Prediction.objects.count()} for "
              f"{sum(len(u) for u in cases.values()) + 1} calls (RECOMMENDATION_LOG_EVERY = 20)")
        if os.environ.get("END_TO_END"):
            end_to_end(n_products, orders)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def end_to_end(n_products: int, orders: int) -> None:
    """Write the shop to the database, then run the real training (ORM read included) once."""
    from datetime import date

    from backend_django.shop.generator import GeneratorConfig, synthesize, write_shop
    from ml_predictions.data import get_data_source
    from ml_predictions.training.runner import train_now

    shop = synthesize(GeneratorConfig(customers=max(orders // 4, 100), products=n_products, orders=orders, years=2,
                                      seed=3, end_date=date(2026, 6, 30)))
    t0 = time.perf_counter()
    write_shop(shop)
    write_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    n_lines = len(get_data_source().order_lines())
    read_s = time.perf_counter() - t0
    for evaluate in (False, True):
        t0 = time.perf_counter()
        log = train_now("product_recommendation", {"evaluate": evaluate})
        total = time.perf_counter() - t0
        assert log.status == "succeeded", log.error[:500]
        m = log.metrics
        print(f"\nEnd to end (`train_now`, evaluate={evaluate}): {total:.1f} s in all, of which reading "
              f"{m['read_seconds']:.1f} s (ORM, {m['order_lines']:,} lines), final fit {m['fit_seconds']:.1f} s; "
              f"registering/saving the rest")
    print(f"(writing the shop took {write_s:.0f} s; a separate read of {n_lines:,} order lines {read_s:.1f} s)")


if __name__ == "__main__":
    main()
