"""API routes and views of the recommendations capability (the spec's recommendation section).

Each view: input serializer -> one service -> output serializer (which is also the OpenAPI shape).
"""
from __future__ import annotations

from django.urls import URLPattern, path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from ml_predictions.api.base import MLAPIView
from ml_predictions.api.fields import StrictInputSerializer
from ml_predictions.api.training import TRAIN_RESPONSES, training_response
from ml_predictions.capabilities.recommendations import services
from ml_predictions.conf import ml_settings
from ml_predictions.estimators.recommendation import METHODS, NORMALIZATIONS
from ml_predictions.models import ModelType


class TrainRecommendationInput(StrictInputSerializer):
    normalization = serializers.ChoiceField(
        choices=["auto", *NORMALIZATIONS], required=False,
        help_text="Co-occurrence normalization; 'auto' picks it by offline evaluation.",
    )
    customer_weight = serializers.FloatField(required=False, min_value=0.0, max_value=10.0)
    content_weight = serializers.FloatField(required=False, min_value=0.0, max_value=10.0,
                                            help_text="Fixes the hybrid's content weight instead of tuning it.")
    popularity_weight = serializers.FloatField(required=False, min_value=0.0, max_value=10.0)
    max_basket_size = serializers.IntegerField(required=False, min_value=2, max_value=10000)
    test_fraction = serializers.FloatField(required=False, min_value=0.02, max_value=0.5)
    evaluate = serializers.BooleanField(required=False, default=True,
                                        help_text="Run the offline evaluation (time-based holdout) first.")
    evaluation_queries = serializers.IntegerField(
        required=False, min_value=1, max_value=1_000_000,
        help_text="At most this many held-out baskets and customers are evaluated (a seeded sample); "
                  "default RECOMMENDATION_EVALUATION_QUERIES (5,000).")


def _top_n_field() -> serializers.IntegerField:
    return serializers.IntegerField(required=False, default=10, min_value=1, max_value=1000)


class ProductRecommendationQuery(serializers.Serializer):
    top_n = _top_n_field()
    method = serializers.ChoiceField(choices=list(METHODS), required=False, default="hybrid")
    include_unavailable = serializers.BooleanField(required=False, default=False)

    def validate_top_n(self, value: int) -> int:
        limit = int(ml_settings.RECOMMENDATION_TOP_K)
        if value > limit:
            raise serializers.ValidationError(f"top_n must be between 1 and {limit}.")
        return value


class CustomerRecommendationQuery(serializers.Serializer):
    top_n = _top_n_field()
    include_purchased = serializers.BooleanField(required=False, default=False)

    validate_top_n = ProductRecommendationQuery.validate_top_n


class RecommendationItem(serializers.Serializer):
    product_id = serializers.CharField()
    product_name = serializers.CharField()
    similarity_score = serializers.FloatField()
    price = serializers.FloatField(allow_null=True)
    image_url = serializers.CharField(allow_null=True)
    rank = serializers.IntegerField(min_value=1)


class _RecommendationList(serializers.Serializer):
    success = serializers.BooleanField()
    strategy = serializers.CharField(help_text="hybrid / bought_together / similar, content_cold_start, "
                                               "popular_in_category, popular, history")
    model_id = serializers.CharField()
    recommendations = RecommendationItem(many=True)
    filtered_unavailable = serializers.IntegerField(
        min_value=0, help_text="How many inactive / out-of-stock products the unfiltered list of top_n would "
                               "have shown (0 with include_unavailable=true; unknown stock is never filtered).")


class ProductRecommendationsOutput(_RecommendationList):
    source_product_id = serializers.CharField()
    method = serializers.ChoiceField(choices=list(METHODS))


class CustomerRecommendationsOutput(_RecommendationList):
    customer_id = serializers.CharField()
    history_size = serializers.IntegerField(min_value=0)


TRAIN_EXAMPLE = {
    "success": True,
    "message": "Product recommendation model trained successfully",
    "model_id": "5d0c6d3e-3a57-4b43-9a57-0f1b0a6c1f20",
    "version": 1,
    "metrics": {
        "total_products": 150,
        "matrix_shape": [150, 150],
        "avg_similarity": 0.23,
        "method": "hybrid",
        "nnz": 8412,
        "normalization": "cosine",
        "weights": {"bought_together": 1.0, "similar": 0.05, "popularity": 0.05},
        "training_time_seconds": 1.82,
        "recall_at_10": 0.41,
        "precision_at_10": 0.07,
        "ndcg_at_10": 0.29,
        "coverage": 0.78,
        "popularity_recall_at_10": 0.17,
        "offline_evaluation": {
            "test_orders": 300,
            "item": {
                "hybrid": {"precision_at_10": 0.07, "recall_at_10": 0.41, "ndcg_at_10": 0.29, "coverage": 0.78},
                "popularity": {"precision_at_10": 0.03, "recall_at_10": 0.17, "ndcg_at_10": 0.1, "coverage": 0.07},
            },
        },
    },
    "duration_seconds": 1.9,
    "training_log_id": "0a4b…",
}

