"""Start-up cost of a management command, next to a bare `django.setup()` measured in the same run.

Every `manage.py` command pays the interpreter, `django.setup()` and its own imports; commands that run
system checks also import the URLconf (so every view module and what it imports). The target: a
`manage.py train --help`-style start within 1 s of a bare `django.setup()`. Each figure is the median of
REPEATS fresh processes, wall and CPU (user + sys of the child: the CPU figure is what the machine's
load does not inflate, since the two cores are shared).

    python benchmarks/startup_bench.py            # REPEATS=7
"""
from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REPEATS = int(os.environ.get("REPEATS", "7"))
LIMIT_OVER_SETUP_S = 1.0

BARE_SETUP = "import django; django.setup()"
HEAVY = ("pandas", "sklearn", "scipy", "matplotlib", "statsmodels")
URLCONF = (
    "import sys, django; django.setup(); from django.urls import get_resolver; get_resolver().url_patterns; "
    f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
)
CASES = [
    ("bare django.setup()", [sys.executable, "-c", BARE_SETUP]),
    ("manage.py train --help", [sys.executable, "manage.py", "train", "--help"]),
    ("manage.py retrain_models --help", [sys.executable, "manage.py", "retrain_models", "--help"]),
    ("manage.py generate_ml_data --help", [sys.executable, "manage.py", "generate_ml_data", "--help"]),
    ("manage.py check (URLconf + checks)", [sys.executable, "manage.py", "check"]),
]
# The commands as they really start: checks, then their own imports, up to the first line of work (a
# refusal raised in handle(), so nothing is trained, generated or imported). Exit code 1 is expected.
TO_FIRST_WORK = [
    ("manage.py train (to handle())", [sys.executable, "manage.py", "train", "inventory", "--params", '{"no_such": 1}']),
    ("manage.py generate_ml_data (to handle())", [sys.executable, "manage.py", "generate_ml_data", "--customers", "0"]),
    ("manage.py import_orders (to handle())", [sys.executable, "manage.py", "import_orders", "/nonexistent.csv"]),
]


def run_once(cmd: list[str]) -> tuple[float, float, str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "backend_django.settings", "PYTHONPATH": str(REPO)}
    env.setdefault("DEBUG", "1")  # no SECRET_KEY needed; start-up is the same
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode not in (0, 1) or (done.returncode == 1 and "CommandError" not in done.stderr
                                         and "Error:" not in done.stderr):
        raise RuntimeError(f"{cmd} failed: {done.stderr[-2000:]}")
    out = done.stdout
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out


def measure(cmd: list[str]) -> tuple[float, float]:
    runs = [run_once(cmd)[:2] for _ in range(REPEATS)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def main() -> None:
    print(f"load before: {os.getloadavg()}  repeats: {REPEATS}")
    base_wall, base_cpu = measure(CASES[0][1])
    print(f"{CASES[0][0]:<40} wall {base_wall:6.2f} s  cpu {base_cpu:6.2f} s")
    for name, cmd in CASES[1:] + TO_FIRST_WORK:
        wall, cpu = measure(cmd)
        verdict = "ok" if cpu - base_cpu <= LIMIT_OVER_SETUP_S else "OVER"
        print(f"{name:<40} wall {wall:6.2f} s  cpu {cpu:6.2f} s  over setup: wall {wall - base_wall:+.2f} s, "
              f"cpu {cpu - base_cpu:+.2f} s (limit +{LIMIT_OVER_SETUP_S:.1f} s: {verdict})")
    heavy = run_once([sys.executable, "-c", URLCONF])[2].strip()
    print(f"heavy libraries imported by the URLconf: {heavy or 'none'}")
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
