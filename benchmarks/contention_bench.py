"""Does a training survive web load on the same database? 20 API clients + a training worker.

    python benchmarks/contention_bench.py --db sqlite --seconds 90     # the documented SQLite demo
    python benchmarks/contention_bench.py --db postgres --seconds 90   # DATABASE_URL below, or --pg-url

A fresh database (a *file* SQLite database under /tmp, or the PostgreSQL database named by --pg-url)
is migrated and filled with a small generated shop; the demo server (`manage.py runserver`, threaded,
on --port) serves the API while `--clients` threads hit reads and writes (token obtains write
outstanding tokens, predict-sales records predictions) and one worker process trains every model type
in turn for `--seconds`. The figure that matters is trainings lost: every training the worker started
must end succeeded (a domain refusal such as "not enough data" would be reported, not hidden).
Prints one summary line and exits non-zero when a training was lost or the server answered a 5xx.
tests/training/test_contention.py runs it for a short window in the suite.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
MODEL_TYPES = ["inventory", "customer_segmentation", "product_recommendation", "sales_forecast"]
PASSWORD = "contention-pw-123"


def _env(database_url: str, workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    # CONN_MAX_AGE=0: runserver starts a thread per connection, and kept connections would pile up on PostgreSQL.
    env.update(DATABASE_URL=database_url, DEBUG="1", TASKS_BACKEND="immediate", PYTHONPATH=str(ROOT), CONN_MAX_AGE="0",
               DJANGO_SETTINGS_MODULE="backend_django.settings", ML_MODEL_DIR=str(workdir / "models"))
    env.pop("REDIS_URL", None)
    # Lock contention is the subject, not rate limits: with the per-user (600/min) and token (10/min)
    # throttles on, most of the 20 clients' calls are 429s answered from the cache and never reach the database.
    env["DISABLE_THROTTLING"] = "1"
    return env


def _manage(env: dict[str, str], *args: str, timeout: int = 600) -> None:
    subprocess.run([PY, str(ROOT / "manage.py"), *args], env=env, check=True, timeout=timeout,
                   stdout=subprocess.DEVNULL)


def _prepare(db: str, pg_url: str, workdir: Path) -> tuple[str, dict[str, str]]:
    if db == "sqlite":
        url = f"sqlite:///{workdir / 'contention.sqlite3'}"
    else:
        import psycopg

        server, _sep, name = pg_url.rpartition("/")
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        url = pg_url
    env = _env(url, workdir)
    _manage(env, "migrate", "--skip-checks")
    _manage(env, "generate_ml_data", "--customers", "300", "--products", "60", "--orders", "4000",
            "--years", "2", "--seed", "7", "--no-progress", "--skip-checks")
    code = ("from django.contrib.auth import get_user_model as g; "
            f"g().objects.create_user('bench', 'b@example.com', '{PASSWORD}', is_staff=True)")
    _manage(env, "shell", "-c", code)
    return url, env


def _worker(seconds: float) -> None:
    """Runs in its own process: train each model type in turn until the time is up."""
    import django

    django.setup()
    from ml_predictions.training.runner import train_now

    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        log = train_now(MODEL_TYPES[i % len(MODEL_TYPES)], {}, trigger="command")
        print(json.dumps({"type": log.model_type, "status": log.status, "error": (log.error or "")[:200]}),
              flush=True)
        i += 1


def _request(base: str, method: str, path: str, token: str | None, body: dict | None = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, TimeoutError, ConnectionError):
        return 0


def _token(base: str) -> str:
    req = urllib.request.Request(base + "/api/auth/token/", method="POST",
                                 data=json.dumps({"username": "bench", "password": PASSWORD}).encode())
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())["access"]


def _clients(base: str, token: str, n: int, stop: threading.Event, statuses: Counter, lock: threading.Lock) -> list:
    calls = [
        ("GET", "/api/ml/models/", None), ("GET", "/api/ml/training-logs/", None),
        ("GET", "/api/ml/dashboard-summary/", None), ("GET", "/api/ml/inventory-analysis/", None),
        ("POST", "/api/ml/predict-sales/", {"days": 7}), ("GET", "/health", None),
    ]

    def run(k: int) -> None:
        i = k
        while not stop.is_set():
            if i % 25 == 0:  # a login now and then: simplejwt writes an outstanding-token row
                code = _request(base, "POST", "/api/auth/token/", None, {"username": "bench", "password": PASSWORD})
            else:
                method, path, body = calls[i % len(calls)]
                code = _request(base, method, path, token, body)
            with lock:
                statuses[code] += 1
            i += 1

    threads = [threading.Thread(target=run, args=(k,), daemon=True) for k in range(n)]
    for t in threads:
        t.start()
    return threads


def _wait_up(base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _request(base, "GET", "/health", None) == 200:
            return
        time.sleep(0.3)
    raise SystemExit("the server did not come up")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--pg-url", default=os.environ.get("CONTENTION_PG_URL", "postgres://postgres@127.0.0.1:5432/h_ops"))
    parser.add_argument("--seconds", type=float, default=90)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--port", type=int, default=int(os.environ.get("CONTENTION_PORT", "8251")))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.seconds)
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="ml-contention-"))
    procs: list[subprocess.Popen] = []
    try:
        _url, env = _prepare(args.db, args.pg_url, workdir)
        base = f"http://127.0.0.1:{args.port}"
        server_log = open(workdir / "server.log", "w")  # noqa: SIM115 — closed with the workdir
        procs.append(subprocess.Popen([PY, str(ROOT / "manage.py"), "runserver", "--noreload", "--skip-checks",
                                       f"127.0.0.1:{args.port}"], env=env, stdout=server_log, stderr=server_log))
        _wait_up(base)
        token = _token(base)
        statuses: Counter = Counter()
        lock, stop = threading.Lock(), threading.Event()
        started = time.monotonic()
        threads = _clients(base, token, args.clients, stop, statuses, lock)
        worker = subprocess.run([PY, __file__, "--worker", "--seconds", str(args.seconds)], env=env,
                                capture_output=True, text=True, timeout=args.seconds + 900)
        stop.set()
        for t in threads:
            t.join(timeout=70)
        elapsed = time.monotonic() - started
        runs = [json.loads(line) for line in worker.stdout.splitlines() if line.startswith("{")]
        lost = [r for r in runs if r["status"] != "succeeded"]
        server_errors = sum(n for code, n in statuses.items() if code >= 500 or code == 0)
        load = os.getloadavg()
        print(f"contention {args.db}: {len(runs)} trainings, {len(lost)} lost (limit 0); "
              f"{sum(statuses.values())} requests in {elapsed:.0f}s by {args.clients} clients, "
              f"{server_errors} 5xx/connection errors (limit 0); statuses {dict(sorted(statuses.items()))}; "
              f"load {load[0]:.2f} {load[1]:.2f}")
        for r in lost:
            print("  lost:", r)
        if worker.returncode != 0:
            print(worker.stderr[-3000:])
        ok = worker.returncode == 0 and runs and not lost and server_errors == 0
        if not ok:
            kept = Path(tempfile.gettempdir()) / f"ml-contention-{args.db}-server.log"
            shutil.copy(workdir / "server.log", kept)
            print(f"server log kept in {kept}; its end:")
            print(kept.read_text()[-3000:])
        return 0 if ok else 1
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
