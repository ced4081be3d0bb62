"""Recommendations benchmark: offline quality vs popularity and `implicit`, training cost, request latency.

Run from the repository root in the benchmark venv (implicit must never touch the product venv):

    python3.11 -m venv benchmarks/.venv
    benchmarks/.venv/bin/pip install -r benchmarks/requirements.txt
    PYTHONPATH=. benchmarks/.venv/bin/python benchmarks/recommendations_bench.py all

Sub-commands: `customer` (per-customer recall for each neighbour list x popularity weight, on the
validation window and on the holdout), `quality` (generator + Bread Basket, every method, popularity, implicit ItemItem cosine /
BM25 and ALS on the same time split and the same queries), `perf` (1M order lines over 10k products:
fit time and peak memory in a fresh child process, request latency, and implicit's CosineRecommender
fitted on the same orders x products matrix in the same run, in the benchmark venv), `all`.
Figures are printed as Markdown; benchmarks/results/recommendations.md records one run.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _paths import SHARED_DATA  # noqa: E402

sys.path.insert(0, str(ROOT))

from ml_predictions.estimators.recommendation import (  # noqa: E402
    ProductRecommender,
    basket_queries,
    customer_targets,
    encode_lines,
    ranking_metrics,
    time_split,
    tune_and_evaluate,
)

BREAD = Path(os.environ.get("BREAD_BASKET_CSV", SHARED_DATA / "bread_basket" / "BreadBasket_DMS.csv"))
K = 10
SEED = 42
TEST_FRACTION = 0.1
# The peer comparisons ask implicit and ours the same 20,000 queries (the training's own default is
# smaller, RECOMMENDATION_EVALUATION_QUERIES): the quality tables stay comparable with earlier rounds.
PEER_QUERIES = 20000


# ------------------------------------------------------------------------------------------ data


def generator_data(customers: int, products: int, orders: int, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    from backend_django.shop.generator import GeneratorConfig, synthesize

    shop = synthesize(GeneratorConfig(customers=customers, products=products, orders=orders, years=2, seed=seed,
                                      end_date=date(2026, 6, 30)))
    orders_df = shop.orders[~shop.orders["status"].isin(["cancelled", "refunded"])]
    lines = shop.order_items.merge(
        orders_df.rename(columns={"id": "order_id", "created_at": "ordered_at"})[["order_id", "customer_id", "ordered_at"]],
        on="order_id")
    lines["ordered_at"] = pd.to_datetime(lines["ordered_at"], utc=True)
    cat = shop.categories.set_index("id")["name"]
    prods = shop.products.assign(category=shop.products["category_id"].map(cat), stock=shop.products["stock_quantity"],
                                 active=shop.products["is_active"])
    return lines[["order_id", "customer_id", "product_id", "ordered_at", "quantity"]], prods


def superstore() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The BI tool's demo shop (fictional: a schema check, never evidence): the only set here with both
    customers and products; the product's sub-category is its category."""
    raw = pd.read_csv(SHARED_DATA / "superstore_fictional" / "Sample - Superstore.csv", encoding="latin-1")
    lines = pd.DataFrame({"order_id": raw["Order ID"].astype(str), "customer_id": raw["Customer ID"].astype(str),
                          "product_id": raw["Product ID"].astype(str),
                          "ordered_at": pd.to_datetime(raw["Order Date"], format="%m/%d/%Y", utc=True),
                          "quantity": raw["Quantity"]})
    first = raw.drop_duplicates("Product ID")
    prods = pd.DataFrame({"id": first["Product ID"].astype(str), "name": first["Product Name"].astype(str),
                          "description": "", "category": first["Sub-Category"].astype(str),
                          "price": (first["Sales"] / first["Quantity"]).to_numpy(), "stock": np.nan, "active": True})
    return lines, prods


def bread_basket() -> tuple[pd.DataFrame, pd.DataFrame]:
    raw = pd.read_csv(BREAD)
    raw = raw[raw["Item"].str.upper() != "NONE"]
    lines = pd.DataFrame({
        "order_id": raw["Transaction"].astype(str),
        "customer_id": raw["Transaction"].astype(str),  # anonymous baskets: one "customer" per basket
        "product_id": raw["Item"].astype(str),
        "ordered_at": pd.to_datetime(raw["Date"] + " " + raw["Time"], utc=True),
        "quantity": 1,
    })
    items = np.sort(lines["product_id"].unique())
    prods = pd.DataFrame({"id": items, "name": items, "description": "", "category": "", "price": np.nan,
                          "stock": 1, "active": True})
    return lines, prods


