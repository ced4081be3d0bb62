"""Response shapes of the segmentation tables, predict and apply (what the OpenAPI schema promises).

Why a module of its own: these answers are pages and row lists whose rows come straight from the
per-customer table or from a fit of posted data. The serializers document them field by field, so the
schema a client generates from has real types, while the views keep returning the rows they read (a
row may carry more keys than listed, e.g. the z-score of an extra clustering feature, and the schema
allows that).
"""
from __future__ import annotations

from rest_framework import serializers


class _Page(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True, help_text="URL of the next page")
    previous = serializers.CharField(allow_null=True, help_text="URL of the previous page")


class MemberRow(serializers.Serializer):
    customer_id = serializers.CharField()
    cluster = serializers.IntegerField()
    cluster_name = serializers.CharField()
    segment_type = serializers.CharField()
    rfm_segment = serializers.CharField(help_text="R, F and M quintile scores, 5 = best, e.g. '545'")
    rfm_name = serializers.CharField()
    recency_days = serializers.FloatField()
    frequency = serializers.IntegerField()
    monetary = serializers.FloatField()
    avg_order_value = serializers.FloatField()
    unique_products = serializers.IntegerField()
    tenure_days = serializers.FloatField()
    purchases_per_month = serializers.FloatField()
    confidence = serializers.FloatField()
    p_alive = serializers.FloatField(allow_null=True)
    expected_purchases = serializers.FloatField(allow_null=True)
    clv = serializers.FloatField(allow_null=True)


class SegmentCustomersOut(_Page):
    segment = serializers.CharField()
    calc_date = serializers.CharField(allow_null=True)
    results = MemberRow(many=True)


class RFMRow(serializers.Serializer):
    customer_id = serializers.CharField()
    recency_days = serializers.FloatField()
    frequency = serializers.IntegerField()
    monetary = serializers.FloatField()
    avg_order_value = serializers.FloatField()
    unique_products = serializers.IntegerField()
    tenure_days = serializers.FloatField()
    purchases_per_month = serializers.FloatField()
    rfm_segment = serializers.CharField()
    rfm_name = serializers.CharField()


class RFMOut(_Page):
    calc_date = serializers.CharField(allow_null=True)
    window_days = serializers.IntegerField(allow_null=True)
    explanation = serializers.CharField()
    results = RFMRow(many=True)


class StandardizedRow(serializers.Serializer):
    customer_id = serializers.CharField()
    cluster = serializers.IntegerField()
    recency_z = serializers.FloatField(required=False, help_text="one z-score per clustering feature "
                                                                 "(<feature>_z; recency_days is recency_z)")
    frequency_z = serializers.FloatField(required=False)
    monetary_z = serializers.FloatField(required=False)


class ScalerOut(serializers.Serializer):
    features = serializers.ListField(child=serializers.CharField())
    transform = serializers.CharField()
    mean = serializers.ListField(child=serializers.FloatField())
    scale = serializers.ListField(child=serializers.FloatField())


class RFMStandardizedOut(_Page):
    calc_date = serializers.CharField(allow_null=True)
    explanation = serializers.CharField()
    scaler = ScalerOut()
    results = StandardizedRow(many=True)


class PredictRow(serializers.Serializer):
    customer_id = serializers.CharField(required=False, allow_null=True,
                                        help_text="stored customers, or raw rows that sent one")
    cluster = serializers.IntegerField()
    cluster_name = serializers.CharField()
    segment_type = serializers.CharField()
    confidence_score = serializers.FloatField()
    recommendations = serializers.ListField(child=serializers.CharField(), help_text="marketing actions")
    recency_days = serializers.FloatField(required=False)
    frequency = serializers.FloatField(required=False)
    monetary = serializers.FloatField(required=False)
    clv = serializers.FloatField(required=False, allow_null=True)
    p_alive = serializers.FloatField(required=False, allow_null=True)


class PredictOut(serializers.Serializer):
    success = serializers.BooleanField()
    model_id = serializers.CharField()
    results = PredictRow(many=True)
    unknown_customer_ids = serializers.ListField(child=serializers.CharField())
    prediction_id = serializers.CharField(allow_null=True)


class KSelectionRow(serializers.Serializer):
    k = serializers.IntegerField()
    inertia = serializers.FloatField(required=False, allow_null=True)
    silhouette = serializers.FloatField(required=False, allow_null=True)
    davies_bouldin = serializers.FloatField(required=False, allow_null=True)
    calinski_harabasz = serializers.FloatField(required=False, allow_null=True)


class AssignmentRow(serializers.Serializer):
    customer_id = serializers.CharField()
    cluster = serializers.IntegerField(allow_null=True, help_text="null for a sale of a customer left out")
    cluster_name = serializers.CharField(allow_null=True)
    segment_type = serializers.CharField(allow_null=True)


class ClusterSummaryRow(serializers.Serializer):
    cluster = serializers.IntegerField()
    name = serializers.CharField()
    segment_type = serializers.CharField()
    size = serializers.IntegerField()
    mean_recency_days = serializers.FloatField()
    mean_frequency = serializers.FloatField()
    mean_monetary = serializers.FloatField()


class ApplyOut(serializers.Serializer):
    success = serializers.BooleanField()
    best_k = serializers.IntegerField()
    selection_metric = serializers.CharField()
    output_mode = serializers.ChoiceField(choices=["per_customer", "per_transaction"])
    k_selection = KSelectionRow(many=True)
    assignments = AssignmentRow(many=True, help_text="one row per customer, or per posted sale (per_transaction)")
    cluster_summary = ClusterSummaryRow(many=True)
    explanation = serializers.CharField()
    prediction_id = serializers.CharField(allow_null=True)
