"""CLV diagnostics of a segmentation run: JSON, and the same numbers as a PNG chart.

    GET /api/ml/segments/diagnostics/<kind>/        JSON (typed below)
    GET /api/ml/segments/diagnostics/<kind>/plot/   PNG
kind: calibration (calibration vs holdout purchases by frequency), p-alive (probability-alive matrix),
cumulative (expected vs actual cumulative repeat purchases). The numbers are computed at training
and stored with the run; a view only reads (selectors.clv_diagnostics) and draws.
"""
from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from ml_predictions.api.base import MLAPIView
from ml_predictions.api.fields import BoundedDateField
from ml_predictions.api.plots import new_figure, png_response
from ml_predictions.capabilities.segmentation.selectors import clv_diagnostics
from ml_predictions.errors import InsufficientDataError

KINDS = {"calibration": "calibration_vs_holdout", "p-alive": "p_alive_matrix", "cumulative": "cumulative_purchases"}


class DiagnosticsQuery(serializers.Serializer):
    calc_date = BoundedDateField(required=False, help_text="a past run; default the active one")


class CalibrationBucket(serializers.Serializer):
    frequency = serializers.CharField(help_text="repeat purchases in the calibration period (0..6, 7+)")
    customers = serializers.IntegerField()
    actual = serializers.FloatField(help_text="mean purchases really made in the holdout")
    expected = serializers.FloatField(help_text="mean purchases BG/NBD (fitted on calibration) expected")


class CalibrationResponse(serializers.Serializer):
    success = serializers.BooleanField()
    model_id = serializers.CharField()
    calc_date = serializers.CharField()
    buckets = CalibrationBucket(many=True)


class AliveMatrixResponse(serializers.Serializer):
    success = serializers.BooleanField()
    model_id = serializers.CharField()
    calc_date = serializers.CharField()
    frequency = serializers.ListField(child=serializers.FloatField(), help_text="rows: repeat purchases")
    recency_days = serializers.ListField(child=serializers.FloatField(), help_text="columns: age at last purchase")
    T_days = serializers.FloatField(help_text="observation time the matrix is evaluated at")
    p_alive = serializers.ListField(child=serializers.ListField(child=serializers.FloatField()))


class CumulativeResponse(serializers.Serializer):
    success = serializers.BooleanField()
    model_id = serializers.CharField()
    calc_date = serializers.CharField()
    day = serializers.ListField(child=serializers.IntegerField(), help_text="days since the first order")
    actual = serializers.ListField(child=serializers.FloatField())
    expected = serializers.ListField(child=serializers.FloatField())
    calibration_end_day = serializers.IntegerField(allow_null=True)
    customers = serializers.IntegerField()


HEAD = {"success": True, "model_id": "3c32ac02-6db0-4d6f-9152-deff00ebba88", "calc_date": "2026-07-01"}
EXAMPLES = {
    "calibration": {**HEAD, "buckets": [{"frequency": "0", "customers": 29, "actual": 0.97, "expected": 0.97},
                                         {"frequency": "7+", "customers": 93, "actual": 3.26, "expected": 2.79}]},
    "p-alive": {**HEAD, "frequency": [0.0, 3.0], "recency_days": [0.0, 730.0], "T_days": 730.0,
                "p_alive": [[1.0, 1.0], [0.0005, 0.99]]},
    "cumulative": {**HEAD, "day": [0, 365, 730], "actual": [0.0, 900.0, 2500.0], "expected": [0.0, 950.0, 2300.0],
                   "calibration_end_day": 640, "customers": 279},
}
NO_RUN = OpenApiExample("No active segmentation", status_codes=["409"], response_only=True, value={
    "success": False, "error": {"code": "no_active_model", "message": "No active customer segmentation."}})
RESPONSES = {"calibration": CalibrationResponse, "p-alive": AliveMatrixResponse, "cumulative": CumulativeResponse}
ERRORS = {400: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT, 422: OpenApiTypes.OBJECT}


def _data(request: Request, kind: str) -> tuple[Any, dict[str, Any]]:
    query = DiagnosticsQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    model, diagnostics = clv_diagnostics(query.validated_data.get("calc_date"))
    key = KINDS[kind]
    if key not in diagnostics:
        reason = diagnostics.get("unavailable") or diagnostics.get("calibration_unavailable") or (
            "the history was too short to hold out a calibration period")
        raise InsufficientDataError(f"No {kind} diagnostic for this run: {reason}", field="calc_date")
    return model, diagnostics[key]


