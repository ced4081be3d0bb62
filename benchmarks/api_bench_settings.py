"""The host's settings plus one bare authenticated view (benchmarks/api_throughput_bench.py only)."""
from backend_django.settings import *  # noqa: F401,F403

ROOT_URLCONF = "api_bench_urls"
