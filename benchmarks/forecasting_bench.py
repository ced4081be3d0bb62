"""Sales forecasting benchmark: backtest quality on generated and real daily sales, and speed.

    python benchmarks/forecasting_bench.py [quality] [perf] [rolling] [--statsforecast PYTHON]
        [--models random_forest,auto,...] [--record FILE] [--out FILE]
        [--params name=value,...] [--half earlier|later] [--no-statsforecast]
    python benchmarks/forecasting_bench.py compare BEFORE.json AFTER.json
    python benchmarks/forecasting_bench.py summary ROLLING.json [MORE.json ...]

Quality: hold out the last 30 and 90 days of each series; every model (and `auto`) is fitted by the
service exactly as in production (test window = the holdout), and we report MASE (scaled by the
in-sample weekly seasonal-naive MAE), relative MAE (model MAE / seasonal-naive MAE on the same
holdout), sMAPE and 95 % interval coverage. statsforecast's AutoETS and SeasonalNaive run on the same
split in a separate venv (--statsforecast path to its python; default benchmarks/.venv).

Rolling: the same scoring on several consecutive holdout windows ending at the series end (12
monthly 30-day windows over the last year, 4 quarterly 90-day windows): one window is a noisy
criterion (a perfectly calibrated 95 % band lands in 90-98 % on only 72.5 % of 30-day windows), so
the aggregates over windows say more than any single one. At each window the history is truncated at
the window's end and the service is fitted exactly as in production with test_days = the window.
statsforecast runs every window of every data set in one subprocess. --record FILE keeps the scaled
calibration and test residuals of every fit (for band-rule studies that need no refit); --params
fits the service with a candidate setting and --half earlier|later scores only the older or the
more recent half of the windows (a change is chosen on the earlier half, confirmed on the later).

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

from ml_predictions.estimators.forecasting.forecaster import (  # noqa: E402
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
    return lines, cats


def datasets() -> dict[str, pd.DataFrame]:
    """Every series the benchmark scores; `--data SUBSTRING` (any number of times) keeps only the
    series whose name contains one of them, e.g. `--data generator` after a generator change."""
    out: dict[str, pd.DataFrame] = {}
    lines, _ = generator_lines()
    revenue, _units = daily_series(lines, level="total")
    out["generator total revenue (3 y, 40k orders)"] = revenue
    pharma = pd.read_csv(DATA / "pharma_sales" / "salesdaily_clean.csv", parse_dates=["date"]).set_index("date")
    pharma = pharma.asfreq("D", fill_value=0.0)
    out["pharma total units (real)"] = pharma.sum(axis=1).to_frame("total")
    out["pharma N02BE units (real)"] = pharma[["N02BE"]]
    out["pharma 8 categories, one global model (real)"] = pharma
    bread = pd.read_csv(DATA / "bread_basket" / "BreadBasket_DMS.csv")
    bread = bread[bread["Item"] != "NONE"]
    counts = bread.groupby(pd.to_datetime(bread["Date"])).size().asfreq("D", fill_value=0).astype(float)
    out["bread basket daily items (real)"] = counts.to_frame("total")
    wanted = [sys.argv[i + 1] for i, a in enumerate(sys.argv[:-1]) if a == "--data"]
    return {k: v for k, v in out.items() if not wanted or any(w in k for w in wanted)}


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


# --- rolling-origin evaluation -------------------------------------------------------------------

# holdout length -> number of consecutive windows ending at the series end (a year of each)
ROLLING_WINDOWS: dict[int, int] = {30: 12, 90: 4}
ROLLING_SETS: tuple[str, ...] = (
    "generator total revenue (3 y, 40k orders)", "pharma total units (real)", "pharma N02BE units (real)",
    "pharma 8 categories, one global model (real)",
)
SF_ROLLING_CHILD = r"""
import json, sys, warnings
warnings.filterwarnings("ignore")
import pandas as pd
from statsforecast import StatsForecast
from statsforecast.models import AutoETS, SeasonalNaive
out = {}
for path, h in json.loads(sys.argv[1]):
    df = pd.read_csv(path, parse_dates=["ds"])
    sf = StatsForecast(models=[AutoETS(season_length=7), SeasonalNaive(season_length=7)], freq="D", n_jobs=1)
    fc = sf.forecast(df=df, h=int(h), level=[95])
    for uid, g in fc.groupby("unique_id"):
        out[str(uid)] = {c: g[c].tolist() for c in g.columns if c not in ("unique_id", "ds")}
