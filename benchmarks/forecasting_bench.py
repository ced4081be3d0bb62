"""Sales forecasting benchmark: backtest quality on generated and real daily sales, and speed.

    python benchmarks/forecasting_bench.py [quality] [perf] [--statsforecast PYTHON]

Quality: hold out the last 30 and 90 days of each series; every model (and `auto`) is fitted by the
service exactly as in production (test window = the holdout), and we report MASE (scaled by the
in-sample weekly seasonal-naive MAE), relative MAE (model MAE / seasonal-naive MAE on the same
holdout), sMAPE and 95 % interval coverage. statsforecast's AutoETS and SeasonalNaive run on the same
split in a separate venv (--statsforecast path to its python; default benchmarks/.venv).

Performance: training on two years of daily totals (revenue + units, as the total level does), the
product-level model for 2,000 products, and the predict-sales endpoint's latency from a trained model.
Not part of the test suite. Reads ../shared/data at run time.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
from _paths import BENCH_PYTHON, SHARED_DATA  # noqa: E402  (the script's folder is on sys.path)

sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend_django.settings")

from ml_predictions.services.sales_forecast import (  # noqa: E402
    MODEL_TYPES,
    SalesForecaster,
    SeriesForecaster,
    _insample_naive_mae,
    _metrics,
    daily_series,
)

DATA = SHARED_DATA
SF_PYTHON = str(BENCH_PYTHON)

SF_CHILD = r"""
import json, sys, warnings
warnings.filterwarnings("ignore")
import pandas as pd
from statsforecast import StatsForecast
from statsforecast.models import AutoETS, SeasonalNaive
df = pd.read_csv(sys.argv[1], parse_dates=["ds"])
h = int(sys.argv[2])
sf = StatsForecast(models=[AutoETS(season_length=7), SeasonalNaive(season_length=7)], freq="D", n_jobs=1)
fc = sf.forecast(df=df, h=h, level=[95])
out = {}
for uid, g in fc.groupby("unique_id"):
    out[str(uid)] = {c: g[c].tolist() for c in g.columns if c not in ("unique_id", "ds")}
