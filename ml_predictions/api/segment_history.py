"""Segment history endpoints: transitions between two runs, their CSV export, and the drift per retrain.

Thin views: input serializer -> one selector (capabilities.segmentation.transitions) -> output serializer.
"""
from __future__ import annotations

import csv
from typing import Any

from django.http import StreamingHttpResponse
from django.urls import URLPattern, path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from ml_predictions.api.base import MLAPIView
from ml_predictions.api.fields import BoundedDateField
from ml_predictions.api.pagination import StandardPagination
from ml_predictions.capabilities.segmentation.drift import segment_drift
from ml_predictions.capabilities.segmentation.transitions import (
    GROUPINGS,
    MOVED_COLUMNS,
    moved_records,
    moved_rows,
    segment_transitions,
)
from ml_predictions.exports import safe_row


class TransitionsQuery(serializers.Serializer):
    from_calc_date = BoundedDateField(required=False, help_text="the earlier run (default: the one before to)")
    to_calc_date = BoundedDateField(required=False, help_text="the later run (default: the newest)")
    by = serializers.ChoiceField(choices=GROUPINGS, default="segment_type")


class RunSummary(serializers.Serializer):
    model_id = serializers.CharField()
    version = serializers.IntegerField()
    calc_date = serializers.DateField()
    n_customers = serializers.IntegerField()
    segments = serializers.DictField(child=serializers.IntegerField(), help_text="customers per segment")


class TransitionCell(serializers.Serializer):
    # "from"/"to" are Python keywords; the fields are declared below
    customers = serializers.IntegerField()
    share_of_from = serializers.FloatField(allow_null=True)


TransitionCell._declared_fields["from"] = serializers.CharField(allow_null=True, help_text="null: new customer")
TransitionCell._declared_fields["to"] = serializers.CharField(allow_null=True, help_text="null: not in the later run")


class MovedCustomer(serializers.Serializer):
    customer_id = serializers.CharField()
    from_segment = serializers.CharField()
    to_segment = serializers.CharField()
    from_segment_type = serializers.CharField()
    to_segment_type = serializers.CharField()
    from_clv = serializers.FloatField(allow_null=True)
    to_clv = serializers.FloatField(allow_null=True)
    from_monetary = serializers.FloatField(allow_null=True)
    to_monetary = serializers.FloatField(allow_null=True)


class TransitionsResponse(serializers.Serializer):
    success = serializers.BooleanField()
    by = serializers.CharField()
    from_run = RunSummary()
    to_run = RunSummary()
    matrix = TransitionCell(many=True)
    count = serializers.IntegerField(help_text="customers who moved from vip/frequent into at_risk/inactive")
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = MovedCustomer(many=True)


EXAMPLE = {
    "success": True, "by": "segment_type",
    "from_run": {"model_id": "3c32ac02-6db0-4d6f-9152-deff00ebba88", "version": 3, "calc_date": "2026-06-01",
                 "n_customers": 300, "segments": {"vip": 40, "at_risk": 30}},
    "to_run": {"model_id": "8a1e2b3c-4d5e-4f60-8172-93a4b5c6d7e8", "version": 4, "calc_date": "2026-07-01",
               "n_customers": 310, "segments": {"vip": 36, "at_risk": 35}},
    "matrix": [{"from": "vip", "to": "vip", "customers": 34, "share_of_from": 0.85},
               {"from": "vip", "to": "at_risk", "customers": 6, "share_of_from": 0.15}],
    "count": 6, "next": None, "previous": None,
    "results": [{"customer_id": "c-17", "from_segment": "vip", "to_segment": "at_risk", "from_segment_type": "vip",
                 "to_segment_type": "at_risk", "from_clv": 5400.0, "to_clv": 900.0, "from_monetary": 6100.0,
                 "to_monetary": 6150.0}],
}
ERRORS = {400: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT, 422: OpenApiTypes.OBJECT}