# ------------------------------------------------------------------------------------------ implicit


def implicit_figures(train: pd.DataFrame, test: pd.DataFrame, model: ProductRecommender) -> dict[str, dict]:
    """implicit's ItemItem (cosine, BM25) and ALS, fitted on training baskets, asked the same queries."""
    try:
        import implicit  # noqa: F401
        from implicit.als import AlternatingLeastSquares
        from implicit.nearest_neighbours import BM25Recommender, CosineRecommender, ItemItemRecommender
    except Exception as exc:  # noqa: BLE001 — report, do not crash the benchmark
        return {"implicit": {"error": f"{exc.__class__.__name__}: {exc}"}}
    n = len(model.product_ids_)
    q = basket_queries(test, model.product_index_, n, max_basket_size=model.max_basket_size,
                       max_queries=PEER_QUERIES, random_state=SEED)
    p = train["product_id"].astype(str).map(model.product_index_)
    frame = pd.DataFrame({"o": train["order_id"].to_numpy(), "p": p}).dropna().drop_duplicates()
    o_codes, _ = pd.factorize(frame["o"])
    user_items = sp.csr_matrix((np.ones(len(frame), np.float32), (o_codes, frame["p"].astype(int))),
                               shape=(int(o_codes.max()) + 1, n))
    queries = sp.csr_matrix((np.ones(len(q), np.float32), (np.arange(len(q)), q.seeds)), shape=(len(q), n))
    unavailable = np.flatnonzero(~model.available_) if model.exclude_unavailable else None
    out: dict[str, dict] = {}
    configs = {
        "implicit ItemItem raw co-counts (K=100)": lambda: ItemItemRecommender(K=100),
        "implicit ItemItem cosine (K=100)": lambda: CosineRecommender(K=100),
        "implicit ItemItem BM25 (K=100)": lambda: BM25Recommender(K=100, K1=1.2, B=0.75),
        "implicit ALS (64 factors, 20 it)": lambda: AlternatingLeastSquares(factors=64, iterations=20,
                                                                            regularization=0.05, random_state=SEED),
        "implicit ALS (128 factors, 20 it, alpha 10)": lambda: AlternatingLeastSquares(
            factors=128, iterations=20, regularization=0.05, alpha=10.0, random_state=SEED),
    }
    for name, make in configs.items():
        try:
            rec = make()
            t0 = time.perf_counter()
            # the plain ItemItemRecommender's kernel wants float64 data; the others accept float32
            rec.fit(user_items.astype(np.float64) if "raw" in name else user_items, show_progress=False)
            fit_s = time.perf_counter() - t0
            kwargs = {"recalculate_user": True} if "ALS" in name else {}
            ids, _ = rec.recommend(np.arange(len(q)), queries, N=K, filter_already_liked_items=True,
                                   filter_items=unavailable, **kwargs)
            ids = np.where(np.isfinite(_) & (ids < n), ids, -1)
            out[name] = {**ranking_metrics(ids, q.targets, n, K), "fit_seconds": round(fit_s, 2)}
            if "ALS" in name:  # second way to ask ALS: nearest item factors of the shown product
                sim, scores = rec.similar_items(q.seeds, N=K + 1, filter_items=unavailable)
                sim = np.where(np.isfinite(scores) & (sim != q.seeds[:, None]), sim, -1)
                order = np.argsort(sim < 0, axis=1, kind="stable")  # drop the seed itself, keep the order
                sim = np.take_along_axis(sim, order, axis=1)[:, :K]
                out[name + ", similar_items"] = {**ranking_metrics(sim, q.targets, n, K),
                                                 "fit_seconds": round(fit_s, 2)}
        except Exception as exc:  # noqa: BLE001
            out[name] = {"error": f"{exc.__class__.__name__}: {exc}"}
    return out


