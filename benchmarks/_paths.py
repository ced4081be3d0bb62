"""Where the benchmarks find the real data and the peer libraries' virtual environment.

The real data sets live in ../shared/data beside the repository (ML_SHARED_DATA overrides it); the
peer libraries (statsforecast, implicit, lifetimes) live in benchmarks/.venv, made from
benchmarks/requirements.txt (BENCH_PYTHON overrides the interpreter).
"""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ML_SHARED_DATA", ROOT.parent / "shared" / "data"))
BENCH_PYTHON = Path(os.environ.get("BENCH_PYTHON", ROOT / "benchmarks" / ".venv" / "bin" / "python"))
