"""Buy-again tuning cost: the shared neighbour product (`_tune_buy_again`) vs one full list evaluation
per grid point (the loop it replaced, kept here as the reference), same model, same validation orders.

    PYTHONPATH=. /work/main/.venv/bin/python benchmarks/recommendations_buy_again_tuning_bench.py [orders]

Prints CPU seconds of each (each on its own fresh fit, so neither inherits the other's caches), the
chosen parameters and whether the traces (recall@10 of every grid point) are identical.
"""
from __future__ import annotations

import os
import pickle
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from recommendations_bench import generator_data  # noqa: E402

from ml_predictions.estimators.recommendation import (  # noqa: E402
    ProductRecommender,
    encode_lines,
    time_split,
    tuning,  # noqa: E402
)

# The reference loop lives once, in the test that pins the shared tuning to it.
from tests.estimators.test_recommendation_speedups import _old_tune_buy_again as old_tune_buy_again  # noqa: E402


def main() -> None:
    orders = int(sys.argv[1]) if len(sys.argv) > 1 else 400_000
    cache = Path(f"/tmp/recotune_{orders}.pkl")
    if cache.exists():
        lines, products = pickle.loads(cache.read_bytes())
    else:
        lines, products = generator_data(customers=orders // 4, products=10_000 if orders >= 400_000 else 5_000,
                                         orders=orders, seed=3)
        cache.write_bytes(pickle.dumps((lines, products)))
    print(f"{len(lines)} lines, {len(products)} products, load {os.getloadavg()[0]:.1f}")
    train, _, _ = time_split(encode_lines(lines), 0.1)
    fit_lines, valid_lines, _ = time_split(train, 0.1)
    out = {}
    for name, fn in (("shared", tuning._tune_buy_again), ("reference", old_tune_buy_again)):
        m = ProductRecommender().fit(fit_lines, products, precompute=False)
        t = time.process_time()
        out[name] = fn(m, valid_lines, k=10, max_queries=3000, random_state=42)
        print(f"{name}: {time.process_time() - t:.2f} s CPU, load {os.getloadavg()[0]:.1f}, {out[name][0]}")
    print("identical choices and traces:", out["shared"] == out["reference"])


if __name__ == "__main__":
    main()
