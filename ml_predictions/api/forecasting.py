"""API routes and views of the forecasting capability (seed 004's sales forecast endpoints)."""
from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from ml_predictions.api.base import MLAPIView
from ml_predictions.api.plots import new_figure, png_response
from ml_predictions.api.training import TRAIN_RESPONSES, training_response
from ml_predictions.capabilities.forecasting.services import (
    LEVEL_CHOICES,
    MODEL_CHOICES,
    sales_forecast_frame,
    sales_forecast_predict,
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


class TrainSalesForecastInput(serializers.Serializer):
    model_type = serializers.ChoiceField(choices=MODEL_CHOICES, default="random_forest")
    level = serializers.ChoiceField(
        choices=[*LEVEL_CHOICES, "all"], required=False, allow_null=True,
        help_text="Train one level only; default all configured levels (FORECAST_LEVELS).",
    )


class ForecastQueryInput(serializers.Serializer):
    days_ahead = serializers.IntegerField(min_value=1, max_value=MAX_DAYS_AHEAD, default=30)
    level = serializers.ChoiceField(choices=LEVEL_CHOICES, default="total")
    id = serializers.CharField(required=False, allow_blank=True, max_length=200,
                               help_text="Category name (level=category) or product id (level=product).")
    start_date = serializers.DateField(
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
    prediction_id = serializers.UUIDField()


TRAIN_EXAMPLE = {
    "success": True,
    "message": "Sales forecast model trained successfully",
    "model_id": "6f1c2c1e-8a5e-4f8e-9d52-2b1f8d0f7a10",
    "version": 1,
    "metrics": {
        "model": "random_forest", "test_r2": 0.41, "test_rmse": 812.5, "train_r2": 0.82, "cv_r2_mean": 0.12,
        "test_mae": 640.2, "smape": 31.4, "mase": 0.83, "relative_mae": 0.74, "interval_level": 0.95,
        "interval_coverage": 0.93, "beats_baseline": True,
        "baseline": {"model": "seasonal_naive_weekly", "test_mae": 865.0, "mase": 1.12},
        "levels": {"total": {"revenue": {"...": "..."}, "units": {"...": "..."}}},
    },
    "duration_seconds": 6.8,
    "training_log_id": "0b8e3c0e-6a43-4b57-9f6a-7b1b6a8e2f11",
    "levels": ["total", "category", "product"],
    "forecast_start": "2026-07-01",
    "max_horizon_days": 365,
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
    "prediction_id": "1d2e3f40-1111-4a2b-9c3d-5e6f7a8b9c0d",
}


class TrainSalesForecastView(MLAPIView):
    @extend_schema(
        summary="Train the sales forecast (total, category and product level in one model)",
        request=TrainSalesForecastInput,
        responses=TRAIN_RESPONSES,
        examples=[
            OpenApiExample("Random forest (seed 004)", value={"model_type": "random_forest"}, request_only=True),
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
        if data.validated_data.get("level"):
            params["level"] = data.validated_data["level"]
        return training_response(request, ModelType.SALES_FORECAST, params)


class PredictSalesView(MLAPIView):
    @extend_schema(
        summary="Daily sales forecast with confidence band (stored as a Prediction)",
        request=ForecastQueryInput,
        responses={200: PredictSalesOutput, 400: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT,
                   409: OpenApiTypes.OBJECT},
        examples=[
            OpenApiExample("Next 30 days (seed 004)", value={"days_ahead": 30}, request_only=True),
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
        result = sales_forecast_predict(**data.validated_data, user=request.user)
        return Response(PredictSalesOutput(result).data)


class SalesForecastPlotView(MLAPIView):
    @extend_schema(
        summary="PNG: recent history, forecast and its confidence band",
        parameters=[
            OpenApiParameter("days_ahead", int, description="1..365, default 30"),
            OpenApiParameter("level", str, enum=list(LEVEL_CHOICES), description="default total"),
            OpenApiParameter("id", str, description="category name or product id for those levels"),
            OpenApiParameter("start_date", OpenApiTypes.DATE, description="default: day after the last data day"),
        ],
        responses={(200, "image/png"): OpenApiResponse(description="PNG image"), 400: OpenApiTypes.OBJECT,
                   409: OpenApiTypes.OBJECT},
        examples=[ERROR_EXAMPLES[1]],
        tags=["forecasting"],
    )
    def get(self, request: Request) -> Any:
        data = ForecastQueryInput(data=request.query_params)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        model, forecaster, frame = sales_forecast_frame(**params)
        history = forecaster.history(params["level"], params.get("id")).tail(120)
        fig, ax = new_figure()
        ax.plot(history["date"], history["sales"], color="#555555", linewidth=1, label="history")
        ax.plot(frame["date"], frame["predicted_sales"], color="#1f77b4", linewidth=2, label="forecast")
        ax.fill_between(frame["date"], frame["confidence_lower"], frame["confidence_upper"], color="#1f77b4",
                        alpha=0.2, label=f"{forecaster.interval_level:.0%} interval")
        title = "total" if params["level"] == "total" else f"{params['level']} {params.get('id')}"
        ax.set_title(f"Sales forecast ({title}), {model.algorithm} v{model.version}")
        ax.set_ylabel("sales")
        ax.legend(loc="upper left")
        fig.autofmt_xdate()
        return png_response(fig)


urlpatterns: list[URLPattern] = [
    path("train-sales-forecast/", TrainSalesForecastView.as_view(), name="train-sales-forecast"),
    path("predict-sales/", PredictSalesView.as_view(), name="predict-sales"),
    path("sales-forecast/plot/", SalesForecastPlotView.as_view(), name="sales-forecast-plot"),
]