print(json.dumps(out))
"""


def statsforecast_batch(jobs: list[tuple[str, pd.DataFrame, int]], python: str) -> dict | str:
    """AutoETS + SeasonalNaive for many (job id, training frame, h) at once: one subprocess (numba
    compiles once), one forecast call per horizon length; each series is '<job id>|<column>'."""
    if not Path(python).exists():
        return f"no interpreter at {python}"
    with tempfile.TemporaryDirectory() as tmp:
        spec = []
        for h in sorted({h for _, _, h in jobs}):
            parts = []
            for job, train, hh in jobs:
                if hh != h:
                    continue
                long = train.rename_axis("ds").reset_index().melt(id_vars="ds", var_name="column", value_name="y")
                long["unique_id"] = job + "|" + long["column"].astype(str)
                parts.append(long[["unique_id", "ds", "y"]])
            path = Path(tmp) / f"train_{h}.csv"
            pd.concat(parts).to_csv(path, index=False)
            spec.append((str(path), h))
        script = Path(tmp) / "child.py"
        script.write_text(SF_ROLLING_CHILD)
        proc = subprocess.run([python, str(script), json.dumps(spec)], capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        return proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _binomial_in_range(points: int, level: float = 0.95, lo: float = 0.90, hi: float = 0.98) -> float:
    """P(coverage in [lo, hi]) over `points` independent days for a perfectly calibrated band."""
    from scipy.stats import binom

    k_lo, k_hi = int(np.ceil(lo * points - 1e-9)), int(np.floor(hi * points + 1e-9))
    return float(binom.cdf(k_hi, points, level) - binom.cdf(k_lo - 1, points, level))


def rolling(sf_python: str, models: list[str], record: str | None = None, params: dict | None = None,
            half: str = "all windows", with_statsforecast: bool = True) -> list[dict]:
    """Per-window rows for every data set in ROLLING_SETS, model and window (window 0 = the most
    recent, i.e. the standard last-30 / last-90 holdout). `params` are passed to SeriesForecaster
    (to score a candidate change of a default); `half` = "earlier" / "later" fits only those windows
    (a candidate is chosen on the earlier half and confirmed on the later one)."""
    from ml_predictions.estimators.forecasting import forecaster as service

    recorded: list[np.ndarray] = []
    original = service.SeriesForecaster._quantiles

    def recording(self, resid, alpha):  # the service's own rule, residuals kept for band studies
        recorded.append(np.array(resid, copy=True))
        return original(self, resid, alpha)

    service.SeriesForecaster._quantiles = recording
    rows: list[dict] = []
    kept: list[dict] = []
    jobs: list[tuple[str, pd.DataFrame, int]] = []
    truth: dict[str, tuple[str, int, int, str, np.ndarray, np.ndarray]] = {}
    all_sets = datasets()
    try:
        for name in (n for n in ROLLING_SETS if n in all_sets):
            frame = all_sets[name]
            frame.index.name = "date"
            T = len(frame)
            for length, count in ROLLING_WINDOWS.items():
                for k in range(count):
                    if (half == "earlier" and k < count // 2) or (half == "later" and k >= count // 2):
                        continue
                    end = T - k * length
                    sub = frame.iloc[:end]
                    window = f"{sub.index[-length].date()} .. {sub.index[-1].date()}"
                    for model in models:
                        recorded.clear()
                        start = time.perf_counter()
                        fitted = SeriesForecaster(model, test_days=length, max_horizon=max(length, 90),
                                                  intermittent=frame.shape[1] > 1, **(params or {})).fit(sub)
                        m = fitted.metrics_
                        points = m["n_series"] * m["test_days"]
                        rows.append({
                            "data": name, "holdout": length, "window": k, "dates": window, "model": model,
                            "chosen": m["model"], "mase": m["mase"], "relative_mae": m["relative_mae"],
                            "smape": m["smape"], "coverage_95": m["interval_coverage"], "points": points,
                            "inside": int(round(m["interval_coverage"] * points)),
                            "baseline_mase": m["baseline"]["mase"],
                            "seconds": round(time.perf_counter() - start, 1),
                        })
                        print(rows[-1], flush=True)
                        if record and len(recorded) == 2:
                            cal, both = recorded
                            kept.append({**{key: rows[-1][key] for key in ("data", "holdout", "window", "model",
                                                                             "chosen", "coverage_95")},
                                         "cal": cal, "test": both[len(cal):],
                                         "refits": m["calibration_refits"]})
                    job = f"{len(jobs)}"
                    jobs.append((job, sub.iloc[:-length], length))
                    values = sub.to_numpy(dtype=float).T
                    truth[job] = (name, length, k, window, values[:, :-length], values[:, -length:])
    finally:
        service.SeriesForecaster._quantiles = original
    if record:
        import pickle

        with open(record, "wb") as fh:
            pickle.dump(kept, fh)
    if not with_statsforecast:
        return rows
    start = time.perf_counter()
    sf = statsforecast_batch(jobs, sf_python)
    took = round(time.perf_counter() - start, 1)
    print(f"statsforecast: {len(jobs)} windows in one subprocess, {took} s", flush=True)
    if isinstance(sf, str):
        rows.append({"model": "statsforecast", "error": sf})
        return rows
    for job, (name, length, k, window, train, actual) in truth.items():
        columns = list(all_sets[name].columns)
        scale = _insample_naive_mae(train)
        baseline_mae = np.abs(_seasonal_naive(train, length) - actual).mean()
        for label, key in (("statsforecast AutoETS", "AutoETS"), ("statsforecast SeasonalNaive", "SeasonalNaive")):
            pred = np.vstack([np.maximum(np.array(sf[f"{job}|{c}"][key]), 0) for c in columns])
            lo = np.vstack([np.array(sf[f"{job}|{c}"][f"{key}-lo-95"]) for c in columns])
            hi = np.vstack([np.array(sf[f"{job}|{c}"][f"{key}-hi-95"]) for c in columns])
            met = _metrics(actual, pred, scale)
            inside = int(((actual >= lo) & (actual <= hi)).sum())
            rows.append({
                "data": name, "holdout": length, "window": k, "dates": window, "model": label, "chosen": key,
                "mase": round(met["mase"], 4), "relative_mae": round(float(met["mae"] / baseline_mae), 4),
                "smape": round(met["smape"], 4), "coverage_95": round(inside / actual.size, 4),
                "points": int(actual.size), "inside": inside, "seconds": None,
            })
    return rows


def _seasonal_naive(train: np.ndarray, h: int) -> np.ndarray:
    return np.tile(train[:, -7:], (1, h // 7 + 1))[:, :h]


def rolling_summary(rows: list[dict], halves: bool = True) -> str:
    """Markdown: per-window table, then aggregates per data set, holdout length and model (all
    windows; with `halves`, also the earlier and the later half of the windows separately)."""
    frame = pd.DataFrame([r for r in rows if "error" not in r])
    out = ["| data | holdout | window | dates | model | MASE | relative MAE | sMAPE % | 95 % coverage | fit s |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in frame.sort_values(["data", "holdout", "window"], kind="stable").itertuples():
        label = r.model if r.model != "auto" else f"auto -> {r.chosen}"
        fit_s = "" if r.seconds is None or pd.isna(r.seconds) else f"{r.seconds:.1f}"
        out.append(f"| {r.data} | {r.holdout} | {r.window} | {r.dates} | {label} | {r.mase:.3f} | "
                   f"{r.relative_mae:.3f} | {r.smape:.1f} | {r.coverage_95:.2f} | {fit_s} |")
    out += ["", aggregate_table(frame, "all windows")]
    if halves:
        for part in ("earlier", "later"):
            out += ["", aggregate_table(frame, part)]
    return "\n".join(out)


def _half(frame: pd.DataFrame, part: str) -> pd.DataFrame:
    """Earlier half = the older windows (window index >= count / 2), later half = the recent ones."""
    if part == "all windows":
        return frame
    count = frame["holdout"].map(ROLLING_WINDOWS)
    older = frame["window"] >= count // 2
    return frame[older] if part == "earlier" else frame[~older]


def aggregate_table(frame: pd.DataFrame, part: str = "all windows") -> str:
    sub = _half(frame, part)
    out = [f"Aggregates over {part}" if part == "all windows" else f"Aggregates over the {part} half of the windows",
           "",
           "| data | holdout | model | windows | MASE mean / median | relative MAE mean / median | "
           "beats seasonal-naive (rel. MAE < 1) | MASE < 1 | sMAPE % mean | pooled coverage | "
           "windows in 90-98 % (perfect band: expected) |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for (data, holdout, model), g in sub.groupby(["data", "holdout", "model"], sort=True):
        n = len(g)
        per_window = int(g["points"].iloc[0])
        in_range = int(((g["coverage_95"] >= 0.90 - 1e-9) & (g["coverage_95"] <= 0.98 + 1e-9)).sum())
        expected = n * _binomial_in_range(per_window)
        chosen = ""
        if model == "auto":
            counts = g["chosen"].value_counts()
            chosen = " (" + ", ".join(f"{c} {v}" for c, v in counts.items()) + ")"
        out.append(
            f"| {data} | {holdout} | {model}{chosen} | {n} | {g['mase'].mean():.3f} / {g['mase'].median():.3f} | "
            f"{g['relative_mae'].mean():.3f} / {g['relative_mae'].median():.3f} | "
            f"{int((g['relative_mae'] < 1).sum())} of {n} | {int((g['mase'] < 1).sum())} of {n} | "
            f"{g['smape'].mean():.1f} | {g['inside'].sum() / g['points'].sum():.3f} "
            f"({int(g['inside'].sum())} of {int(g['points'].sum())}) | {in_range} of {n} ({expected:.1f}) |")
    return "\n".join(out)


def compare(before_path: str, after_path: str) -> str:
    """Markdown: a candidate's rolling run (--out of `rolling --params ...`) against the product's,
    on exactly the windows both scored, per data set, holdout length and model."""
    def load(path: str) -> pd.DataFrame:
        rows = json.loads(Path(path).read_text())["rolling"]
        return pd.DataFrame([r for r in rows if "error" not in r and not str(r["model"]).startswith("stats")])

    before, after = load(before_path), load(after_path)
    keys = ["data", "holdout", "window", "model"]
    both = before.merge(after, on=keys, suffixes=("_before", "_after"))
    out = ["| data | holdout | model | windows | MASE mean before -> after | MASE median before -> after | "
           "relative MAE mean before -> after | windows better / worse (MASE) | pooled coverage before -> after |",
           "|---|---|---|---|---|---|---|---|---|"]
    for (data, holdout, model), g in both.groupby(["data", "holdout", "model"], sort=True):
        better = int((g["mase_after"] < g["mase_before"] - 1e-9).sum())
        worse = int((g["mase_after"] > g["mase_before"] + 1e-9).sum())
        cov_b = g["inside_before"].sum() / g["points_before"].sum()
        cov_a = g["inside_after"].sum() / g["points_after"].sum()
        out.append(f"| {data} | {holdout} | {model} | {len(g)} | {g['mase_before'].mean():.3f} -> "
                   f"{g['mase_after'].mean():.3f} | {g['mase_before'].median():.3f} -> {g['mase_after'].median():.3f} | "
                   f"{g['relative_mae_before'].mean():.3f} -> {g['relative_mae_after'].mean():.3f} | "
                   f"{better} / {worse} | {cov_b:.3f} -> {cov_a:.3f} |")
    d_mase = both["mase_after"] - both["mase_before"]
    out += ["", f"All {len(both)} windows: mean MASE change {d_mase.mean():+.4f}, better in "
            f"{int((d_mase < -1e-9).sum())}, worse in {int((d_mase > 1e-9).sum())}."]
    return "\n".join(out)


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


def predict_latency(lines: pd.DataFrame, cats: pd.DataFrame, model: str = "random_forest") -> dict:
    """POST /api/ml/predict-sales/ through Django's test client, on a throw-away SQLite database."""
    import django

    os.environ["DATABASE_URL"] = "sqlite:///:memory:"
    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import setup_test_environment
    from rest_framework.test import APIClient

    from ml_predictions.training.registry import register_model

    setup_test_environment()
    connection.creation.create_test_db(verbosity=0)
    tmp = tempfile.mkdtemp()
    from django.conf import settings

    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "MODEL_DIR": tmp}
    start = time.perf_counter()
    forecaster = SalesForecaster(model).fit(lines, cats)
    fit_seconds = round(time.perf_counter() - start, 2)
    register_model(model_type="sales_forecast", artifact=forecaster, algorithm=model,
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
    models = ["random_forest", "auto"]
    if "--models" in args:
        # "--models none": statsforecast alone on the same windows
        models = [m for m in args[args.index("--models") + 1].split(",") if m != "none"]
    record = args[args.index("--record") + 1] if "--record" in args else None
    # --params max_train_rows=10000,stack=False: a candidate default, scored without changing the code
    params = {}
    if "--params" in args:
        for item in args[args.index("--params") + 1].split(","):
            key, value = item.split("=")
            params[key] = json.loads(value.lower() if value.lower() in ("true", "false") else value)
    half = args[args.index("--half") + 1] if "--half" in args else "all windows"
    if args and args[0] == "compare":
        print(compare(args[1], args[2]))
        return
    if args and args[0] == "summary":  # tables of one or more saved rolling runs (--out files)
        rows = [r for path in args[1:] for r in json.loads(Path(path).read_text())["rolling"]]
        print(rolling_summary(rows))
        return
    what = [a for a in args if a in ("quality", "perf", "rolling")] or ["quality", "perf"]
    result = {}
    if "quality" in what:
        result["quality"] = quality(sf_python)
    if "rolling" in what:
        start = time.perf_counter()
        result["rolling"] = rolling(sf_python, models, record, params, half, "--no-statsforecast" not in args)
        print(rolling_summary(result["rolling"], halves=half == "all windows"))
        print(f"rolling: {time.perf_counter() - start:.0f} s in all", flush=True)
    if "perf" in what:
        result["perf"] = perf()
    if "--out" in args:
        Path(args[args.index("--out") + 1]).write_text(json.dumps(result, indent=1, default=str))
    print(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
