"""Realised forecast error: stored forecasts against the sales that followed.

A forecast is only as good as its error on days nobody had seen when it was made. The backtest stored
with a model estimates that error; this module measures the real one, per horizon step, so a drift
between the two (a shop whose behaviour changed) shows up before it runs out of stock.

Scale: MASE divides the mean absolute error by the in-sample MAE of the weekly seasonal-naive forecast
(repeat last week) over the history before the forecast, the same scale the backtests use, so
"MASE 0.8" reads the same in both places: 20 % better than repeating last week.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

SEASON = 7
# Horizon steps (days after the forecast's first day, 1-based) reported together.
HORIZON_BUCKETS: tuple[tuple[int, int], ...] = ((1, 7), (8, 14), (15, 30), (31, 90), (91, 10_000))
POINT_COLUMNS = ["model_id", "model_version", "level", "series_id", "start_date", "date", "predicted", "lower", "upper"]


def daily_actuals(
    order_lines: pd.DataFrame, product_categories: pd.Series, keys: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """Daily revenue for each (level, series_id) key over [start, end] (UTC days), zeros on days without sales.

    `product_categories` maps product id -> category; `keys` has columns level, series_id (None for total).
    """
    days = pd.date_range(start.normalize(), end.normalize(), freq="D")
    if not len(keys) or not len(days):
        return pd.DataFrame({"level": [], "series_id": [], "date": [], "actual": []})
    lines = order_lines[["product_id", "ordered_at", "quantity", "unit_price"]]
    day = lines["ordered_at"].dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()
    revenue = lines["quantity"].to_numpy(dtype=float) * lines["unit_price"].to_numpy(dtype=float)
    frame = pd.DataFrame({"day": day, "revenue": revenue, "product": lines["product_id"].astype(str)})
    frame["category"] = frame["product"].map(product_categories).fillna("").astype(str)
    parts = []
    for level, column in (("total", None), ("category", "category"), ("product", "product")):
        wanted = keys.loc[keys["level"] == level, "series_id"]
        if wanted.empty:
            continue
        if column is None:
            sums = frame.groupby("day")["revenue"].sum().to_frame("total")
        else:
            sub = frame[frame[column].isin(set(wanted.astype(str)))]
            sums = sub.groupby(["day", column])["revenue"].sum().unstack(column)
        names = ["total"] if column is None else list(wanted.astype(str).unique())
        wide = sums.reindex(index=days, columns=names, fill_value=0.0).fillna(0.0)
        long = wide.rename_axis(index="date", columns="series_id").stack().rename("actual").reset_index()
        long["level"] = level
        long["series_id"] = None if column is None else long["series_id"]
        parts.append(long)
    return pd.concat(parts, ignore_index=True)[["level", "series_id", "date", "actual"]]


def naive_scales(history: pd.DataFrame, season: int = SEASON) -> pd.DataFrame:
    """Per key, the mean absolute change against `season` days earlier (the seasonal-naive MAE)."""
    ordered = history.sort_values(["level", "series_id", "date"], na_position="first")
    group = ordered.groupby(["level", ordered["series_id"].fillna("")], sort=False)["actual"]
    ordered = ordered.assign(change=(ordered["actual"] - group.shift(season)).abs())
    scales = ordered.groupby(["level", ordered["series_id"].fillna("")], sort=False)["change"].mean()
    scales = scales.rename("scale").reset_index().rename(columns={"series_id": "series_key"})
    return scales


def realised_errors(points: pd.DataFrame, actuals: pd.DataFrame, scales: pd.DataFrame) -> pd.DataFrame:
    """One row per forecast day that has happened: error, absolute error, scaled error, interval hit, step.

    Repeated identical forecasts (the same model asked for the same series and days several times)
    count once, so an often-refreshed page does not weigh more than a rarely-read one.
    """
    if points.empty:
        return points.assign(actual=[], error=[], abs_error=[], scaled_error=[], covered=[], step=[])
    points = points.drop_duplicates(["model_id", "level", "series_id", "start_date", "date"])
    key = points["series_id"].fillna("")
    merged = points.assign(series_key=key).merge(
        actuals.assign(series_key=actuals["series_id"].fillna("")).drop(columns="series_id"),
        on=["level", "series_key", "date"], how="inner",
    ).merge(scales, on=["level", "series_key"], how="left")
    merged["error"] = merged["predicted"] - merged["actual"]
    merged["abs_error"] = merged["error"].abs()
    scale = merged["scale"].where(merged["scale"] > 0)
    merged["scaled_error"] = merged["abs_error"] / scale
    merged["covered"] = (merged["actual"] >= merged["lower"]) & (merged["actual"] <= merged["upper"])
    merged["step"] = (merged["date"] - merged["start_date"]).dt.days + 1
    return merged.drop(columns="series_key")


def _bucket(step: pd.Series) -> pd.Series:
    labels = [f"{lo}-{hi}" if hi < 10_000 else f"{lo}+" for lo, hi in HORIZON_BUCKETS]
    edges = [HORIZON_BUCKETS[0][0] - 1] + [hi for _lo, hi in HORIZON_BUCKETS]
    return pd.cut(step, bins=edges, labels=labels).astype(str)


def summarise_errors(errors: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """MAE, MASE (mean absolute error over the seasonal-naive scale), bias and coverage per group.

    `by` may include "horizon", the step bucket. MASE is NaN for series whose history never moved.
    """
    if errors.empty:
        return pd.DataFrame(columns=[*by, "n_days", "n_forecasts", "mae", "mase", "bias", "coverage", "mean_actual"])
    frame = errors.assign(horizon=_bucket(errors["step"])) if "horizon" in by else errors
    frame = frame.assign(forecast_key=frame["model_id"].astype(str) + frame["series_id"].fillna("").astype(str)
                         + frame["start_date"].astype(str))
    grouped = frame.groupby(by, sort=True, dropna=False)
    out = grouped.agg(
        n_days=("abs_error", "size"), n_forecasts=("forecast_key", "nunique"), mae=("abs_error", "mean"),
        mase=("scaled_error", "mean"), bias=("error", "mean"), coverage=("covered", "mean"),
        mean_actual=("actual", "mean"),
    ).reset_index()
    return out.replace({np.inf: np.nan})
