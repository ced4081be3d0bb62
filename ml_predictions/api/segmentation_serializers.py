"""Input/output serializers and response examples of the segmentation API (the spec's field names)."""
from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ml_predictions.api.fields import (
    MAX_REQUEST_DATE,
    MIN_REQUEST_DATE,
    BoundedDateField,
    StrictInputSerializer,
)
from ml_predictions.estimators.segmentation.segmenter import SELECTION_METRICS

PLOT_TYPES = ("pca", "frequency_monetary", "recency_frequency", "recency_monetary")
MAX_APPLY_ROWS = 100_000


# --- serializers ------------------------------------------------------------------------------------------


@extend_schema_field({"oneOf": [{"type": "integer", "minimum": 2, "maximum": 50},
                                {"type": "string", "enum": ["auto"]}], "default": "auto"})
class NClustersField(serializers.Field):
    """An integer 2..50 or the string "auto"."""

    def to_internal_value(self, data: Any) -> int | str:
        if isinstance(data, str) and data.strip().lower() == "auto":
            return "auto"
        if isinstance(data, bool):
            raise serializers.ValidationError('n_clusters must be an integer between 2 and 50 or "auto".')
        try:
            value = int(data)
        except (TypeError, ValueError) as exc:
            raise serializers.ValidationError('n_clusters must be an integer between 2 and 50 or "auto".') from exc
        if str(value) != str(data).strip() and not isinstance(data, int):
            raise serializers.ValidationError('n_clusters must be an integer between 2 and 50 or "auto".')
        if not 2 <= value <= 50:
            raise serializers.ValidationError(f"n_clusters must be between 2 and 50; got {value}.")
        return value

    def to_representation(self, value: Any) -> Any:
        return value


class TrainInput(StrictInputSerializer):
    n_clusters = NClustersField(required=False, default="auto")
    min_clusters = serializers.IntegerField(required=False, min_value=2, max_value=50,
                                            help_text="lowest k tried by auto (default: the MIN_CLUSTERS setting, 4)")
    max_clusters = serializers.IntegerField(required=False, min_value=2, max_value=50,
                                            help_text="highest k tried by auto (default: the MAX_CLUSTERS setting, 8)")
    selection_metric = serializers.ChoiceField(choices=SELECTION_METRICS, required=False)
    calc_date = BoundedDateField(required=False, allow_null=True)
    window_days = serializers.IntegerField(required=False, min_value=1, max_value=3650)
    include_customers_without_orders = serializers.BooleanField(required=False, allow_null=True, default=None)
    use_pca = serializers.BooleanField(required=False, default=False)
    pca_components = serializers.IntegerField(required=False, min_value=1, max_value=3, allow_null=True)
    features = serializers.ListField(
        child=serializers.ChoiceField(choices=["recency_days", "frequency", "monetary", "unique_products",
                                               "avg_order_value", "purchases_per_month", "tenure_days"]),
        required=False, min_length=2, max_length=7)
    clv_horizon_months = serializers.IntegerField(required=False, min_value=1, max_value=120)
    clv_monthly_discount_rate = serializers.FloatField(required=False, min_value=0.0, max_value=1.0)
    clv_holdout_days = serializers.IntegerField(
        required=False, min_value=1, max_value=3650,
        help_text="last N days held out to choose the CLV model (default: the CLV_HOLDOUT_DAYS setting)")
    warm_start = serializers.BooleanField(required=False, default=True,
                                          help_text="start from the active run's centroids when k matches")


class CharacteristicsOut(serializers.Serializer):
    recency_days = serializers.FloatField()
    total_orders = serializers.IntegerField()
    total_spent = serializers.FloatField()
    avg_order_value = serializers.FloatField()
    purchase_frequency_monthly = serializers.FloatField()
    unique_products = serializers.IntegerField()
    tenure_days = serializers.FloatField()


class CustomerSegmentOut(serializers.Serializer):
    """The spec's customer-segment response (field names kept)."""

    success = serializers.BooleanField()
    customer_id = serializers.CharField()
    cluster = serializers.IntegerField()
    cluster_name = serializers.CharField()
    segment_type = serializers.CharField()
    confidence_score = serializers.FloatField()
    characteristics = CharacteristicsOut()
    lifetime_value_prediction = serializers.FloatField(
        allow_null=True, help_text="the selected CLV model's discounted revenue over CLV_HORIZON_MONTHS")
    probability_alive = serializers.FloatField(allow_null=True, help_text="BG/NBD P(alive)")
    expected_purchases_30d = serializers.FloatField(allow_null=True)
    rfm_segment = serializers.CharField()
    rfm_name = serializers.CharField()
    recommendations = serializers.ListField(child=serializers.CharField())
    calc_date = serializers.CharField()
    model_id = serializers.CharField()


