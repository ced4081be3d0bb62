"""API routes and views of the forecasting capability (the spec's sales forecast endpoints).

Thin: an input serializer, one trainer/service/selector call, an output serializer. Which levels the
active model serves is in every answer (`levels_served`): a one-level training keeps the others.
"""
from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from ml_predictions.api.base import MLAPIView
from ml_predictions.api.fields import BoundedDateField, StrictInputSerializer
from ml_predictions.api.plots import new_figure, png_response
from ml_predictions.api.serializers import TrainingResultSerializer, error_responses
from ml_predictions.api.training import train_responses, training_response
from ml_predictions.capabilities.forecasting.selectors import sales_forecast_plot_data
from ml_predictions.capabilities.forecasting.services import sales_forecast_predict
from ml_predictions.capabilities.forecasting.trainer import (
    LEVEL_CHOICES,
    MODEL_CHOICES,
    RECONCILIATION_CHOICES,
)
from ml_predictions.models import ModelType

MAX_DAYS_AHEAD = 365

ERROR_EXAMPLES = [
    OpenApiExample(
        "Too little history",
        value={"success": False, "error": {
            "code": "insufficient_data",
            "message": "Forecasting needs at least 120 days of sales history; there are 45.",
            "details": {"days_needed": 120, "days_available": 45}}},
        response_only=True, status_codes=["422"],
    ),
    OpenApiExample(
        "No active model",
        value={"success": False, "error": {
            "code": "no_active_model",
            "message": "No active sales_forecast model. Train one first (POST /api/ml/train-sales-forecast/ "
                       "or `python manage.py train`)."}},
        response_only=True, status_codes=["409"],
    ),
]


class TrainSalesForecastInput(StrictInputSerializer):
    model_type = serializers.ChoiceField(choices=MODEL_CHOICES, default="random_forest")
    level = serializers.ChoiceField(
        choices=[*LEVEL_CHOICES, "all"], required=False, allow_null=True,
        help_text="Train one level only (the active model's other levels are kept); default all configured "
                  "levels (FORECAST_LEVELS), which replaces every level.",
    )
    reconciliation = serializers.ChoiceField(
        choices=RECONCILIATION_CHOICES, required=False, allow_null=True,
        help_text="How products are made to add up to their category and categories to the total when "
                  "all levels are trained together; default FORECAST_RECONCILIATION (mint_shrink, which "
                  "falls back to bottom_up when it cannot be estimated).",
    )