def buy_again(name: str, lines: pd.DataFrame, products: pd.DataFrame) -> None:
    """Buy again (include_purchased=true) on the holdout: ours vs the customer's own 10 most-bought
    products, popularity, and implicit ALS / ItemItem fitted on the same training customers x products
    counts and asked for the same customers (already bought products allowed), same targets."""
    print(f"\n### Buy again: {name}\n")
    print(f"load average: {tuple(round(x, 2) for x in os.getloadavg())} (2 shared cores)\n")
    lines = encode_lines(lines)
    result = tune_and_evaluate(lines, products, {"random_state": SEED}, test_fraction=TEST_FRACTION,
                               max_queries=PEER_QUERIES)
    ours = result["evaluation"]["buy_again"]
    train, test, _ = time_split(lines, TEST_FRACTION)
    model = ProductRecommender(**result["params"]).fit(train, products, precompute=False)
    targets = customer_targets(model, test, max_queries=PEER_QUERIES, random_state=SEED, new_only=False)
    prm = result["params"]
    rows = [(f"ours (buy again, tuned: {prm['buy_again_neighbours']} neighbours, own weight "
             f"{prm['buy_again_weight']}, half-life {prm['repeat_half_life_days']} d, popularity "
             f"{prm['buy_again_popularity_weight']})", ours["buy_again"]), ("customer's own top-10 most bought", ours["own_top10"]),
            ("popularity", ours["popularity"])]
    try:
        from implicit.als import AlternatingLeastSquares
        from implicit.nearest_neighbours import BM25Recommender, CosineRecommender
    except Exception as exc:  # noqa: BLE001 — report, do not crash the benchmark
        rows.append((f"implicit unavailable: {exc}", {"recall_at_10": None, "ndcg_at_10": None, "queries": 0}))
    else:
        cust, T, _ = targets
        c = pd.Series(train["customer_id"].astype(str).to_numpy()).map(model.customer_index_)
        p = pd.Series(train["product_id"].astype(str).to_numpy()).map(model.product_index_)
        frame = pd.DataFrame({"o": train["order_id"].astype(str).to_numpy(), "c": c, "p": p}).dropna().drop_duplicates()
        counts = sp.csr_matrix((np.ones(len(frame), np.float32), (frame["c"].astype(int), frame["p"].astype(int))),
                               shape=(len(model.customer_ids_), len(model.product_ids_)))
        counts.sum_duplicates()
        n = len(model.product_ids_)
        for label, make in (("implicit ALS (64 factors, 20 it)", lambda: AlternatingLeastSquares(
                factors=64, iterations=20, regularization=0.05, random_state=SEED)),
                ("implicit ItemItem cosine (K=100)", lambda: CosineRecommender(K=100)),
                ("implicit ItemItem BM25 (K=100)", lambda: BM25Recommender(K=100))):
            rec = make()
            rec.fit(counts, show_progress=False)
            # the same availability rule as ours (the unavailable products are never offered)
            unavailable = np.flatnonzero(~model.available_) if model.exclude_unavailable else None
            ids, scores = rec.recommend(cust, counts[cust], N=K, filter_already_liked_items=False,
                                        filter_items=unavailable)
            ids = np.where(np.isfinite(scores) & (ids < n), ids, -1)
            rows.append((label, ranking_metrics(ids, T, n, K)))
    print("| list | recall@10 | NDCG@10 | customers |")
    print("|---|---|---|---|")
    for label, f in rows:
        print(f"| {label} | {f['recall_at_10']} | {f['ndcg_at_10']} | {f['queries']} |")


def fit_vs_implicit() -> None:
    """The final fit beside implicit's CosineRecommender on the same orders x products matrix (1M lines)."""
    import pickle
    import tempfile

    print("\n## Final fit vs implicit on the same matrix (1M lines x 10k products, generator seed 3)\n")
    lines, products = generator_data(customers=100_000, products=10_000, orders=400_000, seed=3)
    with tempfile.NamedTemporaryFile(suffix=".pkl", delete=False) as handle:
        pickle.dump((_plain(lines), _plain(products)), handle)
    for kind in ("fit", "implicit"):
        # implicit lives only in the benchmark venv (BENCH_PYTHON); ours runs in this (the product) venv
        python = os.environ.get("BENCH_PYTHON", sys.executable) if kind == "implicit" else sys.executable
        proc = subprocess.run([python, __file__, "fit-child", kind], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT), "RECO_BENCH_DATA": handle.name})
        print(proc.stdout.strip() or proc.stderr[-2000:])
    os.unlink(handle.name)