def _view(kind: str) -> type[MLAPIView]:
    class DiagnosticView(MLAPIView):
        @extend_schema(summary=f"CLV diagnostic: {kind} (JSON twin of the chart)", parameters=[DiagnosticsQuery],
                       responses={200: RESPONSES[kind], **ERRORS}, operation_id=f"segments_diagnostics_{kind}",
                       examples=[OpenApiExample(kind, value=EXAMPLES[kind], response_only=True), NO_RUN])
        def get(self, request: Request) -> Response:
            model, data = _data(request, kind)
            head = {"success": True, "model_id": str(model.pk), "calc_date": model.metrics.get("calc_date")}
            body = {**head, "buckets": data} if kind == "calibration" else {**head, **data}
            return Response(RESPONSES[kind](body).data)

    DiagnosticView.__name__ = f"Diagnostic{kind.title().replace('-', '')}View"
    return DiagnosticView


def _plot_view(kind: str) -> type[MLAPIView]:
    class DiagnosticPlotView(MLAPIView):
        @extend_schema(summary=f"CLV diagnostic chart: {kind} (PNG)", parameters=[DiagnosticsQuery],
                       responses={(200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY), **ERRORS},
                       operation_id=f"segments_diagnostics_{kind}_plot", examples=[NO_RUN])
        def get(self, request: Request) -> Any:
            model, data = _data(request, kind)
            return png_response(DRAW[kind](data, model.metrics.get("calc_date")))

    DiagnosticPlotView.__name__ = f"Diagnostic{kind.title().replace('-', '')}PlotView"
    return DiagnosticPlotView


def _draw_calibration(data: list[dict[str, Any]], calc: str) -> Any:
    fig, ax = new_figure()
    x = range(len(data))
    ax.plot(x, [d["actual"] for d in data], marker="o", label="actual (holdout)")
    ax.plot(x, [d["expected"] for d in data], marker="s", linestyle="--", label="expected by BG/NBD")
    ax.set_xticks(list(x), [f"{d['frequency']}\n({d['customers']})" for d in data])
    ax.set_xlabel("repeat purchases in the calibration period (customers)")
    ax.set_ylabel("mean purchases in the holdout")
    ax.set_title(f"Calibration vs holdout purchases, run of {calc}")
    ax.legend()
    return fig


def _draw_alive(data: dict[str, Any], calc: str) -> Any:
    fig, ax = new_figure(8.0, 6.5)
    image = ax.imshow(data["p_alive"], origin="lower", aspect="auto", cmap="viridis", vmin=0, vmax=1,
                      extent=[data["recency_days"][0], data["recency_days"][-1], data["frequency"][0],
                              data["frequency"][-1]])
    fig.colorbar(image, ax=ax, label="P(alive)")
    ax.set_xlabel("recency: customer's age at the last purchase (days)")
    ax.set_ylabel("frequency: repeat purchases")
    ax.set_title(f"Probability alive at T = {data['T_days']:.0f} days, run of {calc}")
    return fig


def _draw_cumulative(data: dict[str, Any], calc: str) -> Any:
    fig, ax = new_figure()
    ax.plot(data["day"], data["actual"], label="actual")
    ax.plot(data["day"], data["expected"], linestyle="--", label="expected by BG/NBD")
    if data["calibration_end_day"] is not None:
        ax.axvline(data["calibration_end_day"], color="grey", linestyle=":", label="end of calibration")
    ax.set_xlabel("days since the first order")
    ax.set_ylabel(f"cumulative repeat purchases ({data['customers']} customers)")
    ax.set_title(f"Expected vs actual cumulative repeat purchases, run of {calc}")
    ax.legend()
    return fig


DRAW = {"calibration": _draw_calibration, "p-alive": _draw_alive, "cumulative": _draw_cumulative}

urlpatterns: list[URLPattern] = [
    route
    for kind in KINDS
    for route in (
        path(f"segments/diagnostics/{kind}/", _view(kind).as_view(), name=f"segment-diagnostics-{kind}"),
        path(f"segments/diagnostics/{kind}/plot/", _plot_view(kind).as_view(), name=f"segment-diagnostics-{kind}-plot"),
    )
]