class ForecastQueryInput(serializers.Serializer):
    days_ahead = serializers.IntegerField(min_value=1, max_value=MAX_DAYS_AHEAD, default=30)
    level = serializers.ChoiceField(choices=LEVEL_CHOICES, default="total")
    id = serializers.CharField(required=False, allow_blank=True, max_length=200,
                               help_text="Category name (level=category) or product id (level=product).")
    start_date = BoundedDateField(
        required=False, allow_null=True,
        help_text="First forecast day; default the day after the last day with data.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["level"] != "total" and not attrs.get("id"):
            raise serializers.ValidationError({"id": [f"id is required when level is {attrs['level']!r}."]})
        if attrs["level"] == "total":
            attrs["id"] = None
        return attrs


class PredictionRow(serializers.Serializer):
    date = serializers.DateField()
    predicted_sales = serializers.FloatField()
    predicted_quantity = serializers.FloatField()
    confidence_lower = serializers.FloatField()
    confidence_upper = serializers.FloatField()


class PredictSummary(serializers.Serializer):
    total_predicted_sales = serializers.FloatField()
    avg_daily_sales = serializers.FloatField()
    total_predicted_quantity = serializers.FloatField()


class PredictSalesOutput(serializers.Serializer):
    success = serializers.BooleanField()
    predictions = PredictionRow(many=True)
    summary = PredictSummary()
    level = serializers.CharField()
    id = serializers.CharField(allow_null=True)
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    last_data_date = serializers.DateField()
    interval_level = serializers.FloatField()
    model_id = serializers.UUIDField()
    model_version = serializers.IntegerField()
    algorithm = serializers.CharField()
    levels_served = serializers.ListField(
        child=serializers.CharField(),
        help_text="Levels the active model answers; the others are a 400 naming `level`.")
    reconciliation = serializers.ChoiceField(
        choices=RECONCILIATION_CHOICES,
        help_text="How the served levels were made to add up: mint_shrink, bottom_up, or none (levels "
                  "trained separately, or reconciliation switched off).")
    demand_class = serializers.ChoiceField(
        choices=["smooth", "erratic", "intermittent", "lumpy", "none"], allow_null=True,
        help_text="Syntetos-Boylan class of the series (ADI and CV² of its open days); null for the total.")
    method = serializers.CharField(
        allow_null=True,
        help_text="What forecasts this series: the level's model (e.g. random_forest, ets) or, for a sparse "
                  "series where it backtested better, croston, sba or tsb; none for a series that never sold.")
    prediction_id = serializers.UUIDField()


class LevelDatesSerializer(serializers.Serializer):
    last_data_date = serializers.DateField()
    forecast_start = serializers.DateField()


class TrainSalesForecastResult(TrainingResultSerializer):
    """The spec's train response plus the levels this version fitted, carried over and serves."""

    levels = serializers.ListField(child=serializers.CharField(),
                                   help_text="Levels fitted by this training.")
    levels_served = serializers.ListField(child=serializers.CharField(),
                                          help_text="Levels the new version answers.")
    levels_carried = serializers.ListField(
        child=serializers.CharField(),
        help_text="Levels kept unchanged from the version this one replaced (a one-level training).")
    forecast_start = serializers.DateField()
    max_horizon_days = serializers.IntegerField()
    summary = serializers.CharField(help_text="One sentence: the error against repeating last week, MASE, "
                                              "and how often the interval held.")
    reconciliation = serializers.ChoiceField(
        choices=RECONCILIATION_CHOICES, help_text="How the new version's levels were made to add up.")


TRAIN_EXAMPLE = {
    "success": True,
    "message": "Sales forecast model trained successfully",
    "model_id": "6f1c2c1e-8a5e-4f8e-9d52-2b1f8d0f7a10",
    "version": 1,
    "metrics": {
        "model": "random_forest", "test_r2": 0.41, "test_rmse": 812.5, "train_r2": 0.82, "cv_r2_mean": 0.12,
        "test_mae": 640.2, "smape": 31.4, "mase": 0.83, "relative_mae": 0.74, "interval_level": 0.95,
        "interval_coverage": 0.93, "beats_baseline": True, "beats_baseline_by": "relative_mae",
        "summary": "30-day error 26 % below repeating last week (on the last 30 days); MASE 0.83 (smaller than "
                   "the in-sample error of repeating the previous week); the 95 % band held 93 % of days.",
        "baseline": {"model": "seasonal_naive_weekly", "test_mae": 865.0, "mase": 1.12},
        "levels": {"total": {"revenue": {"...": "..."}, "units": {"...": "..."}}},
    },
    "duration_seconds": 6.8,
    "training_log_id": "0b8e3c0e-6a43-4b57-9f6a-7b1b6a8e2f11",
    "levels": ["total", "category", "product"],
    "levels_served": ["total", "category", "product"],
    "levels_carried": [],
    "forecast_start": "2026-07-01",
    "max_horizon_days": 365,
    "summary": "30-day error 26 % below repeating last week (on the last 30 days); MASE 0.83 (smaller than "
               "the in-sample error of repeating the previous week); the 95 % band held 93 % of days.",
    "reconciliation": "mint_shrink",
    "activated": True,
}

PREDICT_EXAMPLE = {
    "success": True,
    "predictions": [
        {"date": "2026-07-01", "predicted_sales": 1250.5, "predicted_quantity": 12.0,
         "confidence_lower": 1062.93, "confidence_upper": 1438.07},
    ],
    "summary": {"total_predicted_sales": 37515.0, "avg_daily_sales": 1250.5, "total_predicted_quantity": 360.0},
    "level": "total", "id": None, "start_date": "2026-07-01", "end_date": "2026-07-30",
    "last_data_date": "2026-06-30", "interval_level": 0.95,
    "model_id": "6f1c2c1e-8a5e-4f8e-9d52-2b1f8d0f7a10", "model_version": 1, "algorithm": "random_forest",
    "levels_served": ["total", "category", "product"],
    "reconciliation": "mint_shrink", "demand_class": None, "method": "ets",
    "prediction_id": "1d2e3f40-1111-4a2b-9c3d-5e6f7a8b9c0d",
}


class TrainSalesForecastView(MLAPIView):
    @extend_schema(
        summary="Train the sales forecast (total, category and product level in one model)",
        request=TrainSalesForecastInput,
        responses=train_responses(TrainSalesForecastResult),
        examples=[
            OpenApiExample("Random forest (the spec)", value={"model_type": "random_forest"}, request_only=True),
            OpenApiExample("Auto, total level only", value={"model_type": "auto", "level": "total"},
                           request_only=True),
            OpenApiExample("Trained", value=TRAIN_EXAMPLE, response_only=True, status_codes=["200"]),
            ERROR_EXAMPLES[0],
        ],
        tags=["forecasting"],
    )
    def post(self, request: Request) -> Response:
        data = TrainSalesForecastInput(data=request.data or {})
        data.is_valid(raise_exception=True)
        params = {"model_type": data.validated_data["model_type"]}
        for key in ("level", "reconciliation"):
            if data.validated_data.get(key):
                params[key] = data.validated_data[key]
        return training_response(request, ModelType.SALES_FORECAST, params)


class PredictSalesView(MLAPIView):
    @extend_schema(
        summary="Daily sales forecast with confidence band (stored as a Prediction)",
        request=ForecastQueryInput,
        responses={200: PredictSalesOutput, **error_responses(400, 404, 409)},
        examples=[
            OpenApiExample("Next 30 days (the spec)", value={"days_ahead": 30}, request_only=True),
            OpenApiExample("One product, 7 days", value={"days_ahead": 7, "level": "product",
                                                         "id": "0ca0f1b37c89439cbb45eaf440135843"},
                           request_only=True),
            OpenApiExample("One category", value={"days_ahead": 15, "level": "category", "id": "Electronics"},
                           request_only=True),
            OpenApiExample("Forecast", value=PREDICT_EXAMPLE, response_only=True, status_codes=["200"]),
            ERROR_EXAMPLES[1],
        ],
        tags=["forecasting"],
    )
    def post(self, request: Request) -> Response:
        data = ForecastQueryInput(data=request.data or {})
        data.is_valid(raise_exception=True)
        body = sales_forecast_predict(**data.validated_data, user=request.user,
                                      present=lambda result: PredictSalesOutput(result).data)
        return Response(body)


class SalesForecastPlotView(MLAPIView):
    @extend_schema(
        summary="PNG: recent history, forecast and its confidence band",
        parameters=[
            OpenApiParameter("days_ahead", int, description="1..365, default 30"),
            OpenApiParameter("level", str, enum=list(LEVEL_CHOICES), description="default total"),
            OpenApiParameter("id", str, description="category name or product id for those levels"),
            OpenApiParameter("start_date", OpenApiTypes.DATE, description="default: day after the last data day"),
        ],
        responses={(200, "image/png"): OpenApiResponse(description="PNG image"),
                   **error_responses(400, 404, 409)},
        examples=[ERROR_EXAMPLES[1]],
        tags=["forecasting"],
    )
    def get(self, request: Request) -> Any:
        data = ForecastQueryInput(data=request.query_params)
        data.is_valid(raise_exception=True)
        chart = sales_forecast_plot_data(**data.validated_data)
        fig, ax = new_figure()
        ax.plot(chart["history_dates"], chart["history_sales"], color="#555555", linewidth=1, label="history")
        ax.plot(chart["dates"], chart["predicted"], color="#1f77b4", linewidth=2, label="forecast")
        ax.fill_between(chart["dates"], chart["lower"], chart["upper"], color="#1f77b4",
                        alpha=0.2, label=f"{chart['interval_level']:.0%} interval")
        ax.set_title(chart["title"])
        ax.set_ylabel("sales")
        ax.legend(loc="upper left")
        fig.autofmt_xdate()
        return png_response(fig)


urlpatterns: list[URLPattern] = [
    path("train-sales-forecast/", TrainSalesForecastView.as_view(), name="train-sales-forecast"),
    path("predict-sales/", PredictSalesView.as_view(), name="predict-sales"),
    path("sales-forecast/plot/", SalesForecastPlotView.as_view(), name="sales-forecast-plot"),
]