def fit_child(kind: str) -> None:
    import pickle

    with open(os.environ["RECO_BENCH_DATA"], "rb") as handle:
        lines, products = (_frame(x) for x in pickle.load(handle))
    load = tuple(round(x, 2) for x in os.getloadavg())
    t0, c0 = time.perf_counter(), time.process_time()
    if kind == "fit":
        ProductRecommender(random_state=SEED).fit(lines, products)
        label = "ours: ProductRecommender.fit (co-occurrence, content, repeat scores, top-50 lists x 3 methods)"
    else:
        from implicit.nearest_neighbours import CosineRecommender

        m = orders_matrix(lines, products)
        rec = CosineRecommender(K=50)
        rec.fit(m, show_progress=False)
        rec.similar_items(np.arange(m.shape[1]), N=50)
        label = "implicit CosineRecommender(K=50): matrix + fit + top-50 similar items of every product"
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss = peak_rss_mb()
    print(f"- {label}: {wall:.2f} s wall, {cpu:.2f} s CPU, peak RSS {rss:.0f} MB (load before {load})")


# ------------------------------------------------------------------------------------------ quality


def quality(name: str, lines: pd.DataFrame, products: pd.DataFrame) -> dict:
    t0 = time.perf_counter()
    result = tune_and_evaluate(lines, products, {"random_state": SEED}, test_fraction=TEST_FRACTION,
                               max_queries=PEER_QUERIES)
    seconds = time.perf_counter() - t0
    train, test, cutoff = time_split(lines, TEST_FRACTION)
    model = ProductRecommender(**result["params"]).fit(train, products)
    peers = implicit_figures(train, test, model)
    ev = result["evaluation"]
    return {"name": name, "lines": len(lines), "orders": int(lines["order_id"].nunique()),
            "products": len(products), "cutoff": str(cutoff), "train_orders": ev["train_orders"],
            "test_orders": ev["test_orders"], "params": {k: result["params"][k] for k in (
                "normalization", "bought_together_weight", "content_weight", "popularity_weight")},
            "tuning": result["tuning"], "item": ev["item"], "customer": ev["customer"], "peers": peers,
            "seconds": round(seconds, 2)}


def print_quality(r: dict) -> None:
    print(f"\n### {r['name']}\n")
    print(f"{r['lines']:,} order lines, {r['orders']:,} orders, {r['products']:,} products; "
          f"time split at {r['cutoff']}: {r['train_orders']:,} training / {r['test_orders']:,} held-out orders. "
          f"Tuned on the last 10% of the training period: {json.dumps(r['params'])}. "
          f"tune + evaluate: {r['seconds']} s.\n")
    print("Basket completion (one product of each held-out basket shown, the rest to find), k = 10:\n")
    print("| method | precision@10 | recall@10 | NDCG@10 | coverage | queries |")
    print("|---|---|---|---|---|---|")
    rows = {f"ours: {m}": v for m, v in r["item"].items() if m != "popularity"}
    rows["popularity baseline"] = r["item"]["popularity"]
    rows.update(r["peers"])
    for m, v in rows.items():
        if "error" in v:
            print(f"| {m} | error: {v['error']} | | | | |")
        else:
            print(f"| {m} | {v['precision_at_10']:.4f} | {v['recall_at_10']:.4f} | {v['ndcg_at_10']:.4f} | "
                  f"{v['coverage']:.4f} | {v['queries']} |")
    hyb, pop = r["item"]["hybrid"]["recall_at_10"], r["item"]["popularity"]["recall_at_10"]
    peer_best = max((v["recall_at_10"] for v in r["peers"].values() if "recall_at_10" in v), default=None)
    print(f"\nhybrid / popularity recall@10 = {hyb / pop if pop else float('nan'):.2f} (target >= 2); "
          f"best implicit recall@10 = {peer_best} (target: hybrid not below it: "
          f"{'met' if peer_best is not None and hyb >= peer_best else 'NOT met' if peer_best is not None else 'n/a'})")
    c = r["customer"]
    print(f"\nPer customer (products new to the customer in the holdout): hybrid recall@10 "
          f"{c['hybrid']['recall_at_10']:.4f} (precision {c['hybrid']['precision_at_10']:.4f}, NDCG "
          f"{c['hybrid']['ndcg_at_10']:.4f}, {c['hybrid']['queries']} customers) vs popularity "
          f"{c['popularity']['recall_at_10']:.4f}.")


