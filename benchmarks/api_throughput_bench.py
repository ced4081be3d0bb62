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
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# wrk's Lua hooks: the request, and one summary line in the units the table prints (ms)
WRK_LUA = """wrk.method = "{method}"
wrk.headers["Authorization"] = "Bearer {token}"
wrk.headers["Content-Type"] = "application/json"
{body}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %d %f %f %f %f %f %d %d\\n", summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1e3, latency:percentile(95) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3,
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


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


def _load_wrk(port: int, method: str, path: str, body: dict | None, token: str, clients: int,
               seconds: float, threads: int) -> dict[str, float]:
    """The same measurement with wrk (a C load generator: the Python clients' own CPU stays off the cores)."""
    lua = WRK_LUA.format(method=method, token=token,
                         body=f"wrk.body = {json.dumps(json.dumps(body))}" if body is not None else "")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(lua)
    try:
        out = subprocess.run(["wrk", "-t", str(min(threads, clients)), "-c", str(clients), "-d", f"{seconds:g}s",
                              "--timeout", "60s", "-s", handle.name, f"http://127.0.0.1:{port}{path}"],
                             capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(handle.name)
    fields = next(line for line in out.splitlines() if line.startswith("WRK ")).split()[1:]
    requests, duration, p50, p95, p99, top = (float(x) for x in fields[:6])
    socket_errors, bad_status = int(fields[6]), int(fields[7])
    return {"requests": requests, "rps": requests / duration, "p50": p50, "p95": p95, "p99": p99, "max": top,
            "errors": socket_errors + bad_status,
            "statuses": {"socket errors": socket_errors, "non-2xx/3xx": bad_status}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8350)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--client", choices=["python", "wrk"], default="python",
                        help="load generator: Python threads in this process (default) or wrk (apt-get install wrk)")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--sqlite", metavar="FILE",
                        help="serve this SQLite file (sets DATABASE_URL for the server; migrate and train it first)")
    parser.add_argument("--only", nargs="*", metavar="LABEL",
                        help="run only the endpoints whose label starts with one of these (the bare view always runs)")
    args = parser.parse_args()
    if args.sqlite:
        os.environ["DATABASE_URL"] = f"sqlite:///{Path(args.sqlite).resolve()}"

    env = {**os.environ, "DISABLE_THROTTLING": "1", "DJANGO_SETTINGS_MODULE": "api_bench_settings",
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), str(ROOT / "benchmarks"), os.environ.get("GUNICORN_PATH", ""),
                                                      os.environ.get("PYTHONPATH", "")) if p)}
    info = _token_and_ids(env)
    started = os.times()
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
        if args.only:
            endpoints = [e for e in endpoints if e[0].startswith("bare") or any(e[0].startswith(o) for o in args.only)]
        db = os.environ.get("DATABASE_URL", "sqlite (default)").split(":", 1)[0]
        print(f"\n### API throughput, {db}: gunicorn {args.workers} workers x {args.threads} threads, "
              f"{args.clients} clients x {args.seconds:g} s per endpoint, {args.client} client\n")
        print(f"load before: {tuple(round(x, 2) for x in os.getloadavg())} (2 shared cores; the clients run on them too)\n")
        print("| endpoint | req/s | vs bare | p50 ms | p95 ms | p99 ms | max ms | errors |")
        print("|---|---|---|---|---|---|---|---|")
        bare = None
        cpu_before = os.times()
        for label, method, path, body in endpoints:
            # warm every worker (each process loads artifacts and fills its own cache), then measure
            _load(args.port, method, path, body, info["token"], args.clients, 2.0)
            if args.client == "wrk":
                r = _load_wrk(args.port, method, path, body, info["token"], args.clients, args.seconds, args.wrk_threads)
            else:
                r = _load(args.port, method, path, body, info["token"], args.clients, args.seconds)
            bare = bare or r["rps"]
            errs = "" if not r["errors"] else f" {r['statuses']}"
            print(f"| {label} | {r['rps']:.1f} | {r['rps'] / bare:.2f} | {r['p50']:.0f} | {r['p95']:.0f} | "
                  f"{r['p99']:.0f} | {r['max']:.0f} | {r['errors']}{errs} |", flush=True)
        cpu = os.times()
        print(f"\nload after: {tuple(round(x, 2) for x in os.getloadavg())}; CPU of the clients (this process, "
              f"{args.client}): {cpu.user - cpu_before.user + cpu.children_user - cpu_before.children_user:.1f} s user")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        done = os.times()
        print(f"CPU of gunicorn and wrk (waited children): {done.children_user - started.children_user:.1f} s user, "
              f"{done.children_system - started.children_system:.1f} s sys; this process "
              f"{done.user - started.user:.1f} s user; wall {done.elapsed - started.elapsed:.1f} s")


if __name__ == "__main__":
    main()
