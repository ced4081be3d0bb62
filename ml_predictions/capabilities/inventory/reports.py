"""The three inventory GET answers as plain data: analysis (alerts), reorder list, health.

Why here and not in the views: shaping them means cutting DataFrames (category, alert type,
urgency, limit), turning NaN and infinity into null and dates into strings; that is pandas work,
which the API layer does not do. Each function runs `inventory_analysis_refresh` (the cached
analysis with the stored alerts synced to it, the spec's daily routine) and returns a dict whose
keys are the spec's JSON field names; the API's output serializers describe the same shapes.
"""
from __future__ import annotations

import math
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from ml_predictions.capabilities.inventory.selectors import InventoryAnalysis, stored_alert_states
from ml_predictions.capabilities.inventory.services import inventory_analysis_refresh
from ml_predictions.capabilities.inventory.text import health_recommendations
from ml_predictions.errors import InvalidParameterError
from ml_predictions.estimators.inventory.alerts import ALERT_TYPES

ISSUE_LIST_CAP = 100


def _num(value: Any, digits: int = 2) -> float | None:
    """A finite float rounded, else None (NaN = unknown, infinity = no demand: both null in JSON)."""
    if value is None:
        return None
    value = float(value)
    return None if not math.isfinite(value) else round(value, digits)


def _iso(value: Any) -> str | None:
    return str(value) if isinstance(value, date) else None


def _meta(analysis: InventoryAnalysis, filters: dict[str, Any]) -> dict[str, Any]:
    return {"as_of": str(analysis.as_of), "as_of_source": analysis.as_of_source,
            "demand_source": analysis.demand_source,
            "seasonal_index": round(analysis.optimizer.seasonal_index_, 3), "computed_at": analysis.computed_at,
            "service_level_override": filters.get("service_level")}


def _cut(filters: dict[str, Any], analysis: InventoryAnalysis | None) -> tuple[InventoryAnalysis, pd.DataFrame, pd.DataFrame]:
    """The synced analysis (refreshed here unless the caller already did) and its policy and alerts cut to
    the category filter (unknown one -> 400)."""
    if analysis is None:
        analysis, _sync = inventory_analysis_refresh(as_of=filters.get("as_of"),
                                                     service_level=filters.get("service_level"))
    policy = analysis.optimizer.policy_
    alerts = analysis.optimizer.alerts()
    category = filters.get("category")
    if category is not None:
        known = set(policy["category"])
        if category not in known:
            raise InvalidParameterError(
                f"Unknown category {category!r}; known categories: {sorted(known)}.", field="category")
        policy = policy[policy["category"] == category]
        alerts = alerts[alerts["category"] == category]
    return analysis, policy, alerts


def _issue_list(policy: pd.DataFrame, mask: pd.Series) -> dict[str, Any]:
    rows = policy.loc[mask, ["product_id", "product_name"]].head(ISSUE_LIST_CAP)
    return {"count": int(mask.sum()), "products": rows.to_dict("records")}


def inventory_analysis_report(filters: dict[str, Any], *, analysis: InventoryAnalysis | None = None) -> dict[str, Any]:
    """GET inventory-analysis: alerts (most urgent first), their summary, the classes and data issues."""
    analysis, policy, alerts = _cut(filters, analysis)
    if filters.get("alert_type"):
        alerts = alerts[alerts["alert_type"] == filters["alert_type"]]
    if filters.get("min_urgency"):
        alerts = alerts[alerts["urgency_level"] >= filters["min_urgency"]]
    by_type = {t: int((alerts["alert_type"] == t).sum()) for t in ALERT_TYPES}
    at_risk = float(np.nansum(alerts["excess_value"].to_numpy(float))) if len(alerts) else 0.0
    total = len(alerts)
    if filters.get("limit"):
        alerts = alerts.head(filters["limit"])
    states = stored_alert_states() if len(alerts) else {}
    items = []
    for row in alerts.itertuples(index=False):
        alert_id, status = states.get((row.product_id, row.alert_type), (None, None))
        items.append({
            "alert_id": alert_id, "alert_status": status, "product_id": row.product_id,
            "product_name": row.product_name, "category": row.category, "alert_type": row.alert_type,
            "current_stock": int(row.current_stock), "recommended_stock": int(row.recommended_stock),
            "predicted_demand_7days": _num(row.predicted_demand_7days, 1),
            "predicted_demand_30days": _num(row.predicted_demand_30days, 1),
            "urgency_level": int(row.urgency_level), "estimated_stockout_date": _iso(row.estimated_stockout_date),
            "order_by_date": _iso(row.order_by_date), "days_of_cover": _num(row.days_of_cover, 1),
            "abc_xyz": str(row.abc_xyz),
        })
    issues = {
        "no_sales_history": _issue_list(policy, ~policy["has_history"]),
        "missing_cost": _issue_list(policy, policy["unit_cost"].isna()),
        "default_lead_time": _issue_list(policy, policy["lead_time_source"] == "default"),
        "stock_unknown": _issue_list(policy, ~policy["stock_known"]),
    }
    optimizer = analysis.optimizer if filters.get("category") is None else analysis.optimizer.subset(
        policy["product_id"])
    return {
        "success": True, **_meta(analysis, filters), "total_products_analyzed": int(len(policy)), "alerts": items,
        "summary": {"total_alerts": total, "by_type": by_type, "total_stock_value_at_risk": round(at_risk, 2)},
        "classes": optimizer.class_summary(), "service_type": analysis.optimizer.service_type,
        "data_issues": issues,
    }


