"""API of the monitoring capability: forecasts against the sales that followed, lists against purchases."""
from __future__ import annotations

import uuid
from datetime import date

from django.urls import URLPattern, path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from ml_predictions.api.base import MLAPIView
from ml_predictions.api.plots import png_response
from ml_predictions.capabilities.monitoring.plots import forecast_vs_actual_figure
from ml_predictions.capabilities.monitoring.selectors import forecast_accuracy, recommendation_outcome_summary
from ml_predictions.capabilities.monitoring.services import forecast_drift_check

EARLIEST = date(1970, 1, 1)
LATEST = date(2999, 12, 31)
TAGS = ["monitoring"]
_MODEL = "6f1c2c1e-8a5e-4f8e-9d52-2b1f8d0f7a10"
_GROUP = {"model_id": _MODEL, "model_version": 3, "level": "total", "n_days": 30, "n_forecasts": 4, "mae": 412.5,
          "mase": 0.82, "bias": -35.1, "coverage": 0.93, "mean_actual": 2150.0}
ACCURACY_EXAMPLE = OpenApiExample("Realised error", response_only=True, status_codes=["200"], value={
    "date_from": "2026-06-01", "date_to": "2026-06-30", "last_data_date": "2026-06-30", "n_days": 30,
    "models": [_GROUP], "by_horizon": [{**_GROUP, "horizon": "1-7", "n_days": 7, "mae": 301.0, "mase": 0.6}],
    "drift": {"status": "ok", "model_id": _MODEL, "model_version": 3, "backtest_mase": 0.86, "realised_mase": 0.82,
              "tolerance": 0.25, "n_days": 30, "drifting": False, "checked_at": "2026-07-01T06:00:00Z"},
})
BAD_DATE_EXAMPLE = OpenApiExample("Bad date", response_only=True, status_codes=["400"], value={
    "success": False, "error": {"code": "invalid", "message": "must not be after date_to.",
                                "fields": {"date_from": ["must not be after date_to."]}}})
OUTCOMES_EXAMPLE = OpenApiExample("Lists followed by purchases", response_only=True, status_codes=["200"], value={
    "window_days": 30, "date_from": "2026-01-01", "date_to": "2026-06-30", "n_responses": 420, "n_evaluated": 380,
    "groups": [{"endpoint": "customer", "method": "history", "n_responses": 240, "followed_share": 0.21,
                "popular_followed_share": 0.09, "lift": 2.33}],
})
ERRORS = {400: OpenApiResponse(OpenApiTypes.OBJECT, description="A parameter is invalid (the error shape).")}


def _check_range(attrs: dict, *names: str) -> dict:
    for name in names:
        value = attrs.get(name)
        if value is not None and not EARLIEST <= value <= LATEST:
            raise serializers.ValidationError({name: [f"must be between {EARLIEST} and {LATEST}."]})
    if attrs.get("date_from") and attrs.get("date_to") and attrs["date_from"] > attrs["date_to"]:
        raise serializers.ValidationError({"date_from": ["must not be after date_to."]})
    return attrs


class ForecastAccuracyInput(serializers.Serializer):
    model_id = serializers.CharField(required=False, max_length=64, help_text="One model version; default all.")
    level = serializers.ChoiceField(choices=["total", "category", "product"], required=False)
    date_from = serializers.DateField(required=False, help_text="First forecast day counted; default 90 days ago.")
    date_to = serializers.DateField(required=False, help_text="Last forecast day counted; default yesterday.")

    def validate_model_id(self, value: str) -> str:
        try:
            return str(uuid.UUID(value))
        except ValueError as exc:  # the ORM would raise on a non-UUID id: a 500, not the client's 400
            raise serializers.ValidationError("must be a model id (a UUID).") from exc

    def validate(self, attrs: dict) -> dict:
        return _check_range(attrs, "date_from", "date_to")


class ErrorGroup(serializers.Serializer):
    model_id = serializers.UUIDField()
    model_version = serializers.IntegerField()
    level = serializers.CharField()
    horizon = serializers.CharField(required=False, help_text="Days after the forecast's first day, e.g. '1-7'.")
    n_days = serializers.IntegerField(help_text="Forecast days whose sales are known.")
    n_forecasts = serializers.IntegerField()
    mae = serializers.FloatField(allow_null=True)
    mase = serializers.FloatField(allow_null=True, help_text="MAE over repeating-last-week's in-sample MAE.")
    bias = serializers.FloatField(allow_null=True, help_text="Mean of forecast - actual: > 0 over-forecasts.")
    coverage = serializers.FloatField(allow_null=True, help_text="Share of days inside the forecast band.")
    mean_actual = serializers.FloatField(allow_null=True)