print(json.dumps(out))
"""


# --- data sets ---------------------------------------------------------------------------------

def generator_lines(years: float = 3.0, orders: int = 40_000, products: int = 200, seed: int = 11):
    from backend_django.shop.generator import GeneratorConfig, synthesize
    from ml_predictions.data import canonical_id

    shop = synthesize(GeneratorConfig(customers=4000, products=products, orders=orders, years=years, seed=seed,
                                      end_date=date(2026, 6, 30)))
    kept = shop.orders[~shop.orders["status"].isin(["cancelled", "refunded"])]
    lines = shop.order_items.merge(
        kept[["id", "customer_id", "created_at"]].rename(columns={"id": "order_id", "created_at": "ordered_at"}),
        on="order_id",
    )
    cats = shop.products.merge(shop.categories.rename(columns={"id": "category_id", "name": "category"}),
                               on="category_id")[["id", "category"]]
    # the plugin spells ids as dashed UUIDs (the data source does it); the generator keeps 32 hex
    lines["product_id"] = lines["product_id"].map(canonical_id)
    cats["id"] = cats["id"].map(canonical_id)
    archetype = shop.truth.set_index("customer_id")["archetype"]
    lines["archetype"] = lines["customer_id"].map(archetype).to_numpy()
    return lines, cats


def datasets() -> dict[str, pd.DataFrame]:
    out: dict[str, pd.DataFrame] = {}
    lines, _ = generator_lines()
    revenue, _units = daily_series(lines, level="total")
    out["generator total revenue (3 y, 40k orders)"] = revenue
    # diagnostic: the same shop without the 'new' archetype, whose customers all start in the last
    # 90 days (a ramp no history before the holdout contains)
    revenue_old, _units = daily_series(lines[lines["archetype"] != "new"], level="total",
                                       end=revenue.index[-1])
    out["diagnostic: generator without 'new' customers"] = revenue_old
    pharma = pd.read_csv(DATA / "pharma_sales" / "salesdaily_clean.csv", parse_dates=["date"]).set_index("date")
    pharma = pharma.asfreq("D", fill_value=0.0)
    out["pharma total units (real)"] = pharma.sum(axis=1).to_frame("total")
    out["pharma N02BE units (real)"] = pharma[["N02BE"]]
    out["pharma 8 categories, one global model (real)"] = pharma
    bread = pd.read_csv(DATA / "bread_basket" / "BreadBasket_DMS.csv")
    bread = bread[bread["Item"] != "NONE"]
    counts = bread.groupby(pd.to_datetime(bread["Date"])).size().asfreq("D", fill_value=0).astype(float)
    out["bread basket daily items (real)"] = counts.to_frame("total")
    return out


def statsforecast_run(train: pd.DataFrame, h: int, python: str) -> dict | str:
    if not Path(python).exists():
        return f"no interpreter at {python}"
    long = train.reset_index().melt(id_vars=train.index.name or "index", var_name="unique_id", value_name="y")
    long = long.rename(columns={train.index.name or "index": "ds"})[["unique_id", "ds", "y"]]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.csv"
        long.to_csv(path, index=False)
        script = Path(tmp) / "child.py"
        script.write_text(SF_CHILD)
        proc = subprocess.run([python, str(script), str(path), str(h)], capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        return proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def quality(sf_python: str) -> list[dict]:
    rows = []
    for name, frame in datasets().items():
        frame.index.name = "date"
        T = len(frame)
        for holdout in (30, 90):
            if T < holdout * 6:  # the service holds out at most a sixth of the history
                print(f"{name}: {T} days, too short for a {holdout}-day holdout", flush=True)
                continue
            for model in (*MODEL_TYPES, "auto"):
                start = time.perf_counter()
                fitted = SeriesForecaster(model, test_days=holdout, max_horizon=max(holdout, 90),
                                          intermittent=frame.shape[1] > 1).fit(frame)
                m = fitted.metrics_
                rows.append({
                    "data": name, "holdout": holdout, "model": model if model != "auto" else f"auto -> {m['model']}",
                    "mase": m["mase"], "relative_mae": m["relative_mae"], "smape": m["smape"],
                    "coverage_95": m["interval_coverage"], "seconds": round(time.perf_counter() - start, 1),
                    "baseline_mase": m["baseline"]["mase"], "baseline_smape": m["baseline"]["smape"],
                })
                print(rows[-1], flush=True)
            values = frame.to_numpy(dtype=float).T
            train, actual = values[:, :-holdout], values[:, -holdout:]
            scale = _insample_naive_mae(train)
            baseline_mae = np.abs(np.tile(train[:, -7:], (1, holdout // 7 + 1))[:, :holdout] - actual).mean()
            start = time.perf_counter()
            sf = statsforecast_run(frame.iloc[:-holdout], holdout, sf_python)
            took = round(time.perf_counter() - start, 1)
            if isinstance(sf, str):
                rows.append({"data": name, "holdout": holdout, "model": "statsforecast", "error": sf})
                print(rows[-1], flush=True)
                continue
            for label, key in (("statsforecast AutoETS", "AutoETS"), ("statsforecast SeasonalNaive", "SeasonalNaive")):
                pred = np.vstack([np.maximum(np.array(sf[c][key]), 0) for c in frame.columns])
                lo = np.vstack([np.array(sf[c][f"{key}-lo-95"]) for c in frame.columns])
                hi = np.vstack([np.array(sf[c][f"{key}-hi-95"]) for c in frame.columns])
                met = _metrics(actual, pred, scale)
                rows.append({
                    "data": name, "holdout": holdout, "model": label, "mase": round(met["mase"], 4),
                    "relative_mae": round(float(met["mae"] / baseline_mae), 4), "smape": round(met["smape"], 4),
                    "coverage_95": round(float(((actual >= lo) & (actual <= hi)).mean()), 4), "seconds": took,
                })
                print(rows[-1], flush=True)
    return rows


# --- performance -------------------------------------------------------------------------------

def product_matrix(n_products: int = 2000, days: int = 730, seed: int = 5) -> pd.DataFrame:
    """Daily units of n products: log-normal popularity (most intermittent), weekly and yearly shape."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(end="2026-06-30", periods=days, freq="D")
    weekly = np.array([0.85, 0.9, 0.95, 1.0, 1.15, 1.35, 1.1])[index.day_of_week]
    yearly = 1 + 0.3 * np.sin(2 * np.pi * index.day_of_year.to_numpy() / 365.25)
    rate = rng.lognormal(-1.0, 1.2, n_products)[:, None] * (weekly * yearly)[None, :]
    return pd.DataFrame(rng.poisson(rate).T.astype(float), index=index,
                        columns=[f"p{i:05d}" for i in range(n_products)])


