"""API throughput under gunicorn: our read endpoints beside a bare authenticated DRF view, same server, same run.

    python manage.py train all                       # on the database you point DATABASE_URL at
    pip install --target /tmp/gpkg -r requirements-deploy.txt   # or gunicorn in the venv
    GUNICORN_PATH=/tmp/gpkg DATABASE_URL=... python benchmarks/api_throughput_bench.py --port 8350

Starts gunicorn (4 workers x 2 threads, gthread) on loopback with `benchmarks.api_bench_settings`
(benchmarks/api_bench_settings.py: the host's settings plus one bare view at /bench/bare/ behind the same JWT authentication and
IsAdminUser permission), then for each endpoint runs N client threads with keep-alive connections for
a bounded time and prints req/s, p50/p95/p99 and errors next to the bare view's. Throttling is off
(DISABLE_THROTTLING=1): the per-user API rate would otherwise answer 429 to a load test. Targets
(issue 15): every cached read within 2x the bare view's throughput, p95 <= 150 ms at 20 clients on
PostgreSQL, inventory-analysis (warm) >= 100 req/s, no errors, no multi-second tails on SQLite.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _token_and_ids(env: dict[str, str]) -> dict[str, str]:
    """A staff user's access token and one known product / customer id, from a Django shell."""
    code = (
        "import json\n"
        "from django.contrib.auth import get_user_model\n"
        "from rest_framework_simplejwt.tokens import RefreshToken\n"
        "from ml_predictions.data import get_data_source\n"
        "User = get_user_model()\n"
        "u, _ = User.objects.get_or_create(username='api-bench', defaults={'is_staff': True})\n"
        "u.is_staff = True; u.save()\n"
        "src = get_data_source(); lines = src.order_lines()\n"
        "print('JSON' + json.dumps({'token': str(RefreshToken.for_user(u).access_token),"
        " 'product': str(lines['product_id'].iloc[-1]), 'customer': str(lines['customer_id'].iloc[-1])}))\n"
    )
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(next(line for line in out.splitlines() if line.startswith("JSON"))[4:])


def _load(port: int, method: str, path: str, body: dict | None, token: str, clients: int,
          seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = [0]
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    stop = time.perf_counter() + seconds
    payload = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine: list[float] = []
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            try:
                conn.request(method, path, body=payload, headers=headers)
                res = conn.getresponse()
                res.read()
                status = res.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                status = 599
            mine.append(time.perf_counter() - t0)
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if status >= 400:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e3 if latencies else float("nan")

    return {"requests": len(latencies), "rps": len(latencies) / elapsed, "p50": pct(0.50), "p95": pct(0.95),
            "p99": pct(0.99), "max": latencies[-1] * 1e3 if latencies else float("nan"), "errors": errors[0],
            "statuses": statuses}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8350)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    env = {**os.environ, "DISABLE_THROTTLING": "1", "DJANGO_SETTINGS_MODULE": "api_bench_settings",
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), str(ROOT / "benchmarks"), os.environ.get("GUNICORN_PATH", ""),
                                                      os.environ.get("PYTHONPATH", "")) if p)}
    info = _token_and_ids(env)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "backend_django.wsgi:application", "--bind", f"127.0.0.1:{args.port}",
         "--workers", str(args.workers), "--threads", str(args.threads), "--worker-class", "gthread",
         "--log-level", "warning", "--timeout", "120"],
        cwd=ROOT, env=env)
    try:
        for _ in range(120):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=2)
                conn.request("GET", "/bench/bare/", headers={"Authorization": f"Bearer {info['token']}"})
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.5)
        endpoints = [
            ("bare authenticated DRF view", "GET", "/bench/bare/", None),
            ("models", "GET", "/api/ml/models/", None),
            ("product recommendations", "GET", f"/api/ml/product-recommendations/{info['product']}/?top_n=10", None),
            ("customer recommendations", "GET", f"/api/ml/customer-recommendations/{info['customer']}/?top_n=10",
             None),
            ("customer segment", "GET", f"/api/ml/customer-segment/{info['customer']}/", None),
            ("predict-sales (30 days, total)", "POST", "/api/ml/predict-sales/", {"days_ahead": 30}),
            ("inventory-analysis (warm)", "GET", "/api/ml/inventory-analysis/", None),
            ("dashboard-summary", "GET", "/api/ml/dashboard-summary/", None),
        ]
        db = os.environ.get("DATABASE_URL", "sqlite (default)").split(":", 1)[0]
        print(f"\n### API throughput, {db}: gunicorn {args.workers} workers x {args.threads} threads, "
              f"{args.clients} clients x {args.seconds:g} s per endpoint\n")
        print(f"load before: {tuple(round(x, 2) for x in os.getloadavg())} (2 shared cores; the clients run on them too)\n")
        print("| endpoint | req/s | vs bare | p50 ms | p95 ms | p99 ms | max ms | errors |")
        print("|---|---|---|---|---|---|---|---|")
        bare = None
        for label, method, path, body in endpoints:
            _load(args.port, method, path, body, info["token"], 2, 1.0)  # warm: caches, artifact loads
            r = _load(args.port, method, path, body, info["token"], args.clients, args.seconds)
            bare = bare or r["rps"]
            errs = "" if not r["errors"] else f" {r['statuses']}"
            print(f"| {label} | {r['rps']:.1f} | {r['rps'] / bare:.2f} | {r['p50']:.0f} | {r['p95']:.0f} | "
                  f"{r['p99']:.0f} | {r['max']:.0f} | {r['errors']}{errs} |", flush=True)
        print(f"\nload after: {tuple(round(x, 2) for x in os.getloadavg())}")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