PRODUCT_EXAMPLE = {
    "success": True,
    "source_product_id": "2b9f0c1e-0d55-4bb4-9d0e-8f4c55d8e0a1",
    "method": "hybrid",
    "strategy": "hybrid",
    "model_id": "5d0c6d3e-3a57-4b43-9a57-0f1b0a6c1f20",
    "recommendations": [
        {
            "product_id": "7c1d2f6a-1b2c-4d3e-8f90-1a2b3c4d5e6f",
            "product_name": "Camisa Polo Azul",
            "similarity_score": 0.87,
            "price": 150.0,
            "image_url": "https://cdn.example.com/products/sku-000123.jpg",
            "rank": 1,
        }
    ],
    "filtered_unavailable": 0,
}

CUSTOMER_EXAMPLE = {
    "success": True,
    "customer_id": "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
    "strategy": "history",
    "history_size": 7,
    "model_id": "5d0c6d3e-3a57-4b43-9a57-0f1b0a6c1f20",
    "recommendations": PRODUCT_EXAMPLE["recommendations"],
    "filtered_unavailable": 0,
}

ERROR_EXAMPLES = [
    OpenApiExample("Unknown product", status_codes=["404"], response_only=True, value={
        "success": False, "error": {"code": "not_found", "message": "product_id 123 does not exist.",
                                    "fields": {"product_id": ["product_id 123 does not exist."]}}}),
    OpenApiExample("top_n out of range", status_codes=["400"], response_only=True, value={
        "success": False, "error": {"code": "invalid", "message": "top_n: top_n must be between 1 and 50.",
                                    "fields": {"top_n": ["top_n must be between 1 and 50."]}}}),
    OpenApiExample("No model", status_codes=["409"], response_only=True, value={
        "success": False, "error": {"code": "no_active_model",
                                    "message": "No active product_recommendation model. Train one first …"}}),
]


class TrainProductRecommendationView(MLAPIView):
    @extend_schema(
        summary="Train the product recommendation model",
        description=(
            "Reads all orders, runs the offline evaluation (last orders held out by time; normalization and "
            "hybrid weights tuned on the period before them), then fits on all orders and precomputes the "
            "top-N lists. 200 with the result under the immediate task backend, 202 + status_url otherwise."
        ),
        request=TrainRecommendationInput,
        responses=TRAIN_RESPONSES,
        examples=[
            OpenApiExample("Request", value={"normalization": "auto", "evaluate": True}, request_only=True),
            OpenApiExample("Trained", value=TRAIN_EXAMPLE, response_only=True, status_codes=["200"]),
        ],
    )
    def post(self, request):
        serializer = TrainRecommendationInput(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        return training_response(request, ModelType.PRODUCT_RECOMMENDATION, dict(serializer.validated_data))


class ProductRecommendationsView(MLAPIView):
    @extend_schema(
        summary="Recommendations for a product",
        description=(
            "hybrid (default) blends bought-together, content similarity and popularity; a product without "
            "purchases gets content neighbours; a product added after training gets its category's "
            "best-sellers. Inactive / out-of-stock products are left out unless include_unavailable=true "
            "(unknown stock is not out of stock); filtered_unavailable says how many of the top_n were left out."
        ),
        parameters=[
            OpenApiParameter("top_n", int, description="1 … RECOMMENDATION_TOP_K (default 50)", default=10),
            OpenApiParameter("method", str, enum=list(METHODS), default="hybrid"),
            OpenApiParameter("include_unavailable", bool, default=False),
        ],
        responses={200: ProductRecommendationsOutput, 400: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT,
                   409: OpenApiTypes.OBJECT},
        examples=[OpenApiExample("Recommendations", value=PRODUCT_EXAMPLE, response_only=True,
                                 status_codes=["200"]), *ERROR_EXAMPLES],
    )
    def get(self, request, product_id: str):
        query = ProductRecommendationQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(services.product_recommendations(
            product_id, user=request.user, present=lambda body: ProductRecommendationsOutput(body).data,
            **query.validated_data))


class CustomerRecommendationsView(MLAPIView):
    @extend_schema(
        summary="Recommendations for a customer",
        description=(
            "Discovery (default): the neighbour lists of the customer's recent products, products the customer "
            "already bought left out. include_purchased=true: the buy-again list (the customer's own repeat "
            "rate with recency decay blended with those neighbours, tuned at training). A customer without "
            "orders gets the best-sellers."
        ),
        parameters=[
            OpenApiParameter("top_n", int, description="1 … RECOMMENDATION_TOP_K (default 50)", default=10),
            OpenApiParameter("include_purchased", bool, default=False),
        ],
        responses={200: CustomerRecommendationsOutput, 400: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT,
                   409: OpenApiTypes.OBJECT},
        examples=[OpenApiExample("Recommendations", value=CUSTOMER_EXAMPLE, response_only=True,
                                 status_codes=["200"]), *ERROR_EXAMPLES],
    )
    def get(self, request, customer_id: str):
        query = CustomerRecommendationQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(services.customer_recommendations(
            customer_id, user=request.user, present=lambda body: CustomerRecommendationsOutput(body).data,
            **query.validated_data))


urlpatterns: list[URLPattern] = [
    path("train-product-recommendation/", TrainProductRecommendationView.as_view(),
         name="train-product-recommendation"),
    path("product-recommendations/<str:product_id>/", ProductRecommendationsView.as_view(),
         name="product-recommendations"),
    path("customer-recommendations/<str:customer_id>/", CustomerRecommendationsView.as_view(),
         name="customer-recommendations"),
]
