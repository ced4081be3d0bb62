"""Health score, its parts, the summary and the data issues of a fitted policy.

Why the parts are listed: a score of 72 says nothing a planner can act on; "-18 points from 40
products to reorder, -10 from 25 slow movers" says where the points went. The parts add up to
100 - score exactly (before rounding): each product counts once, under its worst alert.

Health score = 100 x (1 - mean product penalty); a product's penalty is the largest of its alerts':
reorder_now 1.0, slow_moving 0.75, low_stock 0.5, overstock 0.5 (high_demand is information, 0).
Status: good >= 80, warning >= 60, else critical. When no product's stock is known there is nothing
to score: the score is None and the status "unknown" (a shop importing orders without stock would
otherwise read 100 / "good" about shelves nobody has counted).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ml_predictions.estimators.inventory.alerts import ALERT_TYPES

ALERT_PENALTY = {"reorder_now": 1.0, "slow_moving": 0.75, "low_stock": 0.5, "overstock": 0.5, "high_demand": 0.0}
HEALTH_GOOD, HEALTH_WARNING = 80.0, 60.0


@dataclass
class HealthReport:
    """Health score and the counts a plain-language recommendation is built from."""

    health_score: float | None
    status: str
    metrics: dict[str, int]
    # (message id, count) pairs; the capability turns them into translated sentences.
    recommendation_codes: list[tuple[str, int]] = field(default_factory=list)
    # one entry per penalised alert type: products it is the worst alert of, penalty, points lost
    score_parts: list[dict[str, Any]] = field(default_factory=list)


def _score_parts(alerts: pd.DataFrame, scored: int) -> tuple[float, list[dict[str, Any]]]:
    """(score, parts): each product is charged the penalty of its worst alert."""
    if not len(alerts) or not scored:
        return 100.0, []
    a = alerts[["product_id", "alert_type"]].copy()
    a["penalty"] = a["alert_type"].map(ALERT_PENALTY).astype(float)
    a["rank"] = a["alert_type"].map({t: i for i, t in enumerate(ALERT_TYPES)})
    worst = a.sort_values(["penalty", "rank"], ascending=[False, True]).drop_duplicates("product_id")
    worst = worst[worst["penalty"] > 0]
    parts = []
    for atype in ALERT_TYPES:
        n = int((worst["alert_type"] == atype).sum())
        if n:
            parts.append({"alert_type": atype, "products": n, "penalty": ALERT_PENALTY[atype],
                          "points": round(100.0 * n * ALERT_PENALTY[atype] / scored, 2)})
    return 100.0 * (1.0 - float(worst["penalty"].sum()) / scored), parts


def health_report(policy: pd.DataFrame, alerts: pd.DataFrame) -> HealthReport:
    """Score = 100 x (1 - mean worst-alert penalty) over products of known stock; status and counts."""
    n = len(policy)
    unknown = int((~policy["stock_known"]).sum())
    # products of unknown stock carry no alert, so they are left out of the score (not counted healthy)
    scored = n - unknown
    score, parts = _score_parts(alerts, scored)
    status = ("unknown" if not scored else "good" if score >= HEALTH_GOOD
              else "warning" if score >= HEALTH_WARNING else "critical")
    ids = {t: set(alerts.loc[alerts["alert_type"] == t, "product_id"]) for t in ALERT_TYPES}
    low = ids["reorder_now"] | ids["low_stock"]
    flagged = low | ids["overstock"] | ids["slow_moving"]
    metrics = {
        "total_products": n,
        "low_stock": len(low),
        "overstock": len(ids["overstock"]),
        "slow_moving": len(ids["slow_moving"]),
        "optimal": n - unknown - len(flagged),
        "stock_unknown": unknown,
    }
    codes: list[tuple[str, int]] = []
    if ids["reorder_now"]:
        out_of_stock = int(((policy["current_stock"] <= 0) & policy["stock_known"] & (policy["daily_demand"] > 0)).sum())
        if out_of_stock:
            codes.append(("out_of_stock", out_of_stock))
    for code, found in (("restock_low", low), ("high_demand", ids["high_demand"]),
                        ("promote_overstock", ids["overstock"]), ("liquidate_slow", ids["slow_moving"])):
        if found:
            codes.append((code, len(found)))
    for code, count in (("stock_unknown", unknown), ("no_history", int((~policy["has_history"]).sum())),
                        ("missing_cost", int(policy["unit_cost"].isna().sum()))):
        if count:
            codes.append((code, count))
    if not codes:
        codes.append(("all_good", n))
    return HealthReport(round(score, 1) if scored else None, status, metrics, codes, parts)


def data_issues(policy: pd.DataFrame) -> dict[str, list[str]]:
    """Products the policy could only partly compute, by reason (never silently dropped)."""
    p = policy
    return {
        "no_sales_history": p.loc[~p["has_history"], "product_id"].tolist(),
        "missing_cost": p.loc[p["unit_cost"].isna(), "product_id"].tolist(),
        "default_lead_time": p.loc[p["lead_time_source"] == "default", "product_id"].tolist(),
        "stock_unknown": p.loc[~p["stock_known"], "product_id"].tolist(),
    }


def alert_summary(alerts: pd.DataFrame) -> dict[str, Any]:
    """The spec's inventory-analysis summary: totals by alert type and the stock value at risk.

    Stock value at risk = cost value of stock not expected to sell in time: the whole stock of
    slow-moving products plus the part of overstocked products above their order-up-to level.
    """
    by_type = {t: int((alerts["alert_type"] == t).sum()) for t in ALERT_TYPES}
    at_risk = float(np.nansum(alerts["excess_value"].to_numpy(float))) if len(alerts) else 0.0
    return {"total_alerts": int(len(alerts)), "by_type": by_type, "total_stock_value_at_risk": round(at_risk, 2)}


def class_summary(policy: pd.DataFrame) -> list[dict[str, Any]]:
    """Per ABC-XYZ class: products, their service level target and the share of revenue they make."""
    if not len(policy):
        return []
    total = float(policy["revenue"].sum())
    g = policy.groupby("abc_xyz", sort=True)
    out = []
    for klass, rows in g:
        out.append({"abc_xyz": str(klass), "products": int(len(rows)),
                    "service_level": round(float(rows["service_level"].mean()), 4),
                    "revenue_share": round(float(rows["revenue"].sum()) / total, 4) if total > 0 else 0.0,
                    "reorder_now": int((rows["recommended_order_quantity"] > 0).sum())})
    return out
