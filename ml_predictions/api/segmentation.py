"""API routes and views of the segmentation capability (seed 004's segmentation, plus seeds 000–003).

Each view validates with its input serializer, calls one workflow/service function and shapes the
answer. Reads of a run go through the per-customer table (one indexed query per request); the artifact
is only loaded where the fitted pipeline is needed (predict from raw RFM, standardized RFM, PCA plot).
"""
from __future__ import annotations

import csv
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from django.db.models import Avg, Count, Sum
from django.http import StreamingHttpResponse
from django.urls import URLPattern, path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from ml_predictions.api import segment_diagnostics, segment_history
from ml_predictions.api.base import MLAPIView
from ml_predictions.api.pagination import StandardPagination
from ml_predictions.api.plots import new_figure, png_response
from ml_predictions.api.training import TRAIN_RESPONSES, training_response
from ml_predictions.capabilities.segmentation.selectors import marketing_actions, resolve_run, segments_filter
from ml_predictions.capabilities.segmentation.services import (
    MAX_RECORDED_RESULTS,
    frame_for_apply,
    record_batch_prediction,
    record_customer_lookup,
)
from ml_predictions.capabilities.segmentation.trainer import build_segmenter
from ml_predictions.data import canonical_id
from ml_predictions.errors import InvalidParameterError, NotFoundError
from ml_predictions.estimators.segmentation.segmenter import (
    SELECTION_METRICS,
    confidence_from_distances,
    rfm_from_transactions,
)
from ml_predictions.exports import safe_row
from ml_predictions.models import CustomerSegmentAssignment, MLModel, ModelType
from ml_predictions.training.registry import load_artifact

PLOT_TYPES = ("pca", "frequency_monetary", "recency_frequency", "recency_monetary")
CUSTOMER_FIELDS = [
    "customer_id", "cluster", "cluster_name", "segment_type", "rfm_segment", "rfm_name", "recency_days",
    "frequency", "monetary", "avg_order_value", "unique_products", "tenure_days", "purchases_per_month",
    "confidence", "p_alive", "expected_purchases", "clv",
]
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


class TrainInput(serializers.Serializer):
    n_clusters = NClustersField(required=False, default="auto")
    min_clusters = serializers.IntegerField(required=False, min_value=2, max_value=50,
                                            help_text="lowest k tried by auto (default: the MIN_CLUSTERS setting, 4)")
    max_clusters = serializers.IntegerField(required=False, min_value=2, max_value=50,
                                            help_text="highest k tried by auto (default: the MAX_CLUSTERS setting, 8)")
    selection_metric = serializers.ChoiceField(choices=SELECTION_METRICS, required=False)
    calc_date = serializers.DateField(required=False, allow_null=True)
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


class RunQuery(serializers.Serializer):
    calc_date = serializers.DateField(required=False)


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
        # seed 002 sends {"Recency": .., "Frequency": .., "Monetary": .., "Unique_Products": ..}
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
    calc_date = serializers.DateField(required=False)
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
    calc_date = serializers.DateField(required=False)
    max_points = serializers.IntegerField(required=False, min_value=100, max_value=50_000, default=5000)


# --- helpers ---------------------------------------------------------------------------------------------


def _run(request: Request) -> MLModel:
    query = RunQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    return resolve_run(query.validated_data.get("calc_date"))


def _row_payload(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in CUSTOMER_FIELDS if k in row}


def _segmenter(model: MLModel) -> Any:
    return load_artifact(model)["segmenter"]


# --- views -------------------------------------------------------------------------------------------------

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


class TrainSegmentationView(MLAPIView):
    @extend_schema(
        summary="Train the customer segmentation (RFM + K-means + BG/NBD CLV)",
        request=TrainInput,
        responses=TRAIN_RESPONSES,
        examples=[
            OpenApiExample("Fixed k (seed 004)", value={"n_clusters": 6}, request_only=True),
            OpenApiExample("Automatic k", value={"n_clusters": "auto", "selection_metric": "davies_bouldin",
                                                 "calc_date": "2026-07-01", "window_days": 365},
                           request_only=True),
            OpenApiExample("Trained", value=TRAIN_EXAMPLE, response_only=True, status_codes=["200"]),
        ],
    )
    def post(self, request: Request) -> Response:
        data = TrainInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in data.validated_data.items()
                  if v is not None}
        return training_response(request, ModelType.CUSTOMER_SEGMENTATION, params)


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


