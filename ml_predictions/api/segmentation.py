"""API routes and views of the segmentation capability (the spec's segmentation endpoints and the reference designs before it).

Each view validates with its input serializer, calls one workflow/service function and shapes the
answer. Reads of a run go through the per-customer table (one indexed query per request); the artifact
is only loaded where the fitted pipeline is needed (predict from raw RFM, standardized RFM, PCA plot).
"""
from __future__ import annotations

import csv
from datetime import date
from typing import Any

from django.http import StreamingHttpResponse
from django.urls import URLPattern, path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework.request import Request
from rest_framework.response import Response

from ml_predictions.api import segment_diagnostics, segment_history
from ml_predictions.api.base import MLAPIView
from ml_predictions.api.pagination import StandardPagination
from ml_predictions.api.parsers import LargeJSONParser, SafeJSONParser
from ml_predictions.api.plots import new_figure, png_response
from ml_predictions.api.segmentation_out import (
    ApplyOut,
    PredictOut,
    RFMOut,
    RFMStandardizedOut,
    SegmentCustomersOut,
)
from ml_predictions.api.segmentation_serializers import (  # noqa: F401  (TrainInput is imported from here)
    CUSTOMER_EXAMPLE,
    MAX_APPLY_ROWS,
    PLOT_TYPES,
    SEGMENTS_EXAMPLE,
    TRAIN_EXAMPLE,
    ApplyInput,
    ApplyRFM,
    CharacteristicsOut,
    CustomerSegmentOut,
    NClustersField,
    PlotQuery,
    PredictInput,
    RawRFM,
    RunQuery,
    SaleRow,
    SegmentOut,
    SegmentsOut,
    TrainInput,
)
from ml_predictions.api.training import TRAIN_RESPONSES, training_response
from ml_predictions.capabilities.segmentation.lookup import customer_segment_lookup
from ml_predictions.capabilities.segmentation.scoring import (
    apply_segmentation,
    plot_points,
    predict_raw,
    predict_stored,
    scaler_summary,
    standardized_page,
)
from ml_predictions.capabilities.segmentation.selectors import (
    CUSTOMER_FIELDS,
    clustering_input_rows,
    plotted_customers,
    resolve_run,
    rfm_rows,
    run_segmenter,
    segment_export_rows,
    segment_members,
    segment_summaries,
)
from ml_predictions.data import canonical_id
from ml_predictions.exports import safe_row
from ml_predictions.models import MLModel, ModelType

# --- helpers ---------------------------------------------------------------------------------------------


def _run(request: Request) -> MLModel:
    query = RunQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    return resolve_run(query.validated_data.get("calc_date"))


# --- views -------------------------------------------------------------------------------------------------



