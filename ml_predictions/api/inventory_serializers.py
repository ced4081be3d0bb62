"""Input and output serializers of the inventory endpoints, and their documented examples.

The output serializers are the OpenAPI response schemas of the spec's three GET answers (field names
as the spec has them), so the documented shape is the one `capabilities.inventory.reports` returns.
"""
from __future__ import annotations

from drf_spectacular.utils import OpenApiExample
from rest_framework import serializers

from ml_predictions.models import InventoryAlert

# the stored alert's choices: one enum in the schema for every alert_type field
ALERT_TYPE_CHOICES = InventoryAlert.AlertType.choices

# --------------------------------------------------------------------------- input


class _BaseFilterSerializer(serializers.Serializer):
    category = serializers.CharField(required=False, max_length=200,
                                     help_text="Only products of this category (exact name).")
    as_of = serializers.DateField(required=False, help_text="Analysis date (default today): sales before it count.")
    service_level = serializers.FloatField(
        required=False,
        help_text=("What-if: one target service level for every product (0.5 < x < 1; category levels still win), "
                   "instead of the configured per-class levels. Cached on its own; the stored alerts are not "
                   "synced to it (they follow the configured levels)."))

    def validate_service_level(self, value: float) -> float:
        # the optimiser's z-value is undefined at 1 and a level at or below 0.5 means no safety stock at all
        if not 0.5 < value < 1:
            raise serializers.ValidationError(f"must be greater than 0.5 and less than 1; got {value}.")
        return value


class AnalysisFilterSerializer(_BaseFilterSerializer):
    alert_type = serializers.ChoiceField(choices=ALERT_TYPE_CHOICES, required=False)
    min_urgency = serializers.IntegerField(required=False, min_value=1, max_value=5)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=10000,
                                     help_text="Return at most this many alerts (most urgent first).")


class ReorderFilterSerializer(_BaseFilterSerializer):
    min_urgency = serializers.IntegerField(required=False, min_value=1, max_value=5)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=10000)


class HealthFilterSerializer(_BaseFilterSerializer):
    pass


# --------------------------------------------------------------------------- output


class _MetaSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    as_of = serializers.DateField(help_text="The analysis date (sales before it count).")
    as_of_source = serializers.ChoiceField(choices=["requested", "today", "last_order"])
    demand_source = serializers.ChoiceField(choices=["history", "forecast", "mixed"])
    seasonal_index = serializers.FloatField()
    computed_at = serializers.DateTimeField()
    service_level_override = serializers.FloatField(
        allow_null=True, help_text="The ?service_level= of a what-if answer (alerts not synced); null otherwise.")


class InventoryAlertRowSerializer(serializers.Serializer):
    alert_id = serializers.UUIDField(allow_null=True, help_text="The open stored alert, for /resolve/.")
    alert_status = serializers.ChoiceField(choices=["open", "snoozed"], allow_null=True)
    product_id = serializers.CharField()
    product_name = serializers.CharField()
    category = serializers.CharField()
    alert_type = serializers.ChoiceField(choices=ALERT_TYPE_CHOICES)
    current_stock = serializers.IntegerField()
    recommended_stock = serializers.IntegerField()
    predicted_demand_7days = serializers.FloatField(allow_null=True)
    predicted_demand_30days = serializers.FloatField(allow_null=True)
    urgency_level = serializers.IntegerField(min_value=1, max_value=5)
    estimated_stockout_date = serializers.DateField(allow_null=True)
    order_by_date = serializers.DateField(allow_null=True, help_text="Last day to order before safety stock is used.")
    days_of_cover = serializers.FloatField(allow_null=True, help_text="Stock / daily demand; null without demand.")
    abc_xyz = serializers.CharField(help_text="ABC (revenue share) and XYZ (demand variability) class, e.g. AX.")


class AlertSummarySerializer(serializers.Serializer):
    total_alerts = serializers.IntegerField()
    by_type = serializers.DictField(child=serializers.IntegerField(), help_text="Count per alert type.")
    total_stock_value_at_risk = serializers.FloatField()


