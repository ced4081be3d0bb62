"""Segmentation benchmark: end to end from the database to stored assignments, plus quality figures.

    python benchmarks/segmentation_bench.py [--customers 100000 --orders 470000] [--db /tmp/seg_bench.sqlite3]

Phases (each printed):
1. generate: synthesize + write_shop into a fresh SQLite file (or the DATABASE_URL database with --use-env-db);
   the planted archetypes go to a side file next to the DB. Not part of the timed path.
2. train (child process, so its peak RSS is its own): `train_now("customer_segmentation")` = DB read ->
   RFM -> K-means (auto k 2..10) -> BG/NBD + Gamma-Gamma -> artifact -> bulk-written assignments.
   Per-stage times come from the trainer's own timings.
3. quality: adjusted Rand index of the stored clusters (and of k=5) against the planted archetypes,
   silhouette per k, stability across 5 random seeds (mean pairwise ARI).
4. lifetimes: exports the transactions to a CSV and, when the bench venv exists, times
   `lifetimes.utils.summary_data_from_transaction_data` there against our purchase history + summary
   and `compute_rfm` on the same frame.
5. CDNOW: real data through RFM + segmentation and BG/NBD calibration (to 1997-09-30) / holdout check.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
from _paths import BENCH_PYTHON, SHARED_DATA  # noqa: E402  (the script's folder is on sys.path)

sys.path.insert(0, str(ROOT))
BENCH_VENV_PY = BENCH_PYTHON
CDNOW = SHARED_DATA / "cdnow" / "CDNOW_master.txt"


def _django(db: str | None) -> None:
    if db:
        os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend_django.settings")
    import django

    django.setup()


def generate(args: argparse.Namespace) -> None:
    _django(None if args.use_env_db else args.db)
    from datetime import date

    from django.core.management import call_command

    from backend_django.shop.generator import GeneratorConfig, synthesize, write_shop

    call_command("migrate", verbosity=0)
    t0 = time.perf_counter()
    shop = synthesize(GeneratorConfig(customers=args.customers, products=args.products, orders=args.orders,
                                      years=2, seed=args.seed, end_date=date(2026, 6, 30)))
    t_syn = time.perf_counter() - t0
    t0 = time.perf_counter()
    write_shop(shop, clear=True)
    t_write = time.perf_counter() - t0
    truth = shop.truth.copy()
    truth["customer_id"] = truth["customer_id"].map(lambda h: f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
                                                    if len(h) == 32 else h)
    truth.to_csv(args.truth, index=False)
    print(json.dumps({"phase": "generate", "customers": len(shop.customers), "orders": len(shop.orders),
                      "order_lines": len(shop.order_items), "synthesize_s": round(t_syn, 2),
                      "write_shop_s": round(t_write, 2)}))


def train_child(args: argparse.Namespace) -> None:
    """Runs in its own process: the timed end-to-end path and its peak memory."""
    _django(None if args.use_env_db else args.db)
    from ml_predictions.models import CustomerSegmentAssignment
    from ml_predictions.training.runner import train_now

    params = {"n_clusters": args.k}
    t0, c0 = time.perf_counter(), time.process_time()
    log = train_now("customer_segmentation", params)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if log.status != "succeeded":
        print(json.dumps({"phase": "train", "error": log.error}))
        sys.exit(1)
    m = log.metrics
    stored = CustomerSegmentAssignment.objects.filter(model=log.ml_model).count()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # CPU seconds beside the wall clock: on a shared machine the wall clock mostly measures the others
    print(json.dumps({"phase": "train", "end_to_end_s": round(wall, 2), "cpu_s": round(cpu, 2),
                      "runner_duration_s": log.duration_seconds,
                      "timings": m["timings"], "n_customers": m["n_customers"], "stored_rows": stored,
                      "n_clusters": m["n_clusters"], "cluster_names": m["cluster_names"],
                      "k_selection": m["k_selection"], "clv_method": m["clv_method"],
                      "bgnbd": m["clv"].get("bgnbd"), "peak_rss_mb": round(peak_mb, 1),
                      "clv_selection": {n: c.get("spearman", c.get("skipped"))
                                        for n, c in m["clv"]["selection"]["candidates"].items()},
                      "seed_stability": m.get("seed_stability"), "k_choice": m.get("k_choice"),
                      "load_after": os.getloadavg(),
                      "model_id": str(log.ml_model_id)}))


def quality(args: argparse.Namespace, model_id: str) -> dict:
    _django(None if args.use_env_db else args.db)
    import numpy as np
    import pandas as pd
    from sklearn.metrics import adjusted_rand_score

    from ml_predictions.data import get_data_source
    from ml_predictions.estimators.segmentation.segmenter import CustomerSegmenter, compute_rfm
    from ml_predictions.models import CustomerSegmentAssignment

    truth = pd.read_csv(args.truth).set_index("customer_id")["archetype"]
    stored = pd.DataFrame(list(CustomerSegmentAssignment.objects.filter(model_id=model_id)
                               .values("customer_id", "cluster", "cluster_name")))
    stored["truth"] = truth.reindex(stored["customer_id"]).to_numpy()
    ari_stored = adjusted_rand_score(stored["truth"], stored["cluster"])
    crosstab = pd.crosstab(stored["truth"], stored["cluster_name"])
    src = get_data_source()
    lines = src.order_lines()
    rfm = compute_rfm(lines, customers=src.customers(), window_days=365)
    t = truth.reindex(rfm.index)
    out: dict = {"ari_stored_run": round(ari_stored, 4), "crosstab_stored": crosstab.to_dict()}
    for k in (5, 6):
        seg = CustomerSegmenter(k).fit(rfm)
        out[f"ari_k{k}"] = round(adjusted_rand_score(t, seg.labels_), 4)
        out[f"crosstab_k{k}"] = pd.crosstab(t, seg.cluster_name(seg.labels_)).to_dict()
    for k in sorted({5, int(stored["cluster"].max()) + 1}):
        runs = [CustomerSegmenter(k, random_state=s, n_init=1).fit(rfm).labels_ for s in range(5)]
        pairs = [adjusted_rand_score(a, b) for a, b in itertools.combinations(runs, 2)]
        out[f"stability_k{k}_mean_pairwise_ari"] = round(float(np.mean(pairs)), 4)
        out[f"stability_k{k}_min_pairwise_ari"] = round(float(np.min(pairs)), 4)
    # transactions for the lifetimes comparison
    tx = pd.DataFrame({"customer_id": lines["customer_id"], "date": lines["ordered_at"].dt.tz_localize(None),
                       "amount": lines["quantity"] * lines["unit_price"]})
    tx.to_csv(args.tx_csv, index=False)
    t0 = time.perf_counter()
    compute_rfm(lines, window_days=365)
    out["our_compute_rfm_s"] = round(time.perf_counter() - t0, 3)
    from ml_predictions.estimators.segmentation.clv_data import purchase_history, summary_at

    t0 = time.perf_counter()
    summary_at(purchase_history(lines.assign(amount=lines["quantity"] * lines["unit_price"]), end="2026-07-01"),
               int(pd.Timestamp("2026-07-01").value // 86_400_000_000_000))
    out["our_summary_from_transactions_s"] = round(time.perf_counter() - t0, 3)
    out["n_transaction_lines"] = len(lines)
    return out


LIFETIMES_SNIPPET = """
import sys, time, pandas as pd
from lifetimes.utils import summary_data_from_transaction_data
tx = pd.read_csv(sys.argv[1], parse_dates=["date"])
t0 = time.perf_counter()
s = summary_data_from_transaction_data(tx, "customer_id", "date", monetary_value_col="amount",
                                       observation_period_end="2026-06-30", freq="D")
