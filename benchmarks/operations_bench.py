"""Operations figures: what the background machinery costs, apart from the training itself.

1. Queue overhead of one background training on the database backend: from the API's 202 to the log
   saying `succeeded`, with a no-op trainer and one `db_worker --interval 0.1` subprocess (so the figure
   is enqueue + pick-up + log writes + registry write, not model fitting).
2. `GET /api/ml/dashboard-summary/` latency with a large history (predictions, alerts, logs, models).

Run against a database of your own (it is migrated and filled; tables of the plugin are emptied first):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ops_bench python benchmarks/operations_bench.py
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend_django.settings")
os.environ["TASKS_BACKEND"] = "database"

TRAININGS = 10
PREDICTIONS = 200_000
ALERTS = 5_000
LOGS = 2_000
SUMMARY_CALLS = 30


def noop_trainer(params, progress):
    from ml_predictions.training.types import TrainingOutcome

    progress(50, "Nothing to fit")
    return TrainingOutcome(artifact={"noop": True}, algorithm="noop", metrics={})


WORKER = """
import django
django.setup()
from ml_predictions.training import runner as training
from ml_predictions.training import trainers
trainers._REGISTERED["inventory"] = "benchmarks.operations_bench.noop_trainer"
from django.core.management import call_command
call_command("db_worker", "--no-reload", "--no-startup-delay", "--interval", "0.1", "-v", "0")
"""


def main() -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django_tasks_db.models import DBTaskResult
    from rest_framework.test import APIClient

    from ml_predictions.models import InventoryAlert, MLModel, MLTrainingLog, Prediction

    call_command("migrate", verbosity=0)
    for model in (Prediction, InventoryAlert, MLTrainingLog, MLModel, DBTaskResult):
        model.objects.all().delete()
    user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"is_staff": True})
    client = APIClient()
    client.force_authenticate(user)
    from ml_predictions.training import trainers
    trainers._REGISTERED["inventory"] = "benchmarks.operations_bench.noop_trainer"

    print(f"database: {connection.vendor}, python {sys.version.split()[0]}, {os.cpu_count()} cores")
    worker = subprocess.Popen([sys.executable, "-c", WORKER], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        time.sleep(3)  # let the worker start (Django import) before timing
        latencies = []
        for _ in range(TRAININGS):
            start = time.perf_counter()
            res = client.post("/api/ml/retrain/", {"model_type": "inventory"}, format="json")
            assert res.status_code == 202, res.content
            log_id = res.json()["training_log_id"]
            while MLTrainingLog.objects.filter(pk=log_id).values_list("status", flat=True)[0] not in ("succeeded", "failed"):
                time.sleep(0.01)
            latencies.append(time.perf_counter() - start)
        assert MLTrainingLog.objects.filter(status="succeeded").count() == TRAININGS
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    print(f"background training (no-op trainer), 202 -> succeeded, {TRAININGS} runs, db_worker --interval 0.1: "
          f"median {statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")

    Prediction.objects.bulk_create(
        [Prediction(kind="sales_forecast", target="total") for _ in range(PREDICTIONS)], batch_size=5000
    )
    InventoryAlert.objects.bulk_create(
        [InventoryAlert(product_id=str(i), product_name=f"P{i}", alert_type="low_stock", current_stock=1,
                        urgency_level=1 + i % 5) for i in range(ALERTS)], batch_size=5000
    )
    MLTrainingLog.objects.bulk_create(
        [MLTrainingLog(model_type="inventory", status="succeeded", progress=100) for _ in range(LOGS)], batch_size=5000
    )
    client.get("/api/ml/dashboard-summary/")  # warm up
    times = []
    for _ in range(SUMMARY_CALLS):
        start = time.perf_counter()
        res = client.get("/api/ml/dashboard-summary/")
        times.append(time.perf_counter() - start)
        assert res.status_code == 200
    summary = res.json()["summary"]
    print(f"dashboard-summary with {summary['total_predictions']:,} predictions, {summary['active_inventory_alerts']:,} "
          f"open alerts, {LOGS + TRAININGS:,} logs: median {statistics.median(times) * 1000:.1f} ms "
          f"over {SUMMARY_CALLS} calls (in-process test client)")


if __name__ == "__main__":
    main()
