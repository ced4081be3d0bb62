"""Demand per product from order lines: the dense products x days matrix, the robust recent average,
the shop-wide seasonal index and the forecast override (pure numpy/pandas).

Why it is its own module: demand is the one input every other rule (policy, alerts, classes) reads,
and it is the part a planner questions first ("why 3 a day?"), so it is written and tested apart.
See the optimiser's module docstring for the rules.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class DemandEstimate:
    """Per-product arrays (length n) the policy and alert rules read."""

    matrix: np.ndarray          # units per product per day, the last `span` days before as_of
    has_sale: np.ndarray
    first_sale: np.ndarray      # index of the first sale day in the matrix (span when none)
    days_since_last_sale: np.ndarray
    daily: np.ndarray           # expected daily demand d
    sigma: np.ndarray           # daily demand standard deviation
    weekly_cv: np.ndarray       # coefficient of variation of the capped weekly totals (XYZ)
    demand_7: np.ndarray
    demand_30: np.ndarray
    source: np.ndarray          # "history" or "forecast"
    spread_source: np.ndarray   # sigma from "history" or the forecast's "forecast_backtest" error
    forecast_rate: np.ndarray   # the forecast's mean daily rate (NaN without one)
    seasonal_index: float


def sales_matrix(sales: pd.DataFrame, ids: np.ndarray, start: pd.Timestamp, span: int) -> tuple[np.ndarray, float]:
    """(products x days matrix of units, seasonal inputs) in one bincount; rows of unknown products,
    non-positive or non-numeric quantities and days outside the window are ignored."""
    n = len(ids)
    if not len(sales):
        return np.zeros((n, span)), (np.array([]), np.array([]))
    time_col = "ordered_at" if "ordered_at" in sales.columns else "date"
    days_ts = pd.to_datetime(sales[time_col], utc=True)
    day_naive = days_ts.dt.tz_localize(None).dt.normalize()
    day_idx = ((day_naive - start) // pd.Timedelta(days=1)).to_numpy(dtype=float)
    code = pd.Index(ids).get_indexer(sales["product_id"].astype(str))
    qty = pd.to_numeric(sales["quantity"], errors="coerce").fillna(0).to_numpy(float)
    day_ok = np.isfinite(day_idx)
    day_idx = np.where(day_ok, day_idx, -1).astype(np.int64)
    offsets = span - day_idx  # days before as_of (1 = the day before)
    past = day_ok & (offsets >= 1) & (qty > 0)
    keep = day_ok & (code >= 0) & (day_idx >= 0) & (day_idx < span) & (qty > 0)
    flat = code[keep].astype(np.int64) * span + day_idx[keep]
    matrix = np.bincount(flat, weights=qty[keep], minlength=n * span).reshape(n, span)
    return matrix, (offsets[past], qty[past])


def seasonal_index(offsets: np.ndarray, qty: np.ndarray, *, window: int, horizon: int, enabled: bool) -> float:
    """Shop-wide year-over-year index: daily units in the `horizon` days that followed this date a year
    ago over daily units in the `window` days before it; clipped to [0.5, 2.5]; 1.0 without that history.
    Shop-wide because per-product yearly ratios are mostly noise."""
    if not enabled or not len(offsets) or offsets.max() < 365 + window - 7:
        return 1.0
    ahead = qty[(offsets > 365 - horizon) & (offsets <= 365)].sum() / horizon
    before = qty[(offsets > 365) & (offsets <= 365 + window)].sum() / window
    if before <= 0 or ahead <= 0:
        return 1.0
    return float(np.clip(ahead / before, 0.5, 2.5))


def robust_history_demand(matrix: np.ndarray, window: int) -> dict[str, np.ndarray]:
    """Daily demand, its standard deviation and the weekly CV from capped weekly totals.

    Each product's weekly totals of the last `window` days are capped at median + 3 x IQR (one bulk
    order must not set the policy for two months); weeks before its first sale do not count, and a
    product first sold inside the window is averaged over the days since (at least 7).
    """
    n, span = matrix.shape
    sold_any = matrix > 0
    has_sale = sold_any.any(axis=1)
    first_sale = np.where(has_sale, sold_any.argmax(axis=1), span)
    last_sale = np.where(has_sale, span - 1 - sold_any[:, ::-1].argmax(axis=1), -1)
    days_since = np.where(has_sale, span - last_sale, np.nan)

    recent = matrix[:, span - window:]
    n_weeks = window // 7
    weekly = recent[:, window - n_weeks * 7:].reshape(n, n_weeks, 7).sum(axis=2)
    first_in_window = first_sale - (span - window) - (window - n_weeks * 7)
    week_of_first = np.clip(np.floor_divide(first_in_window, 7), 0, n_weeks)
    valid_week = np.arange(n_weeks)[None, :] >= week_of_first[:, None]
    valid_week[~has_sale] = True
    w = np.where(valid_week, weekly, np.nan)
    if n:
        q1, med, q3 = np.nanpercentile(w, [25, 50, 75], axis=1)
        peak = np.nanmax(w, axis=1)
    else:
        q1 = med = q3 = peak = np.array([])
    cap = med + 3.0 * (q3 - q1)
    cap = np.where(cap > 0, cap, peak)  # all-zero IQR: keep the data as is
    capped = np.minimum(w, cap[:, None])
    days_active = np.clip(span - first_sale, 7, None)
    valid_days = np.minimum(valid_week.sum(axis=1) * 7, np.maximum(days_active, 7))
    total = np.nansum(capped, axis=1)
    daily = np.where(has_sale, total / np.maximum(valid_days, 7), 0.0)
    n_valid = valid_week.sum(axis=1)
    mean_w = np.nanmean(capped, axis=1) if n else np.array([])
    var_w = np.nansum((capped - mean_w[:, None]) ** 2, axis=1) / np.maximum(n_valid - 1, 1)
    std_w = np.sqrt(var_w)
    sigma = np.where(has_sale & (n_valid > 1), std_w / np.sqrt(7.0), daily)
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = np.where(has_sale & (mean_w > 0) & (n_valid > 1), std_w / mean_w, np.inf)
    return {"has_sale": has_sale, "first_sale": first_sale, "days_since_last_sale": days_since,
            "daily": daily, "sigma": sigma, "weekly_cv": cv}


def apply_forecast(forecast: pd.DataFrame, ids: np.ndarray, as_of: pd.Timestamp, est: DemandEstimate) -> None:
    """Replace the history estimate by the forecast for the products it covers (in place).

    Demand = mean predicted daily quantity (negatives clipped); 7/30-day totals extend a shorter
    horizon at that rate. An optional `residual_std` column (the forecast's own daily error, e.g. its
    backtest residual scale) replaces the history's demand spread in the safety stock.
    """
    cols = ["product_id", "date", "predicted_quantity"] + (["residual_std"] if "residual_std" in forecast else [])
    f = forecast.loc[:, cols].copy()
    fdates = pd.to_datetime(f["date"], errors="coerce")
    f["date"] = fdates.dt.tz_convert(None) if fdates.dt.tz is not None else fdates
    f = f[f["date"].notna() & (f["date"].dt.normalize() >= as_of)]
    f["code"] = pd.Index(ids).get_indexer(f["product_id"].astype(str))
    f = f[f["code"] >= 0]
    if not len(f):
        return
    f["q"] = pd.to_numeric(f["predicted_quantity"], errors="coerce").fillna(0).clip(lower=0)
    f["h"] = (f["date"].dt.normalize() - as_of) // pd.Timedelta(days=1)
    g = f.groupby("code")
    rate = g["q"].mean()
    codes = rate.index.to_numpy()
    r = rate.to_numpy()
    h = (g["h"].max() + 1).to_numpy()
    s7 = f[f["h"] < 7].groupby("code")["q"].sum().reindex(rate.index, fill_value=0).to_numpy()
    s30 = f[f["h"] < 30].groupby("code")["q"].sum().reindex(rate.index, fill_value=0).to_numpy()
    est.forecast_rate[codes] = r
    est.daily[codes] = r
    est.demand_7[codes] = s7 + np.clip(7 - h, 0, None) * r
    est.demand_30[codes] = s30 + np.clip(30 - h, 0, None) * r
    est.source[codes] = "forecast"
    if "residual_std" in f:
        resid = pd.to_numeric(g["residual_std"].first(), errors="coerce").to_numpy(float)
        ok = np.isfinite(resid) & (resid >= 0)
        est.sigma[codes[ok]] = resid[ok]
        est.spread_source[codes[ok]] = "forecast_backtest"


def estimate_demand(sales: pd.DataFrame, ids: np.ndarray, as_of: pd.Timestamp, *, span: int, window: int,
                    seasonal: bool, seasonal_horizon: int, forecast: pd.DataFrame | None) -> DemandEstimate:
    """Everything demand-related the optimiser needs, for all products at once."""
    start = as_of - pd.Timedelta(days=span)
    matrix, (offsets, qty) = sales_matrix(sales, ids, start, span)
    index = seasonal_index(offsets, qty, window=window, horizon=seasonal_horizon, enabled=seasonal)
    h = robust_history_demand(matrix, window)
    # the history estimate looks back; the seasonal index moves it to the coming weeks' level
    daily = h["daily"] * index
    n = len(ids)
    est = DemandEstimate(
        matrix=matrix, has_sale=h["has_sale"], first_sale=h["first_sale"],
        days_since_last_sale=h["days_since_last_sale"], daily=daily.copy(), sigma=h["sigma"] * index,
        weekly_cv=h["weekly_cv"], demand_7=daily * 7, demand_30=daily * 30,
        source=np.full(n, "history", dtype=object), spread_source=np.full(n, "history", dtype=object),
        forecast_rate=np.full(n, np.nan), seasonal_index=index)
    if forecast is not None and len(forecast):
        apply_forecast(forecast, ids, as_of, est)
    return est
