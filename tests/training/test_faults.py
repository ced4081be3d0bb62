"""Fault injection on real processes: a worker killed mid-training, two trainings at once.

Each test drives separate Python processes (tests/training/fault_worker.py) on their own database
(a file SQLite database, or a scratch PostgreSQL database when the suite runs on PostgreSQL), because
a kill -9 must be seen by a process other than the one that died.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ml_predictions.training.logs import STALE_ERROR

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.fault


def _scratch_pg(suffix: str) -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return None
    import psycopg

    server, _sep, name = url.rpartition("/")
    scratch = f"{(name.split('?')[0] or 'ml')}_{suffix}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{scratch}"')
    return f"{server}/{scratch}"


@pytest.fixture
def worker_env(tmp_path, request):
    url = _scratch_pg(request.node.name[:20].lower().replace("[", "_").replace("]", "")) or \
        f"sqlite:///{tmp_path / 'faults.sqlite3'}"
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "1", "TASKS_BACKEND": "immediate", "PYTHONPATH": str(ROOT),
           "ML_MODEL_DIR": str(tmp_path / "models"), "CONN_MAX_AGE": "0", "DJANGO_SETTINGS_MODULE": "backend_django.settings"}
    env.pop("REDIS_URL", None)
    _run(env, "setup")
    return env


def _popen(env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.training.fault_worker", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def _started_together(env: dict, go_file: Path, mode: str) -> list[subprocess.Popen]:
    """Two workers in `mode`, released at once: each says READY when Django is up, then the go file is
    created and both start within milliseconds."""
    procs = [_popen(env, mode, str(go_file)) for _ in range(2)]
    for proc in procs:
        line = proc.stdout.readline().strip()
        assert line == "READY", (line, proc.stderr.read()[-3000:] if proc.poll() is not None else "")
    go_file.touch()
    return procs


def _run(env: dict, *args: str) -> list[dict]:
    proc = _popen(env, *args)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err[-3000:]
    return _lines(out)


def test_kill_9_mid_training_keeps_the_previous_version_and_frees_the_slot(worker_env):
    proc = _popen(worker_env, "slow")
    deadline = time.monotonic() + 120
    while proc.stdout.readline().strip() != "FITTING":
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()[-3000:]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)

    # Straight after the kill the log still says running, so a new training is refused, not run twice.
    refused, state = _run(worker_env, "fast")
    assert refused["status"] == "refused"
    assert state["state"]["active"] == [1] and state["state"]["logs"][-1]["status"] == "running"

    # Once the stale timeout has passed, the dead training ends failed and v1 is still the active one.
    state = _run(worker_env, "age")[-1]["state"]
    assert state["logs"][-1] == {"status": "failed", "error": STALE_ERROR[:200]}
    assert state["active"] == [1] and state["versions"] == [1]

    result, state = _run(worker_env, "fast")
    assert result["status"] == "succeeded", result
    assert state["state"]["active"] == [2] and state["state"]["versions"] == [1, 2]


def test_two_trainings_at_once_leave_one_active_version(worker_env, tmp_path):
    procs = _started_together(worker_env, tmp_path / "go-train", "fast")
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-3000:]
        results.append(_lines(out)[0]["status"])
    assert sorted(results) in (["refused", "succeeded"], ["succeeded", "succeeded"]), results
    state = _run(worker_env, "state")[-1]["state"]
    assert len(state["active"]) == 1 and state["active"][0] == max(state["versions"])

    # The registry alone (no runner slot) under two simultaneous writers: both register, one is active.
    procs = _started_together(worker_env, tmp_path / "go-register", "register")
    versions = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-3000:]
        versions.append(_lines(out)[0]["version"])
    assert len(set(versions)) == 2, versions  # distinct version numbers, neither lost
    state = _run(worker_env, "state")[-1]["state"]
    assert len(state["active"]) == 1, state  # the partial unique index: never two active versions
