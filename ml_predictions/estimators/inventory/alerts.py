"""Alert rules over a fitted policy table (the rules are listed in the optimiser's module docstring).

Why a function over the policy frame: the rules only read per-product figures the policy already
holds, so they are masks over whole columns, one pass for 10k products, and testable without a fit.

Alerts (a product may carry several types; at most one of reorder_now / low_stock, and slow_moving wins
over overstock):
    reorder_now  d > 0 and stock <= s. Urgency 5 when out of stock or cover < L/2, 4 when cover < L
                 (a stockout before any order can arrive), else 3 (safety stock is being used).
    low_stock    d > 0 and s < stock <= s + d * low_stock_horizon_days (crosses the reorder point within
                 the horizon, default 7 days). Urgency 2, or 3 when crossing within 3 days.
    slow_moving  stock > 0 and the sell-through of the last `slow_moving_days` (units sold / (units sold +
                 stock)) is below `slow_moving_sell_through` (default: < 10 % in 30 days; no sale at all
                 always counts). Urgency 1, 2 when the last sale is >= 2 x N days ago
                 (or never in the history read), 3 when >= 3 x N days ago.
    overstock    d > 0, not slow moving, stock > S and stock / d > `overstock_cover_days` (default 90).
                 Urgency 2, 3 when cover exceeds twice the threshold.
    high_demand  the last `high_demand_days` (14) sold at least `high_demand_ratio` (1.5) x the reference
                 rate and at least `high_demand_min_units` (5) units, and more units than the 99th
                 percentile of a Poisson count at the reference rate (so a slow product selling 5 instead
                 of 3 is not flagged). The reference is the forecast when
                 there is one, else the average of the window days before those 14 days. Urgency 3, 4 when
                 the product is also at or below its reorder point.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from scipy.stats import poisson

ALERT_TYPES = ("reorder_now", "low_stock", "slow_moving", "overstock", "high_demand")

ALERT_COLUMNS = (
    ("product_id", object), ("product_name", object), ("category", object), ("alert_type", object),
    ("current_stock", int), ("recommended_stock", int), ("predicted_demand_7days", float),
    ("predicted_demand_30days", float), ("urgency_level", int), ("estimated_stockout_date", object),
    ("order_by_date", object), ("days_of_cover", float), ("abc_xyz", object),
    ("stock_value", float), ("excess_value", float), ("daily_demand", float),
    ("days_since_last_sale", float), ("recent_daily", float), ("reference_daily", float),
)


@dataclass(frozen=True)
class AlertRules:
    """The thresholds of the rules (the optimiser's parameters of the same names)."""

    low_stock_horizon_days: float = 7
    slow_moving_days: int = 30
    slow_moving_sell_through: float = 0.10
    overstock_cover_days: float = 90
    high_demand_days: int = 14
    high_demand_ratio: float = 1.5
    high_demand_min_units: float = 5


MAX_OFFSET_DAYS = 36_525  # a hundred years


def empty_alerts() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in ALERT_COLUMNS})


def offset_dates(as_of: date, offsets: np.ndarray) -> np.ndarray:
    """as_of + offsets as Python dates (None where the offset is NaN, or further than MAX_OFFSET_DAYS:
    a product selling a unit a century lasts "forever", and such an offset overflows datetime64)."""
    base = np.datetime64(as_of, "D")
    out = np.empty(len(offsets), dtype=object)
    offsets = np.asarray(offsets, dtype=float)
    ok = np.isfinite(offsets) & (np.abs(offsets) <= MAX_OFFSET_DAYS)
    out[~ok] = None
    if ok.any():
        stamps = base + offsets[ok].astype("timedelta64[D]")
        out[ok] = [d.item() for d in stamps]  # only alert or order rows, a few thousand at most
    return out