def _transitions(request: Request) -> Any:
    query = TransitionsQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    return segment_transitions(**query.validated_data)


class SegmentTransitionsView(MLAPIView):
    @extend_schema(
        summary="Segment transitions between two runs and the valuable customers who slipped into risk",
        parameters=[TransitionsQuery],
        responses={200: TransitionsResponse, **ERRORS},
        examples=[OpenApiExample("Transitions", value=EXAMPLE, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        result = _transitions(request)
        paginator = StandardPagination()
        page = paginator.paginate_queryset(moved_records(result.moved), request, view=self)
        body = {"success": True, "by": result.by, "from_run": result.from_run, "to_run": result.to_run,
                "matrix": result.matrix, "count": paginator.page.paginator.count,
                "next": paginator.get_next_link(), "previous": paginator.get_previous_link(), "results": page}
        return Response(TransitionsResponse(body).data)


class _Echo:
    def write(self, value: str) -> str:
        return value


class SegmentTransitionsExportView(MLAPIView):
    @extend_schema(
        summary="CSV of the customers who moved from vip/frequent into at_risk/inactive between two runs",
        parameters=[TransitionsQuery],
        responses={(200, "text/csv"): OpenApiResponse(
            OpenApiTypes.STR, description="one row per moved customer",
            examples=[OpenApiExample("CSV", value=",".join(MOVED_COLUMNS) + "\nc-17,vip,at_risk,vip,at_risk,5400.0,900.0,"
                                     "6100.0,6150.0\n")]), **ERRORS},
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        result = _transitions(request)
        writer = csv.writer(_Echo())
        rows = moved_rows(result.moved)

        def lines() -> Any:
            yield writer.writerow(MOVED_COLUMNS)
            for row in rows:
                yield writer.writerow(safe_row(row))

        response = StreamingHttpResponse(lines(), content_type="text/csv")
        name = f"segment_transitions_{result.from_run['calc_date']}_{result.to_run['calc_date']}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


class DriftQuery(serializers.Serializer):
    model_id = serializers.UUIDField(required=False, help_text="a segmentation version (default: the active one)")


class DriftTransition(serializers.Serializer):
    customers = serializers.IntegerField()


DriftTransition._declared_fields["from"] = serializers.CharField(help_text="segment type in the previous run")
DriftTransition._declared_fields["to"] = serializers.CharField(help_text="segment type in this run")


class SegmentChanges(serializers.Serializer):
    previous_model_id = serializers.CharField()
    previous_version = serializers.IntegerField()
    previous_calc_date = serializers.CharField(allow_null=True)
    n_previous = serializers.IntegerField()
    n_current = serializers.IntegerField()
    n_common = serializers.IntegerField(help_text="customers in both runs")
    n_new = serializers.IntegerField()
    n_gone = serializers.IntegerField()
    n_changed_segment_type = serializers.IntegerField()
    n_changed_cluster_name = serializers.IntegerField()
    changed_share = serializers.FloatField(allow_null=True, help_text="of the customers in both runs")
    transitions = DriftTransition(many=True)


class CLVRealised(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "drifting", "pending", "no_earlier_run", "not_computed"])
    model_id = serializers.CharField(required=False, help_text="the earlier run whose CLV is checked")
    version = serializers.IntegerField(required=False)
    calc_date = serializers.CharField(required=False)
    window_days = serializers.IntegerField(required=False, help_text="that run's CLV holdout days")
    window_end = serializers.CharField(required=False)
    available_from = serializers.CharField(required=False, help_text="pending: the day the window is over")
    n_customers = serializers.IntegerField(required=False)
    n_buyers = serializers.IntegerField(required=False, help_text="customers who bought in the window")
    window_factor = serializers.FloatField(required=False, help_text="CLV x this = predicted window revenue")
    spearman = serializers.FloatField(required=False, allow_null=True)
    mae = serializers.FloatField(required=False, allow_null=True)
    total_predicted = serializers.FloatField(required=False)
    total_actual = serializers.FloatField(required=False)
    holdout_spearman = serializers.FloatField(required=False, allow_null=True, help_text="what training promised")
    holdout_mae = serializers.FloatField(required=False, allow_null=True)
    tolerance = serializers.FloatField(required=False)
    drifting = serializers.BooleanField(required=False)


class DriftVersion(serializers.Serializer):
    model_id = serializers.CharField()
    version = serializers.IntegerField()
    is_active = serializers.BooleanField()
    calc_date = serializers.CharField(allow_null=True)
    changed_share = serializers.FloatField(allow_null=True)
    n_changed_segment_type = serializers.IntegerField(allow_null=True)
    clv_status = serializers.CharField(allow_null=True)
    clv_spearman = serializers.FloatField(allow_null=True)
    clv_mae = serializers.FloatField(allow_null=True)
    clv_drifting = serializers.BooleanField()


class DriftResponse(serializers.Serializer):
    success = serializers.BooleanField()
    model_id = serializers.CharField()
    version = serializers.IntegerField()
    calc_date = serializers.CharField(allow_null=True)
    segments = SegmentChanges(allow_null=True, help_text="null: no earlier active run to compare with")
    clv = CLVRealised()
    history = DriftVersion(many=True, help_text="every stored version, newest first")


DRIFT_EXAMPLE = {
    "success": True, "model_id": "8a1e2b3c-4d5e-4f60-8172-93a4b5c6d7e8", "version": 4, "calc_date": "2026-07-01",
    "segments": {"previous_model_id": "3c32ac02-6db0-4d6f-9152-deff00ebba88", "previous_version": 3,
                 "previous_calc_date": "2026-03-01", "n_previous": 300, "n_current": 310, "n_common": 300,
                 "n_new": 10, "n_gone": 0, "n_changed_segment_type": 42, "n_changed_cluster_name": 45,
                 "changed_share": 0.14, "transitions": [{"from": "vip", "to": "at_risk", "customers": 6}]},
    "clv": {"status": "ok", "model_id": "3c32ac02-6db0-4d6f-9152-deff00ebba88", "version": 3,
            "calc_date": "2026-03-01", "window_days": 90, "window_end": "2026-05-30", "n_customers": 290,
            "n_buyers": 140, "window_factor": 0.2626, "spearman": 0.58, "mae": 61.2, "total_predicted": 20400.0,
            "total_actual": 18950.0, "holdout_spearman": 0.61, "holdout_mae": 58.0, "tolerance": 0.25,
            "drifting": False},
    "history": [{"model_id": "8a1e2b3c-4d5e-4f60-8172-93a4b5c6d7e8", "version": 4, "is_active": True,
                 "calc_date": "2026-07-01", "changed_share": 0.14, "n_changed_segment_type": 42, "clv_status": "ok",
                 "clv_spearman": 0.58, "clv_mae": 61.2, "clv_drifting": False}],
}


class SegmentDriftView(MLAPIView):
    @extend_schema(
        summary="Segment and CLV drift of a segmentation retrain: who changed segment, how earlier CLV fared",
        parameters=[DriftQuery],
        responses={200: DriftResponse, 400: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT},
        examples=[OpenApiExample("Drift", value=DRIFT_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        query = DriftQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        model_id = query.validated_data.get("model_id")
        body = segment_drift(model_id=str(model_id) if model_id else None)
        return Response(DriftResponse({"success": True, **body}).data)


urlpatterns: list[URLPattern] = [
    path("segment-drift/", SegmentDriftView.as_view(), name="segment-drift"),
    path("segments/transitions/", SegmentTransitionsView.as_view(), name="segment-transitions"),
    path("segments/transitions/export/", SegmentTransitionsExportView.as_view(), name="segment-transitions-export"),
]