class TrainSegmentationView(MLAPIView):
    @extend_schema(
        summary="Train the customer segmentation (RFM + K-means + BG/NBD CLV)",
        request=TrainInput,
        responses=TRAIN_RESPONSES,
        examples=[
            OpenApiExample("Fixed k (the spec's request)", value={"n_clusters": 6}, request_only=True),
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




class CustomerSegmentView(MLAPIView):
    @extend_schema(
        summary="Segment of one customer (the spec's response shape)",
        parameters=[OpenApiParameter("calc_date", OpenApiTypes.DATE, description="a past run; default active")],
        responses={200: CustomerSegmentOut, 404: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT},
        examples=[OpenApiExample("Customer", value=CUSTOMER_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, customer_id: str) -> Response:
        query = RunQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(customer_segment_lookup(customer_id, calc_date=query.validated_data.get("calc_date"),
                                                user=request.user, present=lambda body: CustomerSegmentOut(body).data))



class SegmentsView(MLAPIView):
    @extend_schema(
        summary="Per-segment summary: size, share of customers and revenue, mean R/F/M",
        parameters=[OpenApiParameter("calc_date", OpenApiTypes.DATE, description="a past run; default active")],
        responses={200: SegmentsOut, 409: OpenApiTypes.OBJECT},
        examples=[OpenApiExample("Segments", value=SEGMENTS_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        return Response(SegmentsOut({"success": True, **segment_summaries(_run(request))}).data)

class SegmentCustomersView(MLAPIView):
    @extend_schema(
        summary="Customers of one segment, paginated",
        parameters=[
            OpenApiParameter("segment", OpenApiTypes.STR, OpenApiParameter.PATH,
                             description="cluster name (vip, frequent_2), segment type or cluster number"),
            OpenApiParameter("page", OpenApiTypes.INT), OpenApiParameter("page_size", OpenApiTypes.INT),
            OpenApiParameter("calc_date", OpenApiTypes.DATE),
        ],
        responses={200: SegmentCustomersOut, 404: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT},
        examples=[OpenApiExample("Page", value={"count": 40, "next": None, "previous": None, "segment": "vip",
                                                "results": [{"customer_id": "c-1", "cluster": 0,
                                                             "cluster_name": "vip", "segment_type": "vip",
                                                             "recency_days": 4.0, "frequency": 15,
                                                             "monetary": 3500.0, "clv": 8400.0}]},
                                 response_only=True)],
    )
    def get(self, request: Request, segment: str) -> Response:
        model = _run(request)
        paginator = StandardPagination()
        page = paginator.paginate_queryset(segment_members(model, segment), request, view=self)
        response = paginator.get_paginated_response(list(page))
        response.data["segment"] = segment
        response.data["calc_date"] = model.metrics.get("calc_date")
        return response

class _Echo:
    def write(self, value: str) -> str:
        return value


class SegmentExportView(MLAPIView):
    @extend_schema(
        summary="Export one segment's customers as CSV",
        parameters=[OpenApiParameter("segment", OpenApiTypes.STR, OpenApiParameter.PATH),
                    OpenApiParameter("calc_date", OpenApiTypes.DATE)],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV, one row per customer",
                                                       examples=[OpenApiExample(
                                                           "CSV", value="customer_id,cluster,cluster_name,...\n")]),
                   404: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, segment: str) -> StreamingHttpResponse:
        model = _run(request)
        rows = segment_export_rows(model, segment)
        writer = csv.writer(_Echo())

        def lines() -> Any:
            yield writer.writerow(CUSTOMER_FIELDS)
            for row in rows:
                yield writer.writerow(safe_row(row))

        response = StreamingHttpResponse(lines(), content_type="text/csv")
        calc = model.metrics.get("calc_date", "run")
        response["Content-Disposition"] = f'attachment; filename="segment_{segment}_{calc}.csv"'
        return response

class SegmentPredictView(MLAPIView):
    # JSON only (415 for a form): raw RFM rows are nested objects a form cannot carry, and up to 10,000
    # ids are over Django's 1,000-field cap for form bodies.
    parser_classes = [SafeJSONParser]

    @extend_schema(
        summary="Segment of stored customers or of raw RFM values, from the active model",
        request=PredictInput,
        responses={200: PredictOut, 400: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT,
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
            return Response({"success": True, **predict_stored(model, ids, user=request.user)})
        answer = predict_raw(model, run_segmenter(model), data.validated_data["customers"], user=request.user)
        return Response({"success": True, **answer})

class SegmentApplyView(MLAPIView):
    parser_classes = [LargeJSONParser]  # the documented 100,000 rows are over Django's upload limit
    @extend_schema(
        summary="Stateless segmentation of posted data with automatic k; no model is stored, the "
                "call is recorded as a Prediction row",
        request=ApplyInput,
        responses={200: ApplyOut, 400: OpenApiTypes.OBJECT, 422: OpenApiTypes.OBJECT},
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
        return Response({"success": True, **apply_segmentation(data.validated_data, user=request.user)})

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
        summary="RFM table of the run, paginated, with an explanation",
        parameters=[OpenApiParameter("page", OpenApiTypes.INT), OpenApiParameter("page_size", OpenApiTypes.INT),
                    OpenApiParameter("calc_date", OpenApiTypes.DATE)],
        responses={200: RFMOut, 409: OpenApiTypes.OBJECT},
        examples=[OpenApiExample("RFM", response_only=True, value={
            "count": 300, "next": None, "previous": None, "calc_date": "2026-07-01", "window_days": 365,
            "explanation": RFM_EXPLANATION,
            "results": [{"customer_id": "c-1", "recency_days": 8.1, "frequency": 7, "monetary": 2527.9,
                         "rfm_segment": "544", "rfm_name": "champions"}]})],
    )
    def get(self, request: Request) -> Response:
        model = _run(request)
        paginator = StandardPagination()
        page = paginator.paginate_queryset(rfm_rows(model), request, view=self)
        response = paginator.get_paginated_response(list(page))
        response.data.update({"calc_date": model.metrics.get("calc_date"),
                              "window_days": model.metrics.get("window_days"), "explanation": RFM_EXPLANATION})
        return response

class RFMStandardizedView(MLAPIView):
    @extend_schema(
        summary="Standardized RFM (the clustering input) with an explanation",
        parameters=[OpenApiParameter("page", OpenApiTypes.INT), OpenApiParameter("page_size", OpenApiTypes.INT),
                    OpenApiParameter("calc_date", OpenApiTypes.DATE)],
        responses={200: RFMStandardizedOut, 409: OpenApiTypes.OBJECT},
        examples=[OpenApiExample("Standardized", response_only=True, value={
            "count": 300, "next": None, "previous": None, "explanation": STANDARDIZED_EXPLANATION,
            "scaler": {"mean": [3.1, 1.6, 6.9], "scale": [1.2, 0.6, 1.4], "features": ["recency_days", "frequency",
                                                                                   "monetary"]},
            "results": [{"customer_id": "c-1", "recency_z": -0.82, "frequency_z": 0.9, "monetary_z": 0.71,
                         "cluster": 0}]})],
    )
    def get(self, request: Request) -> Response:
        model = _run(request)
        seg = run_segmenter(model)
        paginator = StandardPagination()
        page = list(paginator.paginate_queryset(clustering_input_rows(model, list(seg.features)), request, view=self))
        response = paginator.get_paginated_response(standardized_page(seg, page))
        response.data.update({"calc_date": model.metrics.get("calc_date"), "explanation": STANDARDIZED_EXPLANATION,
                              "scaler": scaler_summary(seg)})
        return response

class SegmentPlotView(MLAPIView):
    @extend_schema(
        summary="Scatter plot of customers coloured by segment (PNG)",
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
        seg = run_segmenter(model)
        points = plot_points(seg, plotted_customers(model, list(seg.features)), kind, query.validated_data["max_points"])
        fig, ax = new_figure()
        ax.set_xscale(points["scales"]["x"])
        ax.set_yscale(points["scales"]["y"])
        for name, x, y in points["groups"]:
            ax.scatter(x, y, s=8, alpha=0.6, label=f"{name} ({len(x)})")
        ax.set_xlabel(points["xlabel"])
        ax.set_ylabel(points["ylabel"])
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
