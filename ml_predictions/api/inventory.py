"""API routes and views of the inventory capability (the spec's shapes and names).

Each view validates its query string with an input serializer (a bad filter is a 400 naming it), asks
`capabilities.inventory.reports` for its answer — the analysis on demand, because stock changes every
day, from the cache while the data source's fingerprint and the active models are unchanged, with the
stored alerts synced to it — and renders it with its output serializer. Alerts are resolved through
POST /api/ml/inventory-alerts/{id}/resolve/ (api/views.py).
"""
from __future__ import annotations

from typing import Any

from django.http import HttpResponse, HttpResponseBase
from django.urls import path
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from ml_predictions.api.base import MLAPIView
from ml_predictions.api.inventory_serializers import (
    ANALYSIS_EXAMPLE,
    BAD_FILTER_EXAMPLE,
    HEALTH_EXAMPLE,
    NO_SALES_EXAMPLE,
    REORDER_EXAMPLE,
    AnalysisFilterSerializer,
    HealthFilterSerializer,
    HealthOutputSerializer,
    InventoryAnalysisOutputSerializer,
    ReorderFilterSerializer,
    ReorderOutputSerializer,
)
from ml_predictions.api.serializers import error_responses
from ml_predictions.capabilities.inventory.answers import REPORTS, inventory_answer

ERRORS = error_responses(400, 401, 403, 422)


def _validated(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _answer(kind: str, filter_class: type[serializers.Serializer], request: Request) -> HttpResponseBase:
    """The report is already JSON-ready data in the output serializer's shape (tests/api/
    test_inventory_planner.py checks every key against it), so it is not run through DRF fields (0.1-0.3 s
    for 6k alert rows). A JSON answer is rendered once and its bytes reused while nothing it shows changed
    (`capabilities.inventory.answers`); another negotiated format (the browsable API) is rendered as usual."""
    filters = _validated(filter_class, request)
    renderer = request.accepted_renderer
    if getattr(renderer, "format", None) != "json":
        return Response(REPORTS[kind](filters))
    body = inventory_answer(kind, filters, lambda data: JSONRenderer().render(data))
    return HttpResponse(body, content_type="application/json")


class InventoryAnalysisView(MLAPIView):
    @extend_schema(
        summary="Full inventory analysis: alerts with predicted demand, stockout and order-by dates",
        description=(
            "Runs the service-level policy over every active product (demand from the product-level sales "
            "forecast when one is trained, else a robust recent average; `demand_source` says which). "
            "Each product has an ABC-XYZ class (`abc_xyz`: ABC by revenue share, XYZ by weekly demand "
            "variability) and the service level of its class; `classes` summarises them. Alert rules: see "
            "docs/inventory.md. Products without sales history, cost, lead time or stock are listed under "
            "`data_issues`, not dropped. The stored alerts are synced to this analysis; `alert_id` is the "
            "open one, usable with /inventory-alerts/{id}/resolve/."
        ),
        parameters=[AnalysisFilterSerializer],
        responses={200: InventoryAnalysisOutputSerializer, **ERRORS},
        examples=[OpenApiExample("Analysis", value=ANALYSIS_EXAMPLE, response_only=True, status_codes=["200"]),
                  BAD_FILTER_EXAMPLE, NO_SALES_EXAMPLE],
    )
    def get(self, request: Request) -> HttpResponseBase:
        return _answer("analysis", AnalysisFilterSerializer, request)


class ReorderRecommendationsView(MLAPIView):
    @extend_schema(
        summary="What to order today: products at or below their reorder point",
        description=(
            "reorder_point = daily_demand x lead time + safety stock; safety stock = z(service level of the "
            "product's class) x sqrt(L x sigma_d^2 + d^2 x sigma_L^2) (sigma_L: the product's lead-time "
            "standard deviation when known); recommended_order_quantity brings stock up to the order-up-to "
            "level (or EOQ when INVENTORY_ORDER_POLICY = 'eoq'), raised to the minimum order quantity and up "
            "to whole case packs. order_by_date: the last day an order arrives before safety stock is used. "
            "estimated_lost_revenue: demand over lead time + review period beyond the stock, at the price, if "
            "nothing is ordered. estimated_cost is null for products without a unit cost (counted in "
            "products_without_cost, left out of estimated_total_cost). priority: high (urgency 4-5), medium, low."
        ),
        parameters=[ReorderFilterSerializer],
        responses={200: ReorderOutputSerializer, **ERRORS},
        examples=[OpenApiExample("Reorder list", value=REORDER_EXAMPLE, response_only=True, status_codes=["200"]),
                  BAD_FILTER_EXAMPLE, NO_SALES_EXAMPLE],
    )
    def get(self, request: Request) -> HttpResponseBase:
        return _answer("reorder", ReorderFilterSerializer, request)


class InventoryHealthView(MLAPIView):
    @extend_schema(
        summary="Inventory health score (0-100), its parts, status and plain-language recommendations",
        description=(
            "health_score = 100 x (1 - mean product penalty); penalty per product = the largest of its "
            "alerts' (reorder_now 1.0, slow_moving 0.75, low_stock 0.5, overstock 0.5). `score_parts` lists "
            "the points lost per alert type (they add up to 100 - health_score). status: good >= 80, "
            "warning >= 60, else critical; when no product's stock is known, health_score is null and status "
            "'unknown'. metrics.low_stock counts products with reorder_now or low_stock. "
            "Recommendations are in the request's language."
        ),
        parameters=[HealthFilterSerializer],
        responses={200: HealthOutputSerializer, **ERRORS},
        examples=[OpenApiExample("Health", value=HEALTH_EXAMPLE, response_only=True, status_codes=["200"]),
                  BAD_FILTER_EXAMPLE, NO_SALES_EXAMPLE],
    )
    def get(self, request: Request) -> HttpResponseBase:
        return _answer("health", HealthFilterSerializer, request)


urlpatterns = [
    path("inventory-analysis/", InventoryAnalysisView.as_view(), name="inventory-analysis"),
    path("reorder-recommendations/", ReorderRecommendationsView.as_view(), name="reorder-recommendations"),
    path("inventory-health/", InventoryHealthView.as_view(), name="inventory-health"),
]