class CustomerSegmentView(MLAPIView):
    @extend_schema(
        summary="Segment of one customer (seed 004)",
        parameters=[OpenApiParameter("calc_date", OpenApiTypes.DATE, description="a past run; default active")],
        responses={200: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT},
        examples=[OpenApiExample("Customer", value=CUSTOMER_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, customer_id: str) -> Response:
        query = RunQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        model = resolve_run(query.validated_data.get("calc_date"))
        customer_id = canonical_id(customer_id)
        row = CustomerSegmentAssignment.objects.filter(model=model, customer_id=customer_id).values().first()
        if row is None:
            raise NotFoundError(f"Customer {customer_id} is not in the segmentation of {model.metrics.get('calc_date')}"
                                " (unknown customer, or created after that run).", field="customer_id")
        body = {
            "success": True,
            "customer_id": row["customer_id"],
            "cluster": row["cluster"],
            "cluster_name": row["cluster_name"],
            "segment_type": row["segment_type"],
            "confidence_score": row["confidence"],
            "characteristics": {
                "recency_days": row["recency_days"],
                "total_orders": row["frequency"],
                "total_spent": row["monetary"],
                "avg_order_value": row["avg_order_value"],
                "purchase_frequency_monthly": row["purchases_per_month"],
                "unique_products": row["unique_products"],
                "tenure_days": row["tenure_days"],
            },
            "lifetime_value_prediction": row["clv"],
            "probability_alive": row["p_alive"],
            "expected_purchases_30d": row["expected_purchases"],
            "rfm_segment": row["rfm_segment"],
            "rfm_name": row["rfm_name"],
            "recommendations": marketing_actions(row["segment_type"]),
            "calc_date": row["calc_date"].isoformat(),
            "model_id": str(model.pk),
        }
        record_customer_lookup(model, body, calc_date=query.validated_data.get("calc_date"), user=request.user)
        return Response(body)


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


class SegmentsView(MLAPIView):
    @extend_schema(
        summary="Per-segment summary: size, share of customers and revenue, mean R/F/M (seeds 000/001)",
        parameters=[OpenApiParameter("calc_date", OpenApiTypes.DATE, description="a past run; default active")],
        responses={200: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT},
        examples=[OpenApiExample("Segments", value=SEGMENTS_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        model = _run(request)
        rows = list(CustomerSegmentAssignment.objects.filter(model=model)
                    .values("cluster", "cluster_name", "segment_type")
                    .annotate(size=Count("id"), revenue=Sum("monetary"), mean_recency_days=Avg("recency_days"),
                              mean_frequency=Avg("frequency"), mean_monetary=Avg("monetary"), mean_clv=Avg("clv"),
                              mean_p_alive=Avg("p_alive"))
                    .order_by("cluster"))
        n = sum(r["size"] for r in rows) or 1
        revenue = sum(r["revenue"] or 0 for r in rows) or 1.0
        segments = [{
            "cluster": r["cluster"], "name": r["cluster_name"], "segment_type": r["segment_type"], "size": r["size"],
            "customer_share": round(r["size"] / n, 4), "revenue_share": round((r["revenue"] or 0) / revenue, 4),
            "revenue": round(r["revenue"] or 0, 2),
            "mean_recency_days": round(r["mean_recency_days"], 2), "mean_frequency": round(r["mean_frequency"], 3),
            "mean_monetary": round(r["mean_monetary"], 2),
            "mean_clv": None if r["mean_clv"] is None else round(r["mean_clv"], 2),
            "mean_p_alive": None if r["mean_p_alive"] is None else round(r["mean_p_alive"], 4),
            "recommendations": marketing_actions(r["segment_type"]),
        } for r in rows]
        return Response({"success": True, "model_id": str(model.pk), "calc_date": model.metrics.get("calc_date"),
                         "n_customers": n if rows else 0, "selection_metric": model.metrics.get("selection_metric"),
                         "silhouette_score": model.metrics.get("silhouette_score"), "segments": segments})


class SegmentCustomersView(MLAPIView):
    @extend_schema(
        summary="Customers of one segment, paginated (seed 001)",
        parameters=[
            OpenApiParameter("segment", OpenApiTypes.STR, OpenApiParameter.PATH,
                             description="cluster name (vip, frequent_2), segment type or cluster number"),
            OpenApiParameter("page", OpenApiTypes.INT), OpenApiParameter("page_size", OpenApiTypes.INT),
            OpenApiParameter("calc_date", OpenApiTypes.DATE),
        ],
        responses={200: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT},
        examples=[OpenApiExample("Page", value={"count": 40, "next": None, "previous": None, "segment": "vip",
                                                "results": [{"customer_id": "c-1", "cluster": 0,
                                                             "cluster_name": "vip", "segment_type": "vip",
                                                             "recency_days": 4.0, "frequency": 15,
                                                             "monetary": 3500.0, "clv": 8400.0}]},
                                 response_only=True)],
    )
    def get(self, request: Request, segment: str) -> Response:
        model = _run(request)
        qs = (CustomerSegmentAssignment.objects.filter(model=model, **segments_filter(model, segment))
              .order_by("-monetary", "customer_id").values(*CUSTOMER_FIELDS))
        paginator = StandardPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        response = paginator.get_paginated_response([_row_payload(r) for r in page])
        response.data["segment"] = segment
        response.data["calc_date"] = model.metrics.get("calc_date")
        return response


class _Echo:
    def write(self, value: str) -> str:
        return value


class SegmentExportView(MLAPIView):
    @extend_schema(
        summary="Export one segment's customers as CSV (seed 001)",
        parameters=[OpenApiParameter("segment", OpenApiTypes.STR, OpenApiParameter.PATH),
                    OpenApiParameter("calc_date", OpenApiTypes.DATE)],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV, one row per customer",
                                                       examples=[OpenApiExample(
                                                           "CSV", value="customer_id,cluster,cluster_name,...\n")]),
                   404: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, segment: str) -> StreamingHttpResponse:
        model = _run(request)
        qs = (CustomerSegmentAssignment.objects.filter(model=model, **segments_filter(model, segment))
              .order_by("-monetary", "customer_id").values_list(*CUSTOMER_FIELDS))
        writer = csv.writer(_Echo())

        def rows() -> Any:
            yield writer.writerow(CUSTOMER_FIELDS)
            for row in qs.iterator(chunk_size=5000):
                yield writer.writerow(safe_row(row))

        response = StreamingHttpResponse(rows(), content_type="text/csv")
        calc = model.metrics.get("calc_date", "run")
        response["Content-Disposition"] = f'attachment; filename="segment_{segment}_{calc}.csv"'
        return response


class SegmentPredictView(MLAPIView):
    @extend_schema(
        summary="Segment of stored customers (seed 000) or of raw RFM values (seed 002), from the active model",
        request=PredictInput,
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT,
                   409: OpenApiTypes.OBJECT},
        examples=[
            OpenApiExample("By customer id", value={"customer_ids": ["04b6c135-b0f3-48d5-9d04-d999ce43ebe4"]},
                           request_only=True),
            OpenApiExample("Raw RFM", value={"customers": [{"recency_days": 15, "frequency": 50, "monetary": 1200.5,
                                                            "unique_products": 10}]}, request_only=True),
            OpenApiExample("Result", value={"success": True, "results": [
                {"recency_days": 15, "frequency": 50, "monetary": 1200.5, "cluster": 0, "cluster_name": "vip",
                 "segment_type": "vip", "confidence_score": 0.71}], "unknown_customer_ids": [],
                "prediction_id": "5d0c9f7e-2a41-4c3b-9d8e-0f6b1a2c3d4e"},
                response_only=True),
        ],
    )
    def post(self, request: Request) -> Response:
        data = PredictInput(data=request.data)
        data.is_valid(raise_exception=True)
        model = resolve_run(None)
        ids = [canonical_id(i) for i in data.validated_data.get("customer_ids") or []]
        if ids:
            rows = {r["customer_id"]: r for r in CustomerSegmentAssignment.objects.filter(
                model=model, customer_id__in=ids).values(*CUSTOMER_FIELDS)}
            unknown = [i for i in dict.fromkeys(ids) if i not in rows]
            if not rows:
                raise NotFoundError(f"None of the customer ids are in the active segmentation: {unknown[:10]}.",
                                    field="customer_ids")
            results = [{**_row_payload(rows[i]), "confidence_score": rows[i]["confidence"],
                        "recommendations": marketing_actions(rows[i]["segment_type"])}
                       for i in dict.fromkeys(ids) if i in rows]
            recorded = pd.DataFrame(results, columns=[
                "customer_id", "cluster", "segment_type", "confidence_score", "clv", "p_alive"])
            prediction = record_batch_prediction(
                model=model, endpoint="predict", results=recorded, user=request.user,
                inputs={"mode": "customer_ids", "n": len(ids), "unknown_customer_ids": unknown[:MAX_RECORDED_RESULTS]})
            return Response({"success": True, "model_id": str(model.pk), "results": results,
                             "unknown_customer_ids": unknown, "prediction_id": str(prediction.pk)})
        seg = _segmenter(model)
        frame = pd.DataFrame(data.validated_data["customers"])
        missing = [f for f in seg.features if f not in frame or frame[f].isna().any()]
        if missing:
            raise InvalidParameterError(f"the active model also needs {', '.join(missing)} for every customer.",
                                        field=f"customers.{missing[0]}")
        distances = seg.transform(frame)
        labels = np.argmin(distances, axis=1)
        conf = confidence_from_distances(distances)
        results = []
        for i, rec in enumerate(data.validated_data["customers"]):
            label = int(labels[i])
            kind = seg.segment_types_[label]
            results.append({**rec, "cluster": label, "cluster_name": seg.cluster_names_[label],
                            "segment_type": kind, "confidence_score": round(float(conf[i]), 4),
                            "recommendations": marketing_actions(kind)})
        recorded = pd.DataFrame({
            "customer_id": frame["customer_id"] if "customer_id" in frame else None,
            "cluster": labels.astype(int),
            "segment_type": [seg.segment_types_[int(label)] for label in labels],
            "confidence_score": np.round(conf.astype(float), 4),
        })
        sent = frame.iloc[:MAX_RECORDED_RESULTS]
        prediction = record_batch_prediction(
            model=model, endpoint="predict", results=recorded, user=request.user,
            inputs={"mode": "rfm", "n": len(frame), "columns": list(sent.columns),
                    "rows": sent.to_numpy().tolist()})
        return Response({"success": True, "model_id": str(model.pk), "results": results,
                         "unknown_customer_ids": [], "prediction_id": str(prediction.pk)})


class SegmentApplyView(MLAPIView):
    @extend_schema(
        summary="Stateless segmentation of posted data with automatic k (seed 003); no model is stored, the "
                "call is recorded as a Prediction row",
        request=ApplyInput,
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 422: OpenApiTypes.OBJECT},
        examples=[
            OpenApiExample("Raw sales", request_only=True, value={
                "sales": [{"sale_id": 1, "customer_id": 101, "date": "2025-01-05", "amount": 120, "product": "Laptop",
                           "channel": "Online"},
                          {"sale_id": 2, "customer_id": 101, "date": "2025-02-10", "amount": 80, "product": "Mouse",
                           "channel": "Store"}],
                "selection_metric": "silhouette", "output_mode": "per_transaction"}),
            OpenApiExample("Precomputed RFM", request_only=True, value={
                "rfm": [{"customer_id": 101, "recency_days": 20, "frequency": 5, "monetary": 500.0},
                        {"customer_id": 102, "recency_days": 10, "frequency": 3, "monetary": 350.0},
                        {"customer_id": 103, "recency_days": 30, "frequency": 2, "monetary": 120.0},
                        {"customer_id": 104, "recency_days": 5, "frequency": 8, "monetary": 1000.0}],
                "selection_metric": "silhouette", "output_mode": "per_customer"}),
            OpenApiExample("Result", response_only=True, value={
                "success": True, "best_k": 2, "selection_metric": "silhouette", "output_mode": "per_customer",
                "k_selection": [{"k": 2, "inertia": 1.2, "silhouette": 0.61, "davies_bouldin": 0.4,
                                 "calinski_harabasz": 12.0}],
                "assignments": [{"customer_id": "101", "cluster": 0, "cluster_name": "vip", "segment_type": "vip",
                                 "recency_days": 20, "frequency": 5, "monetary": 500.0}],
                "cluster_summary": [{"cluster": 0, "name": "vip", "segment_type": "vip", "size": 2,
                                     "mean_recency_days": 12.5, "mean_frequency": 6.5, "mean_monetary": 750.0}],
                "explanation": "k from 2 to 3 was tried; ...",
                "prediction_id": "8a1e2b3c-4d5e-4f60-8172-93a4b5c6d7e8"}),
        ],
    )
    def post(self, request: Request) -> Response:
        data = ApplyInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if v.get("sales"):
            sales = pd.DataFrame(v["sales"])
            sales["customer_id"] = sales["customer_id"].astype(str)
            rfm = rfm_from_transactions(sales, calc_date=v.get("calc_date"), window_days=v["window_days"])
        else:
            raw = pd.DataFrame(v["rfm"])
            if raw["customer_id"].duplicated().any():
                raise InvalidParameterError("rfm rows must have distinct customer_id values.", field="rfm")
            rfm = raw.set_index("customer_id")
        seg = build_segmenter({"n_clusters": v["n_clusters"], "selection_metric": v["selection_metric"],
                               "min_clusters": v["min_clusters"], "max_clusters": v["max_clusters"]})
        seg.fit(rfm)
        per_customer = frame_for_apply(seg, rfm)
        summary = (per_customer.groupby(["cluster", "cluster_name", "segment_type"])
                   .agg(size=("customer_id", "size"), mean_recency_days=("recency_days", "mean"),
                        mean_frequency=("frequency", "mean"), mean_monetary=("monetary", "mean"))
                   .reset_index().round(3).rename(columns={"cluster_name": "name"}))
        if v["output_mode"] == "per_transaction":
            sales = pd.DataFrame(v["sales"])
            sales["customer_id"] = sales["customer_id"].astype(str)
            sales["date"] = sales["date"].map(lambda d: d.isoformat())
            assignments = sales.merge(per_customer[["customer_id", "cluster", "cluster_name", "segment_type"]],
                                      on="customer_id", how="left")
            assignments["cluster"] = assignments["cluster"].astype("Int64")
            assignments = assignments.astype(object).where(assignments.notna(), None)
        else:
            assignments = per_customer
        ks = [row["k"] for row in seg.k_table_]
        explanation = (
            f"RFM was {'computed from the transactions' if v.get('sales') else 'taken as given'} for "
            f"{len(rfm)} customers, log-transformed and standardized; K-means was run for k in "
            f"{min(ks)}..{max(ks)} and k={seg.n_clusters_} was chosen by {v['selection_metric']} "
            f"({'higher' if v['selection_metric'] != 'davies_bouldin' else 'lower'} is better). "
            "Clusters are named from their centroids' recency, frequency and monetary profile.")
        k_selection = [{k: (round(x, 4) if isinstance(x, float) else x) for k, x in r.items()} for r in seg.k_table_]
        cluster_summary = summary.to_dict(orient="records")
        prediction = record_batch_prediction(
            model=None, endpoint="apply", user=request.user,
            results=per_customer[["customer_id", "cluster", "segment_type"]],
            inputs={"source": "sales" if v.get("sales") else "rfm", "rows": len(v.get("sales") or v.get("rfm")),
                    "customers": len(rfm), "selection_metric": v["selection_metric"], "n_clusters": v["n_clusters"],
                    "calc_date": v["calc_date"].isoformat() if v.get("calc_date") else None,
                    "window_days": v["window_days"], "output_mode": v["output_mode"]},
            extra_output={"best_k": int(seg.n_clusters_), "k_selection": k_selection,
                          "cluster_summary": cluster_summary})
        return Response({
            "success": True, "best_k": int(seg.n_clusters_), "selection_metric": v["selection_metric"],
            "output_mode": v["output_mode"],
            "k_selection": k_selection,
            "assignments": assignments.to_dict(orient="records"),
            "cluster_summary": cluster_summary,
            "explanation": explanation,
            "prediction_id": str(prediction.pk),
        })


RFM_EXPLANATION = (
    "RFM describes each customer by Recency (days since the last order before calc_date), Frequency (number "
    "of orders in the window of window_days days) and Monetary (total spent in that window). Customers "
    "without orders in the window have recency = window_days + 1 and frequency = monetary = 0. rfm_segment "
    "is the quintile score (5 = best) of R, F and M in that order, e.g. '545'.")
STANDARDIZED_EXPLANATION = (
    "The clustering input: each feature is log1p-transformed (money and counts are heavy-tailed) and then "
    "standardized to z-scores (mean 0, standard deviation 1 over the training customers) with StandardScaler, "
    "so recency in days, order counts and money weigh the same. A z of +1 means one standard deviation above "
    "the average customer; for recency, positive means longer since the last order.")


class RFMView(MLAPIView):
    @extend_schema(
        summary="RFM table of the run, paginated, with an explanation (seed 003)",
        parameters=[OpenApiParameter("page", OpenApiTypes.INT), OpenApiParameter("page_size", OpenApiTypes.INT),
                    OpenApiParameter("calc_date", OpenApiTypes.DATE)],
        responses={200: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT},
        examples=[OpenApiExample("RFM", response_only=True, value={
            "count": 300, "next": None, "previous": None, "calc_date": "2026-07-01", "window_days": 365,
            "explanation": RFM_EXPLANATION,
            "results": [{"customer_id": "c-1", "recency_days": 8.1, "frequency": 7, "monetary": 2527.9,
                         "rfm_segment": "544", "rfm_name": "champions"}]})],
    )
    def get(self, request: Request) -> Response:
        model = _run(request)
        qs = (CustomerSegmentAssignment.objects.filter(model=model).order_by("customer_id")
              .values("customer_id", "recency_days", "frequency", "monetary", "avg_order_value", "unique_products",
                      "tenure_days", "purchases_per_month", "rfm_segment", "rfm_name"))
        paginator = StandardPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        response = paginator.get_paginated_response(list(page))
        response.data.update({"calc_date": model.metrics.get("calc_date"),
                              "window_days": model.metrics.get("window_days"), "explanation": RFM_EXPLANATION})
        return response


class RFMStandardizedView(MLAPIView):
    @extend_schema(
        summary="Standardized RFM (the clustering input) with an explanation (seed 003)",
        parameters=[OpenApiParameter("page", OpenApiTypes.INT), OpenApiParameter("page_size", OpenApiTypes.INT),
                    OpenApiParameter("calc_date", OpenApiTypes.DATE)],
        responses={200: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT},
        examples=[OpenApiExample("Standardized", response_only=True, value={
            "count": 300, "next": None, "previous": None, "explanation": STANDARDIZED_EXPLANATION,
            "scaler": {"mean": [3.1, 1.6, 6.9], "scale": [1.2, 0.6, 1.4], "features": ["recency_days", "frequency",
                                                                                   "monetary"]},
            "results": [{"customer_id": "c-1", "recency_z": -0.82, "frequency_z": 0.9, "monetary_z": 0.71,
                         "cluster": 0}]})],
    )
    def get(self, request: Request) -> Response:
        model = _run(request)
        seg = _segmenter(model)
        qs = (CustomerSegmentAssignment.objects.filter(model=model).order_by("customer_id")
              .values("customer_id", "cluster", *[f for f in dict.fromkeys(("recency_days", "frequency", "monetary",
                                                                          *seg.features))]))
        paginator = StandardPagination()
        page = list(paginator.paginate_queryset(qs, request, view=self))
        results: list[dict[str, Any]] = []
        if page:
            frame = pd.DataFrame(page)
            z = seg.transform_scaled(frame)
            names = [("recency" if f == "recency_days" else f) + "_z" for f in seg.features]
            zf = pd.DataFrame(np.round(z, 4), columns=names)
            zf.insert(0, "customer_id", frame["customer_id"])
            zf["cluster"] = frame["cluster"]
            results = zf.to_dict(orient="records")
        response = paginator.get_paginated_response(results)
        response.data.update({
            "calc_date": model.metrics.get("calc_date"), "explanation": STANDARDIZED_EXPLANATION,
            "scaler": {"features": list(seg.features), "transform": "log1p",
                       "mean": [round(float(x), 6) for x in seg.scaler_.mean_],
                       "scale": [round(float(x), 6) for x in seg.scaler_.scale_]},
        })
        return response


class SegmentPlotView(MLAPIView):
    @extend_schema(
        summary="Scatter plot of customers coloured by segment (PNG; seeds 000–003)",
        parameters=[OpenApiParameter("type", OpenApiTypes.STR, enum=list(PLOT_TYPES), default="pca"),
                    OpenApiParameter("calc_date", OpenApiTypes.DATE),
                    OpenApiParameter("max_points", OpenApiTypes.INT, description="random sample size (100..50000)")],
        responses={(200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="PNG image"),
                   400: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT},
        examples=[OpenApiExample(
            "Unknown plot type", status_codes=["400"], response_only=True,
            value={"success": False, "error": {"code": "invalid", "message": "type: \"bubbles\" is not a valid choice.",
                                               "fields": {"type": ["\"bubbles\" is not a valid choice."]}}},
        )],
    )
    def get(self, request: Request) -> Any:
        query = PlotQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        kind = query.validated_data["type"]
        model = resolve_run(query.validated_data.get("calc_date"))
        seg = _segmenter(model)
        fields = list(dict.fromkeys(("recency_days", "frequency", "monetary", *seg.features)))
        frame = pd.DataFrame(list(CustomerSegmentAssignment.objects.filter(model=model)
                                  .values("cluster_name", *fields)))
        if frame.empty:
            raise NotFoundError("This segmentation run has no stored customers to plot.")
        limit = query.validated_data["max_points"]
        if len(frame) > limit:
            frame = frame.sample(n=limit, random_state=0)
        fig, ax = new_figure()
        if kind == "pca":
            from sklearn.decomposition import PCA

            z = seg.transform_scaled(frame)
            pca = PCA(n_components=2, random_state=0).fit(z)
            xy = pca.transform(z)
            frame["x"], frame["y"] = xy[:, 0], xy[:, 1]
            var = pca.explained_variance_ratio_
            xlabel, ylabel = f"PC1 ({var[0]:.0%} of variance)", f"PC2 ({var[1]:.0%} of variance)"
        else:
            a, b = {"frequency_monetary": ("frequency", "monetary"), "recency_frequency": ("recency_days", "frequency"),
                    "recency_monetary": ("recency_days", "monetary")}[kind]
            frame["x"], frame["y"] = frame[a], frame[b]
            labels = {"recency_days": "Recency (days since last order)", "frequency": "Frequency (orders)",
                      "monetary": "Monetary (total spent)"}
            xlabel, ylabel = labels[a], labels[b]
            if b in ("monetary", "frequency"):
                ax.set_yscale("symlog")
            if a == "frequency":
                ax.set_xscale("symlog")
        for name, group in frame.groupby("cluster_name", sort=True):
            ax.scatter(group["x"], group["y"], s=8, alpha=0.6, label=f"{name} ({len(group)})")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(f"Customer segments ({kind.replace('_', ' ')}), calc_date {model.metrics.get('calc_date')}")
        ax.legend(title="segment", loc="best", fontsize=8)
        return png_response(fig)


urlpatterns: list[URLPattern] = [
    *segment_history.urlpatterns,  # before segments/<segment>/...: "transitions" is no segment name
    *segment_diagnostics.urlpatterns,
    path("train-customer-segmentation/", TrainSegmentationView.as_view(), name="train-customer-segmentation"),
    path("customer-segment/<str:customer_id>/", CustomerSegmentView.as_view(), name="customer-segment"),
    path("segments/", SegmentsView.as_view(), name="segments"),
    path("segments/predict/", SegmentPredictView.as_view(), name="segments-predict"),
    path("segments/apply/", SegmentApplyView.as_view(), name="segments-apply"),
    path("segments/plot/", SegmentPlotView.as_view(), name="segments-plot"),
    path("segments/<str:segment>/customers/", SegmentCustomersView.as_view(), name="segment-customers"),
    path("segments/<str:segment>/export/", SegmentExportView.as_view(), name="segment-export"),
    path("rfm/", RFMView.as_view(), name="rfm"),
    path("rfm/standardized/", RFMStandardizedView.as_view(), name="rfm-standardized"),
]