# ------------------------------------------------------------------------------------------ per customer


def customer_blend(name: str, lines: pd.DataFrame, products: pd.DataFrame) -> None:
    """Per-customer recall@10 for each neighbour list x popularity weight, on the validation window
    (last 10% of the training period: what the tuning sees) and on the test period (last 10%)."""
    from ml_predictions.estimators.recommendation import (
        CUSTOMER_NEIGHBOURS,
        customer_targets,
        evaluate_customers,
    )

    lines = encode_lines(lines)
    train, test, _ = time_split(lines, TEST_FRACTION)
    fit_part, valid, _ = time_split(train, TEST_FRACTION)
    tuned = tune_and_evaluate(lines, products, {"random_state": SEED}, test_fraction=TEST_FRACTION)["params"]
    weights = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0)
    print(f"\n### {name}\n")
    print(f"item-level parameters as tuned: normalization {tuned['normalization']}, content "
          f"{tuned['content_weight']}, popularity {tuned['popularity_weight']}; the tuning chose customer lists "
          f"`{tuned['customer_neighbours']}` with popularity weight {tuned['customer_popularity_weight']}\n")
    print("| window | neighbour lists | " + " | ".join(f"w={w}" for w in weights) + " | popularity |")
    print("|---|---|" + "---|" * (len(weights) + 1))
    for window, (a, b) in {"validation (pre-holdout)": (fit_part, valid), "test (holdout)": (train, test)}.items():
        model = ProductRecommender(**{**tuned, "random_state": SEED}).fit(a, products, precompute=False)
        targets = customer_targets(model, b, random_state=SEED)
        for nb in CUSTOMER_NEIGHBOURS:
            row = []
            for w in weights:
                model.set_params(customer_neighbours=nb, customer_popularity_weight=w)
                r = evaluate_customers(model, b, targets=targets)
                row.append(r["hybrid"]["recall_at_10"])
            print(f"| {window} | {nb} | " + " | ".join(f"{x:.4f}" for x in row)
                  + f" | {r['popularity']['recall_at_10']:.4f} ({r['hybrid']['queries']} customers) |")


# ------------------------------------------------------------------------------------------ performance