class ClassSummarySerializer(serializers.Serializer):
    abc_xyz = serializers.CharField()
    products = serializers.IntegerField()
    service_level = serializers.FloatField(help_text="Mean target service level of the class' products.")
    revenue_share = serializers.FloatField()
    reorder_now = serializers.IntegerField(help_text="Products of the class to order today.")


class IssueProductSerializer(serializers.Serializer):
    product_id = serializers.CharField()
    product_name = serializers.CharField()


class IssueListSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    products = IssueProductSerializer(many=True, help_text="The first 100.")


class DataIssuesSerializer(serializers.Serializer):
    no_sales_history = IssueListSerializer()
    missing_cost = IssueListSerializer()
    default_lead_time = IssueListSerializer()
    stock_unknown = IssueListSerializer()


class InventoryAnalysisOutputSerializer(_MetaSerializer):
    total_products_analyzed = serializers.IntegerField()
    alerts = InventoryAlertRowSerializer(many=True)
    summary = AlertSummarySerializer()
    classes = ClassSummarySerializer(many=True)
    service_type = serializers.ChoiceField(choices=["cycle", "fill_rate"])
    data_issues = DataIssuesSerializer()


class ReorderRowSerializer(serializers.Serializer):
    product_id = serializers.CharField()
    product_name = serializers.CharField()
    category = serializers.CharField()
    supplier = serializers.CharField(allow_null=True)
    abc_xyz = serializers.CharField()
    service_level = serializers.FloatField()
    current_stock = serializers.IntegerField()
    reorder_point = serializers.IntegerField()
    recommended_order_quantity = serializers.IntegerField(help_text="Rounded up to the MOQ and whole case packs.")
    min_order_quantity = serializers.FloatField(allow_null=True)
    case_pack = serializers.FloatField(allow_null=True)
    safety_stock = serializers.IntegerField()
    daily_demand = serializers.FloatField(allow_null=True)
    demand_std = serializers.FloatField(allow_null=True, help_text="Daily demand spread the safety stock uses.")
    demand_spread_source = serializers.ChoiceField(
        choices=["forecast_backtest", "history"],
        help_text="forecast_backtest: the active forecast's per-product backtest RMSE; history: recent sales.")
    lead_time_days = serializers.FloatField(allow_null=True)
    lead_time_std_days = serializers.FloatField(allow_null=True)
    estimated_cost = serializers.FloatField(allow_null=True)
    estimated_stockout_date = serializers.DateField(allow_null=True)
    order_by_date = serializers.DateField(allow_null=True)
    days_of_cover = serializers.FloatField(allow_null=True)
    estimated_lost_revenue = serializers.FloatField(allow_null=True, help_text="If nothing is ordered today.")
    urgency_level = serializers.IntegerField(min_value=1, max_value=5)
    priority = serializers.ChoiceField(choices=["high", "medium", "low"])


class ReorderOutputSerializer(_MetaSerializer):
    recommendations = ReorderRowSerializer(many=True)
    total_recommendations = serializers.IntegerField()
    estimated_total_cost = serializers.FloatField()
    products_without_cost = serializers.IntegerField()
    estimated_lost_revenue = serializers.FloatField(help_text="Sum over the listed products (price known).")


class HealthMetricsSerializer(serializers.Serializer):
    total_products = serializers.IntegerField()
    low_stock = serializers.IntegerField()
    overstock = serializers.IntegerField()
    slow_moving = serializers.IntegerField()
    optimal = serializers.IntegerField()
    stock_unknown = serializers.IntegerField()


class ScorePartSerializer(serializers.Serializer):
    alert_type = serializers.ChoiceField(choices=ALERT_TYPE_CHOICES)
    products = serializers.IntegerField(help_text="Products whose worst alert is this type.")
    penalty = serializers.FloatField()
    points = serializers.FloatField(help_text="Points of the 100 lost to them.")