print(round(time.perf_counter() - t0, 3), len(s))
"""


LIFETIMES_CROSSCHECK = """
import sys, pandas as pd
from lifetimes import BetaGeoFitter
c = pd.read_csv(sys.argv[1])
m = BetaGeoFitter().fit(c["x"], c["t_x"] / 7, c["T"] / 7)
total = m.conditional_expected_number_of_purchases_up_to_time(float(sys.argv[2]), c["x"], c["t_x"] / 7, c["T"] / 7).sum()
print(" ".join(str(round(v, 4)) for v in [*m.params_[["r", "alpha", "a", "b"]], total]))
"""


def lifetimes_crosscheck(calib_csv: str, horizon_weeks: float) -> dict:
    """The same CDNOW calibration fitted by lifetimes' BetaGeoFitter: parameters and holdout forecast."""
    if not BENCH_VENV_PY.exists():
        return {}
    res = subprocess.run([str(BENCH_VENV_PY), "-c", LIFETIMES_CROSSCHECK, calib_csv, str(horizon_weeks)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        return {"lifetimes_crosscheck_error": res.stderr.strip().splitlines()[-1] if res.stderr else "failed"}
    r, alpha, a, b, total = (float(v) for v in res.stdout.split())
    return {"lifetimes_bgnbd_weeks": {"r": r, "alpha": alpha, "a": a, "b": b}, "lifetimes_predicted": total}


def lifetimes_timing(tx_csv: str) -> dict:
    if not BENCH_VENV_PY.exists():
        return {"lifetimes": f"bench venv {BENCH_VENV_PY} missing"}
    res = subprocess.run([str(BENCH_VENV_PY), "-c", LIFETIMES_SNIPPET, tx_csv], capture_output=True, text=True)
    if res.returncode != 0:
        return {"lifetimes_error": res.stderr.strip().splitlines()[-1] if res.stderr else "failed"}
    seconds, n = res.stdout.split()
    return {"lifetimes_summary_data_from_transaction_data_s": float(seconds), "lifetimes_customers": int(n)}


def cdnow() -> dict:
    import numpy as np
    import pandas as pd

    from ml_predictions.estimators.segmentation.clv_data import purchase_history, summary_at
    from ml_predictions.estimators.segmentation.clv_selection import predict_lifetime_value
    from ml_predictions.estimators.segmentation.lifetime_value import BetaGeoModel
    from ml_predictions.estimators.segmentation.segmenter import CustomerSegmenter, compute_rfm, rfm_scores

    if not CDNOW.exists():
        return {"cdnow": "missing"}
    raw = pd.read_csv(CDNOW, sep=r"\s+", dtype={"customer_id": str, "date": str})
    when = pd.to_datetime(raw["date"], format="%Y%m%d", utc=True)
    lines = pd.DataFrame({"order_id": np.arange(len(raw)).astype(str), "customer_id": raw["customer_id"],
                          "product_id": "cd", "ordered_at": when, "quantity": 1,
                          "unit_price": raw["dollar_value"].astype(float)})
    out: dict = {"rows": len(raw), "customers": int(raw["customer_id"].nunique())}
    t0 = time.perf_counter()
    rfm = compute_rfm(lines, window_days=546)
    out["rfm_s"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    seg = CustomerSegmenter("auto").fit(rfm)
    out["segmentation_s"] = round(time.perf_counter() - t0, 3)
    out["auto_k"] = seg.n_clusters_
    out["k_selection"] = [{k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()} for r in seg.k_table_]
    seg6 = CustomerSegmenter(6).fit(rfm)
    sizes = pd.Series(seg6.cluster_name(seg6.labels_)).value_counts().to_dict()
    out["k6_sizes"] = sizes
    out["k6_centroids"] = seg6.centroids_rfm_.round(2).assign(name=[seg6.cluster_names_[c] for c in range(6)]) \
        .to_dict(orient="records")
    out["rfm_rule_names"] = rfm_scores(rfm)["rfm_name"].value_counts().to_dict()
    # BG/NBD calibration 1997-01-01..1997-09-30 (39 weeks), holdout to 1998-06-30: the literature's split
    calib_end = pd.Timestamp("1997-10-01", tz="UTC")
    tx = lines.assign(amount=lines["unit_price"])
    history = purchase_history(tx, end=calib_end, product_col=None)
    calib = summary_at(history, history.end)
    calib.index = pd.Index(history.ids[calib.index.to_numpy()], name="customer_id")
    t0 = time.perf_counter()
    bg = BetaGeoModel().fit(calib["x"], calib["t_x"] / 7, calib["T"] / 7)
    out["bgnbd_fit_weeks"] = {**{k: round(v, 4) for k, v in bg.params_.items()}, "converged": bg.converged_,
                              "fit_s": round(time.perf_counter() - t0, 3)}
    hold = tx[(tx["ordered_at"] >= calib_end)]
    hold_days = hold.assign(d=hold["ordered_at"].dt.floor("D")).drop_duplicates(["customer_id", "d"])
    actual = hold_days.groupby("customer_id").size().reindex(calib.index, fill_value=0)
    horizon_weeks = (pd.Timestamp("1998-07-01", tz="UTC") - calib_end).days / 7
    pred = bg.expected_purchases(horizon_weeks, calib["x"], calib["t_x"] / 7, calib["T"] / 7)
    out["holdout"] = {"actual_repeat_days": int(actual.sum()), "predicted": round(float(pred.sum()), 1),
                      "customer_correlation": round(float(np.corrcoef(pred, actual)[0, 1]), 4),
                      "mae_per_customer": round(float(np.abs(pred - actual).mean()), 4)}
    calib_csv = "/tmp/seg_bench_cdnow_calib.csv"
    calib.to_csv(calib_csv)
    out["holdout"].update(lifetimes_crosscheck(calib_csv, horizon_weeks))
    clv, details = predict_lifetime_value(history, "bgnbd_gamma_gamma")
    out["clv_method_days"] = details["method"]
    out["clv_mean_12m"] = round(float(clv["clv"].mean()), 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--orders", type=int, default=470_000, help="~2.13 lines per order -> ~1M lines")
    ap.add_argument("--products", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--k", default="auto")
    ap.add_argument("--db", default="/tmp/seg_bench.sqlite3")
    ap.add_argument("--use-env-db", action="store_true", help="use DATABASE_URL instead of a fresh SQLite file")
    ap.add_argument("--skip-generate", action="store_true")
    ap.add_argument("--train-only", action="store_true", help="stop after the timed training")
    ap.add_argument("--phase", default="all", choices=["all", "train-child", "cdnow"])
    args = ap.parse_args()
    args.truth = str(Path(args.db).with_suffix(".truth.csv"))
    args.tx_csv = str(Path(args.db).with_suffix(".tx.csv"))
    if args.phase == "train-child":
        train_child(args)
        return
    if args.phase == "cdnow":
        print(json.dumps({"phase": "cdnow", **cdnow()}, default=str))
        return
    print(json.dumps({"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}))
    if not args.skip_generate:
        if not args.use_env_db and Path(args.db).exists():
            Path(args.db).unlink()
        generate(args)
    print(json.dumps({"load_before_train": os.getloadavg()}))
    cmd = [sys.executable, __file__, "--phase", "train-child", "--db", args.db, "--k", str(args.k)]
    if args.use_env_db:
        cmd.append("--use-env-db")
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        print(res.stdout, res.stderr[-3000:])
        sys.exit(1)
    train = json.loads(res.stdout.strip().splitlines()[-1])
    print(json.dumps(train))
    if args.train_only:
        return
    q = quality(args, train["model_id"])
    print(json.dumps({"phase": "quality", **q}))
    print(json.dumps({"phase": "lifetimes", **lifetimes_timing(args.tx_csv)}))
    print(json.dumps({"phase": "cdnow", **cdnow()}, default=str))


if __name__ == "__main__":
    main()