def peak_rss_mb() -> float:
    """This process's peak resident memory since it started its program, in MB.

    VmHWM, not ru_maxrss: a child started by fork + exec inherits the parent's high-water mark in
    ru_maxrss, so a child of the benchmark (which holds the generated shop) would report the parent's.
    """
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def perf_child(kind: str) -> None:
    """Runs in a fresh process so the peak memory is this measurement's, not the parent's."""
    import pickle

    t0 = time.perf_counter()
    with open(os.environ["RECO_BENCH_DATA"], "rb") as handle:  # generated once by the parent
        lines, products = pickle.load(handle)
    gen_s = time.perf_counter() - t0
    base_rss = peak_rss_mb()
    out = {"lines": len(lines), "orders": int(lines["order_id"].nunique()), "products": len(products),
           "customers": int(lines["customer_id"].nunique()), "load_seconds": round(gen_s, 2),
           "rss_after_data_mb": round(base_rss)}
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    if kind == "fit":
        model = ProductRecommender(random_state=SEED).fit(lines, products)
    else:  # what POST /train-product-recommendation/ does after reading: tune + evaluate, then final fit
        lines = encode_lines(lines)
        result = tune_and_evaluate(lines, products, {"random_state": SEED}, test_fraction=TEST_FRACTION)
        out["evaluation_seconds"] = round(time.perf_counter() - t0, 2)
        out["evaluation_cpu_seconds"] = round(time.process_time() - cpu0, 2)
        t1, cpu1 = time.perf_counter(), time.process_time()
        model = ProductRecommender(**result["params"]).fit(lines, products, content_from=result.pop("catalogue"))
        out["final_fit_seconds"] = round(time.perf_counter() - t1, 2)
        out["final_fit_cpu_seconds"] = round(time.process_time() - cpu1, 2)
        out["hybrid_recall"] = result["evaluation"]["item"]["hybrid"]["recall_at_10"]
        out["popularity_recall"] = result["evaluation"]["item"]["popularity"]["recall_at_10"]
        out["customer_recall"] = result["evaluation"]["customer"]["hybrid"]["recall_at_10"]
        out["buy_again_recall"] = result["evaluation"]["buy_again"]["buy_again"]["recall_at_10"]
    out["seconds"] = round(time.perf_counter() - t0, 2)
    out["cpu_seconds"] = round(time.process_time() - cpu0, 2)  # fairer than wall time on a shared machine
    out["peak_rss_mb"] = round(peak_rss_mb())
    out["summary"] = {k: model.summary()[k] for k in ("nnz", "content_nnz", "avg_similarity", "normalization")}
    import joblib, io  # noqa: E401, I001
    buf = io.BytesIO()
    joblib.dump(model, buf, compress=3)
    out["artifact_mb"] = round(len(buf.getvalue()) / 1e6, 1)
    if kind == "fit":
        rng = np.random.default_rng(SEED)
        ids = model.product_ids_[rng.integers(0, len(model.product_ids_), 3000)]
        lat = {}
        for method in ("hybrid", "bought_together", "similar"):
            times = []
            for pid in ids:
                s = time.perf_counter()
                model.recommend_for_product(pid, top_n=10, method=method)
                times.append(time.perf_counter() - s)
            lat[method] = times
        times = []
        for pid in ids[:500]:
            s = time.perf_counter()
            model.recommend_for_product(pid, top_n=10, include_unavailable=True)
            times.append(time.perf_counter() - s)
        lat["hybrid, include_unavailable (computed on the fly)"] = times
        cids = model.customer_ids_[rng.integers(0, len(model.customer_ids_), 1000)]
        times = []
        for cid in cids:
            s = time.perf_counter()
            model.recommend_for_customer(cid, top_n=10)
            times.append(time.perf_counter() - s)
        lat["customer"] = times
        out["latency_ms"] = {k: {"p50": round(float(np.percentile(v, 50)) * 1e3, 3),
                                 "p95": round(float(np.percentile(v, 95)) * 1e3, 3),
                                 "p99": round(float(np.percentile(v, 99)) * 1e3, 3), "n": len(v)}
                             for k, v in lat.items()}
    print("RESULT " + json.dumps(out))