class HealthOutputSerializer(_MetaSerializer):
    health_score = serializers.FloatField(allow_null=True, help_text="null when no product's stock is known")
    status = serializers.ChoiceField(choices=["good", "warning", "critical", "unknown"])
    metrics = HealthMetricsSerializer()
    score_parts = ScorePartSerializer(many=True)
    recommendations = serializers.ListField(child=serializers.CharField())


# --------------------------------------------------------------------------- examples
_META = {"success": True, "as_of": "2026-11-23", "as_of_source": "requested", "demand_source": "history",
         "seasonal_index": 1.18, "computed_at": "2026-11-23T07:58:12.480311+00:00",
         "service_level_override": None}
ANALYSIS_EXAMPLE = {
    **_META,
    "total_products_analyzed": 150,
    "alerts": [
        {
            "alert_id": "c7d1a3e2-5b7f-4b0e-9a41-3f3f2c1d9e10", "alert_status": "open",
            "product_id": "2b9f6c1e-0d4e-4f55-8f0a-6a7f1e2b3c4d", "product_name": "Jean Skinny Negro",
            "category": "Pantalones", "alert_type": "reorder_now", "current_stock": 3, "recommended_stock": 25,
            "predicted_demand_7days": 8.0, "predicted_demand_30days": 32.0, "urgency_level": 5,
            "estimated_stockout_date": "2026-11-25", "order_by_date": "2026-11-23", "days_of_cover": 2.6,
            "abc_xyz": "AX",
        }
    ],
    "summary": {
        "total_alerts": 23,
        "by_type": {"reorder_now": 5, "low_stock": 8, "slow_moving": 6, "overstock": 3, "high_demand": 1},
        "total_stock_value_at_risk": 4500.0,
    },
    "classes": [{"abc_xyz": "AX", "products": 12, "service_level": 0.98, "revenue_share": 0.41, "reorder_now": 2}],
    "service_type": "cycle",
    "data_issues": {
        "no_sales_history": {"count": 1, "products": [{"product_id": "9a…", "product_name": "Bolso Nuevo Rojo"}]},
        "missing_cost": {"count": 0, "products": []},
        "default_lead_time": {"count": 0, "products": []},
        "stock_unknown": {"count": 0, "products": []},
    },
}
REORDER_EXAMPLE = {
    **_META,
    "recommendations": [
        {
            "product_id": "5d1e…", "product_name": "Vestido Floral", "category": "Vestidos", "supplier": "Textiles SA",
            "abc_xyz": "BY", "service_level": 0.95, "current_stock": 2, "reorder_point": 15,
            "recommended_order_quantity": 36, "min_order_quantity": 20.0, "case_pack": 12.0, "safety_stock": 8,
            "daily_demand": 1.2, "demand_std": 0.8, "demand_spread_source": "history", "lead_time_days": 7.0, "lead_time_std_days": 2.0, "estimated_cost": 1080.0,
            "estimated_stockout_date": "2026-11-24", "order_by_date": "2026-11-23", "days_of_cover": 1.7,
            "estimated_lost_revenue": 1140.0, "urgency_level": 5, "priority": "high",
        }
    ],
    "total_recommendations": 15,
    "estimated_total_cost": 12500.0,
    "products_without_cost": 0,
    "estimated_lost_revenue": 21800.0,
}
HEALTH_EXAMPLE = {
    **_META,
    "health_score": 78.5,
    "status": "warning",
    "metrics": {"total_products": 150, "low_stock": 8, "overstock": 3, "slow_moving": 6, "optimal": 133,
                "stock_unknown": 0},
    "score_parts": [{"alert_type": "reorder_now", "products": 5, "penalty": 1.0, "points": 3.33}],
    "recommendations": [
        "Restock 8 products with low stock",
        "Consider promotions for 3 overstocked products",
        "Apply a clearance strategy to 6 slow-moving products",
    ],
}
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
