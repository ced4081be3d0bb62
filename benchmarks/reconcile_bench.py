"""Speed and memory of reconciling 2,000 products (issue target: <= 60 s, <= 2 GB).

Times the reconciliation kernel alone (estimators/forecasting/reconcile.py) on 2,000 products in 20
categories, a 365-day horizon and 90 days of residuals per node: the sizes of the product level.
Synthetic numbers because only the shapes matter for time and memory. Run under load, the figures
are pessimistic: the load average is printed with them.

    python benchmarks/reconcile_bench.py [--products 2000]
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ml_predictions.estimators.forecasting.reconcile import reconcile, summing_matrix  # noqa: E402

LIMIT_S, LIMIT_MB = 60.0, 2048.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--horizon", type=int, default=365)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 20, args.products).astype(str)
    S, names = summing_matrix(groups)
    base = np.asarray(S @ rng.gamma(0.5, 2.0, (args.products, args.horizon))) * rng.normal(1, 0.1, (S.shape[0], 1))
    resid = np.asarray(S @ rng.normal(0, 1, (args.products, 90)))
    for method in ("bottom_up", "mint_shrink"):
        start = time.perf_counter()
        out, report = reconcile(base, S, method=method, residuals=resid)
        took = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        ok = took <= LIMIT_S and peak_mb <= LIMIT_MB
        print(f"{method}: {args.products} products, {len(names)} categories, {args.horizon} days: "
              f"{took:.2f} s (limit {LIMIT_S:.0f}), peak RSS {peak_mb:.0f} MB (limit {LIMIT_MB:.0f}), "
              f"min {out.min():.3g}, {report} -> {'OK' if ok else 'OVER'}; load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