def alert_masks(p: pd.DataFrame, rules: AlertRules) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(alert type, products it applies to, urgency) for each rule."""
    d = p["daily_demand"].to_numpy()
    stock = p["current_stock"].to_numpy()
    s = p["reorder_point"].to_numpy()
    big_s = p["order_up_to"].to_numpy()
    lead = p["lead_time_days"].to_numpy()
    cover = p["days_of_cover"].to_numpy()
    known = p["stock_known"].to_numpy(bool)
    pos = (d > 0) & known

    reorder = pos & (stock <= s)
    u_reorder = np.select([(stock <= 0) | (cover < lead / 2), cover < lead], [5, 4], 3)

    low = pos & (stock > s) & (stock <= s + d * float(rules.low_stock_horizon_days))
    u_low = np.where((stock - s) <= d * 3, 3, 2)

    n_slow = int(rules.slow_moving_days)
    since = p["days_since_last_sale"].to_numpy()
    sold = p["units_last_slow_window"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        sell_through = sold / (sold + stock)
    slow = known & (stock > 0) & ((sold <= 0) | (sell_through < float(rules.slow_moving_sell_through)))
    since_f = np.where(np.isnan(since), np.inf, since)
    u_slow = np.select([since_f >= 3 * n_slow, since_f >= 2 * n_slow], [3, 2], 1)

    over = pos & ~slow & (stock > big_s) & (cover > float(rules.overstock_cover_days))
    u_over = np.where(cover > 2 * float(rules.overstock_cover_days), 3, 2)

    ref = p["reference_daily"].to_numpy()
    ref_ok = np.isfinite(ref)
    recent = p["recent_daily"].to_numpy()
    recent_units = p["recent_units"].to_numpy()
    expected = np.where(ref_ok, ref, 0.0) * float(rules.high_demand_days)
    high = (
        known
        & (recent_units >= float(rules.high_demand_min_units))
        & ref_ok
        & (recent >= float(rules.high_demand_ratio) * np.where(ref_ok, ref, np.inf))
        # and not just noise: more units than a Poisson count at the reference rate gives 99 % of the time
        & (recent_units > poisson.ppf(0.99, np.maximum(expected, 1e-9)))
    )
    u_high = np.where(reorder, 4, 3)
    return [("reorder_now", reorder, u_reorder), ("low_stock", low, u_low), ("slow_moving", slow, u_slow),
            ("overstock", over, u_over), ("high_demand", high, u_high)]


def compute_alerts(p: pd.DataFrame, rules: AlertRules, as_of: date) -> pd.DataFrame:
    """One row per (product, alert type), most urgent first."""
    parts = [pd.DataFrame({"row": np.flatnonzero(mask), "alert_type": name, "urgency_level": urgency[mask]})
             for name, mask, urgency in alert_masks(p, rules) if mask.any()]
    if not parts:
        return empty_alerts()
    a = pd.concat(parts, ignore_index=True)
    rows = p.iloc[a["row"].to_numpy()].reset_index(drop=True)
    atype = a["alert_type"].to_numpy()
    stock_value = rows["current_stock"] * rows["unit_cost"]
    above_s = np.clip(rows["current_stock"] - rows["order_up_to"], 0, None) * rows["unit_cost"]
    out = pd.DataFrame(
        {
            "product_id": rows["product_id"],
            "product_name": rows["product_name"],
            "category": rows["category"],
            "alert_type": atype,
            "current_stock": rows["current_stock"].round().astype(int),
            "recommended_stock": np.ceil(rows["order_up_to"] - 1e-9).astype(int),
            "predicted_demand_7days": rows["predicted_demand_7days"].round(1),
            "predicted_demand_30days": rows["predicted_demand_30days"].round(1),
            "urgency_level": np.clip(a["urgency_level"].to_numpy(), 1, 5).astype(int),
            "estimated_stockout_date": offset_dates(as_of, rows["stockout_in_days"].to_numpy(float)),
            "order_by_date": offset_dates(as_of, rows["order_by_in_days"].to_numpy(float)),
            "days_of_cover": rows["days_of_cover"],
            "abc_xyz": rows["abc_xyz"],
            "stock_value": stock_value,
            "excess_value": np.where(atype == "slow_moving", stock_value,
                                     np.where(atype == "overstock", above_s, 0.0)),
            "daily_demand": rows["daily_demand"],
            "days_since_last_sale": rows["days_since_last_sale"],
            "recent_daily": rows["recent_daily"],
            "reference_daily": rows["reference_daily"],
        }
    )
    out["_t"] = out["alert_type"].map({t: i for i, t in enumerate(ALERT_TYPES)})
    out = out.sort_values(["urgency_level", "_t", "product_name"], ascending=[False, True, True], kind="stable")
    return out.drop(columns="_t").reset_index(drop=True)
