"""A training process the fault tests can kill: run as `python -m tests.training.fault_worker MODE`.

Runs against the database in DATABASE_URL (a file SQLite database or a scratch PostgreSQL database the
test created), never the suite's in-memory one, so that another process can see what it left behind.
Prints one JSON line per result.
"""
from __future__ import annotations

import json
import os
import sys
import time
from datetime import timedelta


def slow_trainer(params, progress):
    from ml_predictions.training.types import TrainingOutcome

    progress(10, "Fitting")
    print("FITTING", flush=True)
    time.sleep(float(params.get("sleep", 120)))
    return TrainingOutcome(artifact={"kind": "slow"}, algorithm="fake", metrics={"score": 1.0})


def fast_trainer(params, progress):
    from ml_predictions.training.types import TrainingOutcome

    progress(50, "Fitting")
    time.sleep(float(params.get("sleep", 0)))
    return TrainingOutcome(artifact={"kind": "fast", "pid": os.getpid()}, algorithm="fake", metrics={"score": 1.0})


def _state() -> dict:
    from ml_predictions.models import MLModel, MLTrainingLog

    return {
        "active": list(MLModel.objects.filter(model_type="inventory", is_active=True).values_list("version", flat=True)),
        "versions": sorted(MLModel.objects.filter(model_type="inventory").values_list("version", flat=True)),
        "logs": [{"status": s, "error": (e or "")[:200]} for s, e in
                 MLTrainingLog.objects.filter(model_type="inventory").order_by("created_at").values_list("status", "error")],
    }


def _wait_for_start(go_file: str) -> None:
    """Say READY once Django is imported, then wait for the test to create `go_file`: a barrier, so two
    processes start their training within a few milliseconds of each other (a fixed start time had to
    allow for the slowest import under load, 6 s of idle waiting per pair)."""
    print("READY", flush=True)
    deadline = time.monotonic() + 120
    while not os.path.exists(go_file):
        if time.monotonic() > deadline:
            raise SystemExit("no start signal within 120 s")
        time.sleep(0.002)


def main(mode: str, *args: str) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from ml_predictions.errors import TrainingInProgressError
    from ml_predictions.models import MLTrainingLog
    from ml_predictions.training import trainers
    from ml_predictions.training.logs import training_in_flight
    from ml_predictions.training.registry import register_model
    from ml_predictions.training.runner import train_now

    trainers._REGISTERED["inventory"] = f"{__name__}.{'slow' if mode == 'slow' else 'fast'}_trainer"
    if mode == "setup":
        call_command("migrate", verbosity=0)
        register_model(model_type="inventory", artifact={"kind": "first"}, algorithm="fake")
    elif mode in ("slow", "fast"):
        if args:  # a start signal shared with a sibling process, so both really run at once
            _wait_for_start(args[0])
        try:
            log = train_now("inventory", {"sleep": 1.0} if args else {})
            print(json.dumps({"status": log.status, "error": log.error[:200]}), flush=True)
        except TrainingInProgressError as exc:
            print(json.dumps({"status": "refused", "error": str(exc)}), flush=True)
    elif mode == "register":
        _wait_for_start(args[0])
        model = register_model(model_type="inventory", artifact={"pid": os.getpid()}, algorithm="fake")
        print(json.dumps({"version": model.version}), flush=True)
    elif mode == "age":  # the stale timeout passes: the dead worker's log has not moved for hours
        MLTrainingLog.objects.filter(status=MLTrainingLog.Status.RUNNING).update(
            updated_at=timezone.now() - timedelta(hours=3))
        training_in_flight("inventory")  # what any caller does before starting or activating
    print(json.dumps({"state": _state()}), flush=True)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend_django.settings")
    main(*sys.argv[1:])
