"""API routes and views of the inventory capability (the spec's shapes and names).

Each view validates its query string with a serializer (a bad filter is a 400 naming it), gets the
analysis from `capabilities.inventory.services.inventory_analysis_refresh` — on demand, because stock
changes every day; from the cache while the data source's fingerprint and the active models are
unchanged — which also syncs the stored alerts to it, and shapes the response. Alerts are resolved
through POST /api/ml/inventory-alerts/{id}/resolve/ (api/views.py).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from ml_predictions.api.base import MLAPIView
from ml_predictions.capabilities.inventory.selectors import InventoryAnalysis, stored_alert_states
from ml_predictions.capabilities.inventory.services import inventory_analysis_refresh
from ml_predictions.capabilities.inventory.text import health_recommendations
from ml_predictions.estimators.inventory.optimizer import ALERT_TYPES

# --------------------------------------------------------------------------- input serializers


class _BaseFilterSerializer(serializers.Serializer):
    category = serializers.CharField(required=False, max_length=200,
                                     help_text="Only products of this category (exact name).")
    as_of = serializers.DateField(required=False, help_text="Analysis date (default today): sales before it count.")


class AnalysisFilterSerializer(_BaseFilterSerializer):
    alert_type = serializers.ChoiceField(choices=list(ALERT_TYPES), required=False)
    min_urgency = serializers.IntegerField(required=False, min_value=1, max_value=5)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=10000,
                                     help_text="Return at most this many alerts (most urgent first).")


class ReorderFilterSerializer(_BaseFilterSerializer):
    min_urgency = serializers.IntegerField(required=False, min_value=1, max_value=5)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=10000)


class HealthFilterSerializer(_BaseFilterSerializer):
    pass


def _validated(serializer_class: type[serializers.Serializer], request: Any) -> dict[str, Any]:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _analysis_for(filters: dict[str, Any]) -> tuple[InventoryAnalysis, pd.DataFrame, pd.DataFrame]:
    """Run the analysis and cut policy and alerts to the category filter (unknown category -> 400)."""
    analysis, _sync = inventory_analysis_refresh(as_of=filters.get("as_of"))
    policy = analysis.optimizer.policy_
    alerts = analysis.optimizer.alerts()
    category = filters.get("category")
    if category is not None:
        known = set(policy["category"])
        if category not in known:
            raise serializers.ValidationError(
                {"category": [f"Unknown category {category!r}; known categories: {sorted(known)}."]})
        policy = policy[policy["category"] == category]
        alerts = alerts[alerts["category"] == category]
    return analysis, policy, alerts


def _num(value: Any, digits: int = 2) -> float | None:
    value = float(value)
    return None if not math.isfinite(value) else round(value, digits)


def _iso(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _meta(analysis: InventoryAnalysis) -> dict[str, Any]:
    return {"as_of": str(analysis.as_of), "as_of_source": analysis.as_of_source,
            "demand_source": analysis.demand_source,
            "seasonal_index": round(analysis.optimizer.seasonal_index_, 3), "computed_at": analysis.computed_at}


# --------------------------------------------------------------------------- examples
ANALYSIS_EXAMPLE = {
    "success": True,
    "as_of": "2026-11-23",
    "demand_source": "history",
    "seasonal_index": 1.18,
    "computed_at": "2026-11-23T07:58:12.480311+00:00",
    "total_products_analyzed": 150,
    "alerts": [
        {
            "alert_id": "c7d1a3e2-5b7f-4b0e-9a41-3f3f2c1d9e10",
            "product_id": "2b9f6c1e-0d4e-4f55-8f0a-6a7f1e2b3c4d",
            "product_name": "Jean Skinny Negro",
            "category": "Pantalones",
            "alert_type": "reorder_now",
            "current_stock": 3,
            "recommended_stock": 25,
            "predicted_demand_7days": 8.0,
            "predicted_demand_30days": 32.0,
            "urgency_level": 5,
            "estimated_stockout_date": "2026-11-25",
        }
    ],
    "summary": {
        "total_alerts": 23,
        "by_type": {"reorder_now": 5, "low_stock": 8, "slow_moving": 6, "overstock": 3, "high_demand": 1},
        "total_stock_value_at_risk": 4500.0,
    },
    "data_issues": {
        "no_sales_history": {"count": 2, "products": [{"product_id": "9a…", "product_name": "Bolso Nuevo Rojo"}]},
        "missing_cost": {"count": 1, "products": [{"product_id": "41…", "product_name": "Pañuelo Seda"}]},
        "default_lead_time": {"count": 0, "products": []},
    },
}
REORDER_EXAMPLE = {
    "success": True,
    "as_of": "2026-11-23",
    "demand_source": "forecast",
    "seasonal_index": 1.0,
    "computed_at": "2026-11-23T07:58:12.480311+00:00",
    "recommendations": [
        {
            "product_id": "5d1e…",
            "product_name": "Vestido Floral",
            "category": "Vestidos",
            "current_stock": 2,
            "reorder_point": 15,
            "recommended_order_quantity": 30,
            "safety_stock": 8,
            "daily_demand": 1.2,
            "lead_time_days": 7,
            "estimated_cost": 900.0,
            "estimated_stockout_date": "2026-11-24",
            "urgency_level": 5,
            "priority": "high",
        }
    ],
    "total_recommendations": 15,
    "estimated_total_cost": 12500.0,
    "products_without_cost": 0,
}
HEALTH_EXAMPLE = {
    "success": True,
    "as_of": "2026-11-23",
    "demand_source": "history",
    "seasonal_index": 1.18,
    "computed_at": "2026-11-23T07:58:12.480311+00:00",
    "health_score": 78.5,
    "status": "warning",
    "metrics": {"total_products": 150, "low_stock": 8, "overstock": 3, "slow_moving": 6, "optimal": 133},
    "recommendations": [
        "Restock 8 products with low stock",
        "Consider promotions for 3 overstocked products",
        "Apply a clearance strategy to 6 slow-moving products",
    ],
}
COMMON_ERRORS = {400: OpenApiTypes.OBJECT, 401: OpenApiTypes.OBJECT, 403: OpenApiTypes.OBJECT,
                 422: OpenApiTypes.OBJECT}
BAD_FILTER_EXAMPLE = OpenApiExample(
    "Invalid filter", status_codes=["400"], response_only=True,
    value={"success": False, "error": {"code": "invalid", "message": "alert_type: \"soon\" is not a valid choice.",
                                       "fields": {"alert_type": ["\"soon\" is not a valid choice."]}}},
)
NO_SALES_EXAMPLE = OpenApiExample(
    "No sales history", status_codes=["422"], response_only=True,
    value={"success": False, "error": {"code": "insufficient_data", "message": (
        "No sales between 2026-08-25 and 2026-11-23: inventory optimization needs the last 90 days of order "
        "history to estimate demand.")}},
)


def _issue_list(policy: pd.DataFrame, mask: pd.Series, cap: int = 100) -> dict[str, Any]:
    rows = policy.loc[mask, ["product_id", "product_name"]].head(cap)
    return {"count": int(mask.sum()), "products": rows.to_dict("records")}


class InventoryAnalysisView(MLAPIView):
    @extend_schema(
        summary="Full inventory analysis: alerts with predicted demand and stockout dates",
        description=(
            "Runs the service-level policy over every active product (demand from the product-level sales "
            "forecast when one is trained, else a robust recent average; `demand_source` says which). "
            "Alert rules: see docs/inventory.md. Products without sales history, cost or lead time are "
            "listed under `data_issues`, not dropped. `alert_id` is the open persisted alert (written by "
            "the inventory training), usable with /inventory-alerts/{id}/resolve/."
        ),
        parameters=[AnalysisFilterSerializer],
        responses={200: OpenApiTypes.OBJECT, **COMMON_ERRORS},
        examples=[OpenApiExample("Analysis", value=ANALYSIS_EXAMPLE, response_only=True, status_codes=["200"]),
                  BAD_FILTER_EXAMPLE, NO_SALES_EXAMPLE],
    )
    def get(self, request):
        filters = _validated(AnalysisFilterSerializer, request)
        analysis, policy, alerts = _analysis_for(filters)
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
        items = [
            {
                "alert_id": states.get((row.product_id, row.alert_type), (None, None))[0],
                "alert_status": states.get((row.product_id, row.alert_type), (None, None))[1],
                "product_id": row.product_id,
                "product_name": row.product_name,
                "category": row.category,
                "alert_type": row.alert_type,
                "current_stock": int(row.current_stock),
                "recommended_stock": int(row.recommended_stock),
                "predicted_demand_7days": _num(row.predicted_demand_7days, 1),
                "predicted_demand_30days": _num(row.predicted_demand_30days, 1),
                "urgency_level": int(row.urgency_level),
                "estimated_stockout_date": _iso(row.estimated_stockout_date),
            }
            for row in alerts.itertuples(index=False)
        ]
        issues = {
            "no_sales_history": _issue_list(policy, ~policy["has_history"]),
            "missing_cost": _issue_list(policy, policy["unit_cost"].isna()),
            "default_lead_time": _issue_list(policy, policy["lead_time_source"] == "default"),
            "stock_unknown": _issue_list(policy, ~policy["stock_known"]),
        }
        return Response({
            "success": True,
            **_meta(analysis),
            "total_products_analyzed": int(len(policy)),
            "alerts": items,
            "summary": {"total_alerts": total, "by_type": by_type, "total_stock_value_at_risk": round(at_risk, 2)},
            "data_issues": issues,
        })


class ReorderRecommendationsView(MLAPIView):
    @extend_schema(
        summary="What to order today: products at or below their reorder point",
        description=(
            "reorder_point = daily_demand x lead time + safety stock; safety stock = z(service level) x "
            "sigma x sqrt(lead time); recommended_order_quantity brings stock up to the order-up-to level "
            "(or EOQ when INVENTORY_ORDER_POLICY = 'eoq'). estimated_cost is null for products without a "
            "unit cost (counted in products_without_cost, left out of estimated_total_cost). "
            "priority: high (urgency 4-5: stockout before an order can arrive), medium, low."
        ),
        parameters=[ReorderFilterSerializer],
        responses={200: OpenApiTypes.OBJECT, **COMMON_ERRORS},
        examples=[OpenApiExample("Reorder list", value=REORDER_EXAMPLE, response_only=True, status_codes=["200"]),
                  BAD_FILTER_EXAMPLE, NO_SALES_EXAMPLE],
    )
    def get(self, request):
        filters = _validated(ReorderFilterSerializer, request)
        analysis, policy, _alerts = _analysis_for(filters)
        rec = analysis.optimizer.reorder_recommendations()
        rec = rec[rec["product_id"].isin(policy["product_id"])]
        if filters.get("min_urgency"):
            rec = rec[rec["urgency_level"] >= filters["min_urgency"]]
        total = len(rec)
        total_cost = float(np.nansum(rec["estimated_cost"].to_numpy(float))) if total else 0.0
        without_cost = int(rec["estimated_cost"].isna().sum())
        if filters.get("limit"):
            rec = rec.head(filters["limit"])
        base = np.datetime64(analysis.as_of, "D")
        items = [
            {
                "product_id": row.product_id,
                "product_name": row.product_name,
                "category": row.category,
                "current_stock": int(row.current_stock),
                "reorder_point": int(math.ceil(row.reorder_point - 1e-9)),
                "recommended_order_quantity": int(row.recommended_order_quantity),
                "safety_stock": int(math.ceil(row.safety_stock - 1e-9)),
                "daily_demand": _num(row.daily_demand, 2),
                "lead_time_days": _num(row.lead_time_days, 1),
                "estimated_cost": _num(row.estimated_cost, 2),
                "estimated_stockout_date": str((base + np.timedelta64(int(row.stockout_in_days), "D")).item()),
                "urgency_level": int(row.urgency_level),
                "priority": row.priority,
            }
            for row in rec.itertuples(index=False)
        ]
        return Response({
            "success": True,
            **_meta(analysis),
            "recommendations": items,
            "total_recommendations": total,
            "estimated_total_cost": round(total_cost, 2),
            "products_without_cost": without_cost,
        })


class InventoryHealthView(MLAPIView):
    @extend_schema(
        summary="Inventory health score (0-100), status and plain-language recommendations",
        description=(
            "health_score = 100 x (1 - mean product penalty); penalty per product = the largest of its "
            "alerts' (reorder_now 1.0, slow_moving 0.75, low_stock 0.5, overstock 0.5). status: good >= 80, "
            "warning >= 60, else critical. metrics.low_stock counts products with reorder_now or low_stock. "
            "Recommendations are in the request's language."
        ),
        parameters=[HealthFilterSerializer],
        responses={200: OpenApiTypes.OBJECT, **COMMON_ERRORS},
        examples=[OpenApiExample("Health", value=HEALTH_EXAMPLE, response_only=True, status_codes=["200"]),
                  BAD_FILTER_EXAMPLE, NO_SALES_EXAMPLE],
    )
    def get(self, request):
        filters = _validated(HealthFilterSerializer, request)
        analysis, policy, _alerts = _analysis_for(filters)
        optimizer = analysis.optimizer
        if filters.get("category") is not None:
            # the health of one category: the same rules over that category's products only
            optimizer = optimizer.subset(policy["product_id"])
        report = optimizer.health()
        return Response({
            "success": True,
            **_meta(analysis),
            "health_score": report.health_score,
            "status": report.status,
            "metrics": report.metrics,
            "recommendations": health_recommendations(report.recommendation_codes, optimizer.history_days_),
        })


urlpatterns = [
    path("inventory-analysis/", InventoryAnalysisView.as_view(), name="inventory-analysis"),
    path("reorder-recommendations/", ReorderRecommendationsView.as_view(), name="reorder-recommendations"),
    path("inventory-health/", InventoryHealthView.as_view(), name="inventory-health"),
]