def reorder_report(filters: dict[str, Any], *, analysis: InventoryAnalysis | None = None) -> dict[str, Any]:
    """GET reorder-recommendations: what to order today, rounded to MOQ and case packs, with costs."""
    analysis, policy, _alerts = _cut(filters, analysis)
    rec = analysis.optimizer.reorder_recommendations()
    rec = rec[rec["product_id"].isin(policy["product_id"])]
    if filters.get("min_urgency"):
        rec = rec[rec["urgency_level"] >= filters["min_urgency"]]
    total = len(rec)
    total_cost = float(np.nansum(rec["estimated_cost"].to_numpy(float))) if total else 0.0
    lost = float(np.nansum(rec["estimated_lost_revenue"].to_numpy(float))) if total else 0.0
    without_cost = int(rec["estimated_cost"].isna().sum())
    if filters.get("limit"):
        rec = rec.head(filters["limit"])
    base = np.datetime64(analysis.as_of, "D")

    def day(offset: float) -> str | None:
        return str((base + np.timedelta64(int(offset), "D")).item()) if math.isfinite(offset) else None

    items = [
        {
            "product_id": row.product_id, "product_name": row.product_name, "category": row.category,
            "supplier": row.supplier or None, "abc_xyz": str(row.abc_xyz),
            "service_level": _num(row.service_level, 4),
            "current_stock": int(row.current_stock), "reorder_point": int(math.ceil(row.reorder_point - 1e-9)),
            "recommended_order_quantity": int(row.recommended_order_quantity),
            "min_order_quantity": _num(row.min_order_quantity, 0), "case_pack": _num(row.case_pack, 0),
            "safety_stock": int(math.ceil(row.safety_stock - 1e-9)), "daily_demand": _num(row.daily_demand, 2),
            "demand_std": _num(row.demand_std, 3), "demand_spread_source": row.demand_spread_source,
            "lead_time_days": _num(row.lead_time_days, 1), "lead_time_std_days": _num(row.lead_time_std_days, 1),
            "estimated_cost": _num(row.estimated_cost, 2),
            "estimated_stockout_date": day(row.stockout_in_days), "order_by_date": day(row.order_by_in_days),
            "days_of_cover": _num(row.days_of_cover, 1),
            "estimated_lost_revenue": _num(row.estimated_lost_revenue, 2),
            "urgency_level": int(row.urgency_level), "priority": row.priority,
        }
        for row in rec.itertuples(index=False)
    ]
    return {
        "success": True, **_meta(analysis, filters), "recommendations": items, "total_recommendations": total,
        "estimated_total_cost": round(total_cost, 2), "products_without_cost": without_cost,
        "estimated_lost_revenue": round(lost, 2),
    }


def health_report(filters: dict[str, Any], *, analysis: InventoryAnalysis | None = None) -> dict[str, Any]:
    """GET inventory-health: score, status, counts, the score's parts and advice in the request's language."""
    analysis, policy, _alerts = _cut(filters, analysis)
    optimizer = analysis.optimizer
    if filters.get("category") is not None:
        # the health of one category: the same rules over that category's products only
        optimizer = optimizer.subset(policy["product_id"])
    report = optimizer.health()
    return {
        "success": True, **_meta(analysis, filters), "health_score": report.health_score, "status": report.status,
        "metrics": report.metrics, "score_parts": report.score_parts,
        "recommendations": health_recommendations(report.recommendation_codes, optimizer.history_days_),
    }