def perf() -> list[dict]:
    rows = []
    lines, cats = generator_lines(years=2.0, orders=30_000)
    for model in ("random_forest", "gradient_boosting", "linear"):
        start = time.perf_counter()
        SalesForecaster(model, levels=("total",)).fit(lines, cats)
        rows.append({"task": f"train total level (revenue + units), 2 years, {model}",
                     "seconds": round(time.perf_counter() - start, 2)})
        print(rows[-1], flush=True)
    products = product_matrix()
    start = time.perf_counter()
    fitted = SeriesForecaster("random_forest", intermittent=True, max_train_rows=40_000).fit(products)
    rows.append({"task": "product level, 2,000 products x 730 days, random_forest, 365-day forecasts",
                 "seconds": round(time.perf_counter() - start, 2),
                 "mase": fitted.metrics_["mase"], "baseline_mase": fitted.metrics_["baseline"]["mase"],
                 "coverage_95": fitted.metrics_["interval_coverage"],
                 "intermittent": fitted.metrics_["intermittent_series"],
                 "intermittent_method": fitted.metrics_["intermittent_method"]})
    print(rows[-1], flush=True)
    rows.append(predict_latency(lines, cats))
    print(rows[-1], flush=True)
    return rows


def predict_latency(lines: pd.DataFrame, cats: pd.DataFrame) -> dict:
    """POST /api/ml/predict-sales/ through Django's test client, on a throw-away SQLite database."""
    import django

    os.environ["DATABASE_URL"] = "sqlite:///:memory:"
    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import setup_test_environment
    from rest_framework.test import APIClient

    from ml_predictions.registry import register_model

    setup_test_environment()
    connection.creation.create_test_db(verbosity=0)
    tmp = tempfile.mkdtemp()
    from django.conf import settings

    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "MODEL_DIR": tmp}
    start = time.perf_counter()
    forecaster = SalesForecaster("random_forest").fit(lines, cats)
    fit_seconds = round(time.perf_counter() - start, 2)
    register_model(model_type="sales_forecast", artifact=forecaster, algorithm="random_forest",
                   metrics=forecaster.metrics_)
    user = get_user_model().objects.create_user("bench", "b@example.com", "pw", is_staff=True)
    client = APIClient()
    client.force_authenticate(user)
    product = forecaster.ids("product")[0]
    timings = {}
    for label, payload in (("total 30 d", {"days_ahead": 30}), ("total 365 d", {"days_ahead": 365}),
                           ("product 90 d", {"days_ahead": 90, "level": "product", "id": product})):
        client.post("/api/ml/predict-sales/", payload, format="json")  # warm: artifact cache, imports
        samples = []
        for _ in range(30):
            start = time.perf_counter()
            res = client.post("/api/ml/predict-sales/", payload, format="json")
            samples.append(time.perf_counter() - start)
            assert res.status_code == 200, res.content[:200]
        timings[label] = {"median_ms": round(1000 * float(np.median(samples)), 1),
                          "p95_ms": round(1000 * float(np.quantile(samples, 0.95)), 1)}
    return {"task": "predict-sales latency (Django test client, SQLite, Prediction row written)", **timings,
            "full_training_seconds_all_levels": fit_seconds,
            "series": {lvl: len(forecaster.ids(lvl)) for lvl in ("total", "category", "product")}}


def main() -> None:
    args = sys.argv[1:]
    sf_python = SF_PYTHON
    if "--statsforecast" in args:
        sf_python = args[args.index("--statsforecast") + 1]
    what = [a for a in args if a in ("quality", "perf")] or ["quality", "perf"]
    result = {}
    if "quality" in what:
        result["quality"] = quality(sf_python)
    if "perf" in what:
        result["perf"] = perf()
    print(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