def perf() -> None:
    print("\n## Performance: 1M order lines over 10k products (generator, seed 3)\n")
    print(f"load average before: {os.getloadavg()} (the 2 cores are shared with other sessions)\n")
    import pickle
    import tempfile

    # generate in the parent so a child's peak RSS is the loaded data + the measured work only
    data = generator_data(customers=100_000, products=10_000, orders=400_000, seed=3)
    with tempfile.NamedTemporaryFile(suffix=".pkl", delete=False) as handle:
        pickle.dump(data, handle)
    matrix = tempfile.NamedTemporaryFile(suffix=".npz", delete=False).name
    sp.save_npz(matrix, orders_matrix(*data))  # the orders x products matrix implicit is given
    del data
    cpu: dict[str, float] = {}
    for kind in ("fit", "train"):
        proc = subprocess.run([sys.executable, __file__, "perf-child", kind], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT), "RECO_BENCH_DATA": handle.name})
        line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
        if not line:
            print(f"{kind} failed:\n{proc.stderr[-3000:]}")
            continue
        r = json.loads(line[0][7:])
        cpu[kind] = r["cpu_seconds"]
        if kind == "train":
            cpu["final fit inside the training"] = r["final_fit_cpu_seconds"]
        label = "final fit (co-occurrence, content, top-50 lists for 3 methods)" if kind == "fit" else \
            "whole training as the endpoint runs it (tuning fits + holdout evaluation + final fit)"
        print(f"- {label}: **{r['seconds']} s** wall ({r['cpu_seconds']} s CPU), peak RSS **{r['peak_rss_mb']} MB** (of which "
              f"{r['rss_after_data_mb']} MB after loading the data, before the work); {r['lines']:,} lines, "
              f"{r['orders']:,} orders, {r['customers']:,} customers, {r['products']:,} products; "
              f"artifact {r['artifact_mb']} MB; {json.dumps(r['summary'])}"
              + (f"; tuning + holdout evaluation {r['evaluation_seconds']} s wall ({r['evaluation_cpu_seconds']} s CPU), "
                 f"final fit {r['final_fit_seconds']} s wall ({r['final_fit_cpu_seconds']} s CPU); hybrid recall@10 "
                 f"{r['hybrid_recall']} vs popularity {r['popularity_recall']}, customer {r['customer_recall']}, "
                 f"buy again {r['buy_again_recall']}" if kind == "train" else ""))
        print(f"  (load average after: {tuple(round(x, 2) for x in os.getloadavg())})")
        if "latency_ms" in r:
            print("\nRequest latency of the service call (in-process, artifact loaded):\n")
            print("| request | p50 ms | p95 ms | p99 ms | n |")
            print("|---|---|---|---|---|")
            for k, v in r["latency_ms"].items():
                print(f"| {k} | {v['p50']} | {v['p95']} | {v['p99']} | {v['n']} |")
        print()
    os.unlink(handle.name)
    # implicit lives only in the benchmark venv: the same matrix, saved as .npz, fitted there
    python = os.environ.get("BENCH_PYTHON") or next(
        (p for p in (str(ROOT / "benchmarks" / ".venv" / "bin" / "python"), "/work/bench-venv/bin/python")
         if Path(p).exists()), sys.executable)
    proc = subprocess.run([python, __file__, "implicit-child", matrix], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    os.unlink(matrix)
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if not line:
        print(f"implicit ({python}) failed:\n{proc.stderr[-3000:]}")
        return
    r = json.loads(line[0][7:])
    print(f"- implicit {r['version']} CosineRecommender(K=50) on the same {r['shape'][0]:,} orders x {r['shape'][1]:,} "
          f"products matrix ({r['nnz']:,} entries): fit + top-50 similar items of every product **{r['seconds']} s** "
          f"wall ({r['cpu_seconds']} s CPU), peak RSS {r['peak_rss_mb']} MB")
    print("  ratio of our CPU time to implicit's (target for the final fit: <= 2): "
          + ", ".join(f"{k} {v / r['cpu_seconds']:.1f}x" for k, v in cpu.items() if k != "train"))
    print(f"  (load average after: {tuple(round(x, 2) for x in os.getloadavg())})")


def orders_matrix(lines: pd.DataFrame, products: pd.DataFrame) -> sp.csr_matrix:
    """Binary orders x products matrix of the order lines (what an item-item library is fitted on)."""
    ids = {p: i for i, p in enumerate(products["id"].astype(str))}
    p = lines["product_id"].astype(str).map(ids).to_numpy()
    o, _ = pd.factorize(lines["order_id"])
    m = sp.csr_matrix((np.ones(len(p), np.float32), (o, p)), shape=(int(o.max()) + 1, len(ids)))
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def implicit_child(path: str) -> None:
    """implicit's CosineRecommender on a saved matrix (runs in the benchmark venv; needs scipy + implicit)."""
    import implicit
    from implicit.nearest_neighbours import CosineRecommender

    m = sp.load_npz(path).tocsr()
    t0, c0 = time.perf_counter(), time.process_time()
    rec = CosineRecommender(K=50)
    rec.fit(m, show_progress=False)
    rec.similar_items(np.arange(m.shape[1]), N=50)
    out = {"version": implicit.__version__, "shape": list(m.shape), "nnz": int(m.nnz),
           "seconds": round(time.perf_counter() - t0, 2), "cpu_seconds": round(time.process_time() - c0, 2),
           "peak_rss_mb": round(peak_rss_mb())}
    print("RESULT " + json.dumps(out))


def _plain(frame: pd.DataFrame) -> dict:
    """Columns as plain numpy arrays: pandas pickles do not load across the two venvs' pandas versions."""
    out = {}
    for col in frame.columns:
        series = frame[col]
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            # pandas 3 keeps the parsed resolution (often seconds or microseconds): convert to ns first,
            # or the other venv reads every timestamp as a few seconds after 1970 (all ages ~0)
            out[col] = ("utc_ns", series.dt.tz_convert("UTC").dt.as_unit("ns").astype("int64").to_numpy())
        elif series.dtype.kind in "biuf":
            out[col] = ("num", series.to_numpy())
        else:
            out[col] = ("obj", series.astype(object).to_numpy())
    return out


def _frame(plain: dict) -> pd.DataFrame:
    return pd.DataFrame({col: pd.to_datetime(v, utc=True) if kind == "utc_ns" else v
                         for col, (kind, v) in plain.items()})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["quality", "quality-real", "perf", "customer", "all", "perf-child", "buy-again",
                                         "fit-vs-implicit", "fit-child", "implicit-child"])
    parser.add_argument("kind", nargs="?", default="fit")
    args = parser.parse_args()
    if args.what == "perf-child":
        perf_child(args.kind)
        return
    if args.what == "fit-child":
        fit_child(args.kind)
        return
    if args.what == "implicit-child":
        implicit_child(args.kind)
        return
    if args.what == "fit-vs-implicit":
        fit_vs_implicit()
        return
    if args.what == "buy-again":
        # `buy-again prepare` (product venv, which has the generator's faker) pickles the data sets;
        # `buy-again` (benchmark venv, which has implicit) reads them
        import pickle

        cache = Path(os.environ.get("RECO_BUYAGAIN_DATA", "/tmp/reco_buyagain_data.pkl"))
        if args.kind == "prepare":
            from tests.shapes.retail import retail_shape

            shape_lines, shape_products, _ = retail_shape(products=3600, customers=4100, orders=15700, seed=0)
            sets = [("generator (20,000 customers, 2,000 products, 150,000 orders, seed 1)",
                     *generator_data(customers=20_000, products=2_000, orders=150_000, seed=1)),
                    ("generator (10,000 customers, 1,000 products, 60,000 orders, seed 5)",
                     *generator_data(customers=10_000, products=1_000, orders=60_000, seed=5)),
                    ("Superstore (fictional demo data: 793 customers, 1,862 products, 5,009 orders)", *superstore()),
                    *([("generator, performance set (100,000 customers, 10,000 products, 400,000 orders, seed 3)",
                        *generator_data(customers=100_000, products=10_000, orders=400_000, seed=3))]
                      if os.environ.get("RECO_BUYAGAIN_LARGE") else []),
                    ("synthetic online-retail shape (tests/shapes/retail.py: 3.6k products, 4.1k customers, "
                     "15.7k orders; a shape, not evidence)", shape_lines, shape_products)]
            cache.write_bytes(pickle.dumps([(n, _plain(a), _plain(b)) for n, a, b in sets]))
            return
        for name, lines, products in pickle.loads(cache.read_bytes()):
            buy_again(name, _frame(lines), _frame(products))
        return
    print(f"# recommendations benchmark ({os.cpu_count()} cores, python {sys.version.split()[0]})")
    if args.what == "quality-real":  # the real set alone (runs in the benchmark venv, which lacks faker)
        print(f"load average: {tuple(round(x, 2) for x in os.getloadavg())} (2 shared cores)")
        print_quality(quality("Bread Basket (real, BreadBasket_DMS.csv, Item == NONE dropped)", *bread_basket()))
        return
    if args.what in ("quality", "all"):
        print("\n## Offline quality (time-based holdout: last 10% of orders)")
        print_quality(quality("Generator (5,000 customers, 1,000 products, 60,000 orders, seed 1)",
                              *generator_data(5000, 1000, 60000, seed=1)))
        print_quality(quality("Generator, larger catalogue (20,000 customers, 5,000 products, 150,000 orders, seed 2)",
                              *generator_data(20000, 5000, 150000, seed=2)))
        print_quality(quality("Generator, performance data set (100,000 customers, 10,000 products, 400,000 orders, "
                              "seed 3; ~1M lines)", *generator_data(100_000, 10_000, 400_000, seed=3)))
        print_quality(quality("Bread Basket (real, BreadBasket_DMS.csv, Item == NONE dropped)", *bread_basket()))
    if args.what in ("customer", "all"):
        print("\n## Per customer: neighbour lists x popularity weight (recall@10 of products new to the customer)")
        customer_blend("Generator (20,000 customers, 5,000 products, 150,000 orders, seed 2)",
                       *generator_data(20000, 5000, 150000, seed=2))
        customer_blend("Generator, performance data set (100,000 customers, 10,000 products, 400,000 orders, seed 3)",
                       *generator_data(100_000, 10_000, 400_000, seed=3))
    if args.what in ("perf", "all"):
        perf()


if __name__ == "__main__":
    main()