class SegmentOut(serializers.Serializer):
    cluster = serializers.IntegerField()
    name = serializers.CharField()
    segment_type = serializers.CharField()
    size = serializers.IntegerField()
    customer_share = serializers.FloatField()
    revenue_share = serializers.FloatField()
    revenue = serializers.FloatField()
    mean_recency_days = serializers.FloatField()
    mean_frequency = serializers.FloatField()
    mean_monetary = serializers.FloatField()
    mean_clv = serializers.FloatField(allow_null=True)
    mean_p_alive = serializers.FloatField(allow_null=True)
    recommendations = serializers.ListField(child=serializers.CharField())


class SegmentsOut(serializers.Serializer):
    success = serializers.BooleanField()
    model_id = serializers.CharField()
    calc_date = serializers.CharField(allow_null=True)
    n_customers = serializers.IntegerField()
    selection_metric = serializers.CharField(allow_null=True)
    silhouette_score = serializers.FloatField(allow_null=True)
    segments = SegmentOut(many=True)


class RunQuery(serializers.Serializer):
    calc_date = BoundedDateField(required=False)


class RawRFM(serializers.Serializer):
    customer_id = serializers.CharField(required=False, max_length=64)
    recency_days = serializers.FloatField(min_value=0)
    frequency = serializers.FloatField(min_value=0)
    monetary = serializers.FloatField(min_value=0)
    unique_products = serializers.FloatField(min_value=0, required=False)
    avg_order_value = serializers.FloatField(min_value=0, required=False)
    purchases_per_month = serializers.FloatField(min_value=0, required=False)
    tenure_days = serializers.FloatField(min_value=0, required=False)

    def to_internal_value(self, data: Any) -> Any:
        # the raw-RFM variant of the spec sends {"Recency": .., "Frequency": .., "Monetary": .., "Unique_Products": ..}
        if isinstance(data, dict):
            data = {str(k).lower(): v for k, v in data.items()}
            if "recency" in data and "recency_days" not in data:
                data["recency_days"] = data.pop("recency")
        return super().to_internal_value(data)


class PredictInput(serializers.Serializer):
    customer_ids = serializers.ListField(child=serializers.CharField(max_length=64), required=False,
                                         min_length=1, max_length=10_000)
    customers = RawRFM(many=True, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if bool(attrs.get("customer_ids")) == bool(attrs.get("customers")):
            raise serializers.ValidationError(
                {"customer_ids": ["send either customer_ids (stored customers) or customers (raw RFM values)."]})
        if attrs.get("customers") is not None and len(attrs["customers"]) > 10_000:
            raise serializers.ValidationError({"customers": ["at most 10000 rows per request."]})
        return attrs


class SaleRow(serializers.Serializer):
    sale_id = serializers.CharField(required=False, max_length=64)
    customer_id = serializers.CharField(max_length=64)
    date = serializers.DateTimeField(input_formats=["iso-8601", "%Y-%m-%d"])
    amount = serializers.FloatField(min_value=0)
    product = serializers.CharField(required=False, allow_blank=True, max_length=200)
    channel = serializers.CharField(required=False, allow_blank=True, max_length=64)

    def validate_date(self, value: Any) -> Any:
        # a sale dated 0101 or 7353 would overflow the day arithmetic into a 500 (found by the API fuzz)
        if not MIN_REQUEST_DATE <= value.date() <= MAX_REQUEST_DATE:
            raise serializers.ValidationError(
                f"must be between {MIN_REQUEST_DATE.isoformat()} and {MAX_REQUEST_DATE.isoformat()}.")
        return value


class ApplyRFM(serializers.Serializer):
    customer_id = serializers.CharField(max_length=64)
    recency_days = serializers.FloatField(min_value=0)
    frequency = serializers.FloatField(min_value=0)
    monetary = serializers.FloatField(min_value=0)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict) and "recency" in data and "recency_days" not in data:
            data = {**data, "recency_days": data["recency"]}
        return super().to_internal_value(data)