class DriftCheck(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "drifting", "not_enough_data", "no_active_model"])
    model_id = serializers.UUIDField(required=False)
    model_version = serializers.IntegerField(required=False)
    backtest_mase = serializers.FloatField(required=False, allow_null=True)
    realised_mase = serializers.FloatField(required=False, allow_null=True)
    tolerance = serializers.FloatField(required=False)
    n_days = serializers.IntegerField(required=False)
    drifting = serializers.BooleanField(required=False)
    checked_at = serializers.DateTimeField(required=False)


class ForecastAccuracyOutput(serializers.Serializer):
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    last_data_date = serializers.DateField(allow_null=True)
    n_days = serializers.IntegerField()
    models = ErrorGroup(many=True)
    by_horizon = ErrorGroup(many=True)
    drift = DriftCheck(help_text="The active model's realised total-level MASE against its backtest's.")


class ForecastAccuracyView(MLAPIView):
    @extend_schema(summary="Stored forecasts against the sales that followed", tags=TAGS,
                   parameters=[ForecastAccuracyInput], responses={200: ForecastAccuracyOutput, **ERRORS},
                   examples=[ACCURACY_EXAMPLE, BAD_DATE_EXAMPLE])
    def get(self, request: Request) -> Response:
        params = ForecastAccuracyInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        body = forecast_accuracy(**params.validated_data)
        body["drift"] = forecast_drift_check()
        return Response(ForecastAccuracyOutput(body).data)


class ForecastAccuracyPlotInput(serializers.Serializer):
    days = serializers.IntegerField(min_value=7, max_value=730, default=90)


class ForecastAccuracyPlotView(MLAPIView):
    @extend_schema(summary="Chart: forecast, band and actual sales", tags=TAGS, parameters=[ForecastAccuracyPlotInput],
                   responses={(200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="PNG image"),
                              **ERRORS}, examples=[BAD_DATE_EXAMPLE])
    def get(self, request: Request) -> Response:
        params = ForecastAccuracyPlotInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        return png_response(forecast_vs_actual_figure(days=params.validated_data["days"]))


class RecommendationOutcomesInput(serializers.Serializer):
    window_days = serializers.IntegerField(min_value=1, max_value=365, required=False,
                                           help_text="Purchase window after a list; default RECOMMENDATION_OUTCOME_DAYS.")
    date_from = serializers.DateField(required=False, help_text="Lists recorded from this day; default 180 days ago.")
    date_to = serializers.DateField(required=False, help_text="Lists recorded up to this day; default today.")

    def validate(self, attrs: dict) -> dict:
        return _check_range(attrs, "date_from", "date_to")


class OutcomeGroup(serializers.Serializer):
    endpoint = serializers.ChoiceField(choices=["customer", "product"])
    method = serializers.CharField()
    n_responses = serializers.IntegerField()
    followed_share = serializers.FloatField(help_text="Share of lists followed by a purchase of a listed product.")
    popular_followed_share = serializers.FloatField(help_text="The same share for the best-sellers of the moment.")
    lift = serializers.FloatField(allow_null=True)


class RecommendationOutcomesOutput(serializers.Serializer):
    window_days = serializers.IntegerField()
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    n_responses = serializers.IntegerField(help_text="Recorded lists in the period.")
    n_evaluated = serializers.IntegerField(help_text="Of those, lists whose purchase window has passed.")
    groups = OutcomeGroup(many=True)


class RecommendationOutcomesView(MLAPIView):
    @extend_schema(summary="Recorded recommendation lists against what was bought next", tags=TAGS,
                   parameters=[RecommendationOutcomesInput], responses={200: RecommendationOutcomesOutput, **ERRORS},
                   examples=[OUTCOMES_EXAMPLE, BAD_DATE_EXAMPLE])
    def get(self, request: Request) -> Response:
        params = RecommendationOutcomesInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        return Response(RecommendationOutcomesOutput(recommendation_outcome_summary(**params.validated_data)).data)


urlpatterns: list[URLPattern] = [
    path("forecast-accuracy/", ForecastAccuracyView.as_view(), name="forecast-accuracy"),
    path("forecast-accuracy/plot/", ForecastAccuracyPlotView.as_view(), name="forecast-accuracy-plot"),
    path("recommendation-outcomes/", RecommendationOutcomesView.as_view(), name="recommendation-outcomes"),
]
