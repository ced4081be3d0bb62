"""Fake trainers for the operations tests: importable by a worker subprocess too (not a test module).

They follow the real trainer contract (params, progress) -> TrainingOutcome, so the runner, the tasks
and the workers are exercised exactly as with a capability's trainer, in milliseconds.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from ml_predictions.errors import InsufficientDataError
from ml_predictions.training.types import TrainingOutcome

# Set in a worker subprocess: the trainer reports progress, then waits until the test creates this file
# (so the test can watch a running training, or kill the worker in the middle of one).
RELEASE_ENV = "OPS_TEST_RELEASE_FILE"


def quick_trainer(params, progress):
    progress(20, "Reading data")
    progress(70, "Fitting")
    if params.get("fail"):
        raise InsufficientDataError("need 60 days of history, have 12")
    return TrainingOutcome(artifact={"weights": [1, 2, 3]}, algorithm="fake", metrics={"score": 0.75},
                           n_samples=10, response={"extra_key": "from trainer"})


def failing_trainer(params, progress):
    progress(10, "Reading data")
    raise InsufficientDataError("need 60 days of history, have 12")


def gated_trainer(params, progress):
    progress(30, "Waiting for the test")
    release = Path(os.environ[RELEASE_ENV])
    deadline = time.monotonic() + 120
    while not release.exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the test never released the training")
        time.sleep(0.05)
    progress(80, "Fitting")
    return TrainingOutcome(artifact={"weights": [4, 5, 6]}, algorithm="fake-gated", metrics={"score": 0.8}, n_samples=5)