class ApplyInput(serializers.Serializer):
    sales = SaleRow(many=True, required=False)
    rfm = ApplyRFM(many=True, required=False)
    selection_metric = serializers.ChoiceField(choices=SELECTION_METRICS, default="silhouette")
    output_mode = serializers.ChoiceField(choices=["per_customer", "per_transaction"], default="per_customer")
    n_clusters = NClustersField(required=False, default="auto")
    # a stateless "which k fits these rows" tool (the spec's apply request tries k from 2), not the
    # shop-wide business range of training
    min_clusters = serializers.IntegerField(required=False, min_value=2, max_value=50, default=2)
    max_clusters = serializers.IntegerField(required=False, min_value=2, max_value=50, default=10)
    calc_date = BoundedDateField(required=False)
    window_days = serializers.IntegerField(required=False, min_value=1, max_value=36500, default=36500)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        sales, rfm = attrs.get("sales"), attrs.get("rfm")
        if bool(sales) == bool(rfm):
            raise serializers.ValidationError({"sales": ["send either sales (raw transactions) or rfm rows."]})
        if len(sales or rfm) > MAX_APPLY_ROWS:
            raise serializers.ValidationError({"sales" if sales else "rfm": [f"at most {MAX_APPLY_ROWS} rows."]})
        if rfm and attrs["output_mode"] == "per_transaction":
            raise serializers.ValidationError(
                {"output_mode": ["per_transaction needs sales rows; with rfm use per_customer."]})
        return attrs


class PlotQuery(serializers.Serializer):
    type = serializers.ChoiceField(choices=PLOT_TYPES, default="pca")
    calc_date = BoundedDateField(required=False)
    max_points = serializers.IntegerField(required=False, min_value=100, max_value=50_000, default=5000)


TRAIN_EXAMPLE = {
    "success": True,
    "message": "Customer segmentation trained successfully",
    "model_id": "3c32ac02-6db0-4d6f-9152-deff00ebba88",
    "version": 1,
    "metrics": {
        "n_clusters": 6, "n_customers": 250, "silhouette_score": 0.51, "davies_bouldin": 0.79,
        "calinski_harabasz": 627.8, "inertia": 77.1,
        "cluster_sizes": {"0": 50, "1": 40, "2": 60, "3": 30, "4": 45, "5": 25},
        "cluster_names": {"0": "vip", "1": "frequent", "2": "occasional", "3": "at_risk", "4": "new",
                          "5": "inactive"},
        "k_selection": [{"k": 6, "inertia": 77.1, "silhouette": 0.51, "davies_bouldin": 0.79,
                         "calinski_harabasz": 627.8}],
        "calc_date": "2026-07-01", "window_days": 365, "clv_method": "bgnbd_gamma_gamma",
    },
    "duration_seconds": 1.2,
    "training_log_id": "2735e923-ce60-4ffb-b370-4208969daf4f",
}


CUSTOMER_EXAMPLE = {
    "success": True,
    "customer_id": "04b6c135-b0f3-48d5-9d04-d999ce43ebe4",
    "cluster": 0,
    "cluster_name": "vip",
    "segment_type": "vip",
    "confidence_score": 0.85,
    "characteristics": {"recency_days": 5, "total_orders": 15, "total_spent": 3500.0, "avg_order_value": 233.33,
                        "purchase_frequency_monthly": 1.25, "unique_products": 12, "tenure_days": 540.0},
    "lifetime_value_prediction": 8400.0,
    "probability_alive": 0.97,
    "expected_purchases_30d": 1.1,
    "rfm_segment": "545",
    "rfm_name": "champions",
    "recommendations": ["Offer exclusive VIP discounts", "Early access to new collections",
                        "Premium loyalty programme"],
    "calc_date": "2026-07-01",
    "model_id": "3c32ac02-6db0-4d6f-9152-deff00ebba88",
}


SEGMENTS_EXAMPLE = {
    "success": True,
    "model_id": "3c32ac02-6db0-4d6f-9152-deff00ebba88",
    "calc_date": "2026-07-01",
    "n_customers": 300,
    "segments": [{"cluster": 0, "name": "vip", "segment_type": "vip", "size": 40, "customer_share": 0.133,
                  "revenue_share": 0.41, "mean_recency_days": 12.5, "mean_frequency": 14.2,
                  "mean_monetary": 6120.4, "mean_clv": 5400.2, "mean_p_alive": 0.96,
                  "recommendations": ["Offer exclusive VIP discounts"]}],
}
