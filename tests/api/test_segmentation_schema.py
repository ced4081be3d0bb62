"""The segmentation tables, predict and apply answer what their OpenAPI schema says, checked with jsonschema.

The response serializers of these routes only document rows the views read from the per-customer table or
compute from posted data, so a field renamed in a selector and not in the schema would go unnoticed without
checking real answers against the generated schema.
"""
from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator

from ml_predictions.models import CustomerSegmentAssignment
from tests.api.test_segmentation import RFM_ROWS
from tests.shared import SegmentedSmallShop

pytestmark = pytest.mark.django_db


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` as JSON Schema's null type; $refs point into `definitions`."""
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items() if k != "nullable"}
    if "$ref" in out:
        out["$ref"] = out["$ref"].replace("#/components/schemas/", "#/definitions/")
    if node.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


@pytest.fixture(scope="module")
def openapi():
    return SchemaGenerator().get_schema(request=None, public=True)


def check(openapi: dict, method: str, path: str, body: Any) -> None:
    schema = openapi["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
    assert "$ref" in schema, f"{method} {path} is not typed"
    document = {**_json_schema(schema), "definitions": _json_schema(openapi["components"]["schemas"])}
    jsonschema.validate(body, document)


def test_apply_answers_its_schema_in_both_output_modes(openapi, staff_client):
    per_customer = staff_client.post("/api/ml/segments/apply/", {"rfm": RFM_ROWS}, format="json")
    assert per_customer.status_code == 200
    check(openapi, "post", "/api/ml/segments/apply/", per_customer.json())
    sales = [{"sale_id": i, "customer_id": c, "date": d, "amount": a}
             for i, (c, d, a) in enumerate([(1, "2025-01-05", 120), (1, "2025-02-10", 80), (2, "2024-03-01", 10),
                                            (3, "2025-02-01", 500), (4, "2024-02-01", 15), (5, "2025-01-20", 60)])]
    per_sale = staff_client.post("/api/ml/segments/apply/", {"sales": sales, "output_mode": "per_transaction"},
                                 format="json")
    assert per_sale.status_code == 200, per_sale.content
    check(openapi, "post", "/api/ml/segments/apply/", per_sale.json())


class TestTrainedSegmentation(SegmentedSmallShop):
    """Read-only tests of one k=6 segmentation of the small shop, trained once."""

    def test_the_checker_refuses_a_wrong_type(self, openapi, trained, staff_client):
        body = staff_client.get("/api/ml/rfm/").json()
        check(openapi, "get", "/api/ml/rfm/", body)
        body["results"][0]["frequency"] = "many"
        with pytest.raises(jsonschema.ValidationError):
            check(openapi, "get", "/api/ml/rfm/", body)
        del body["count"]
        with pytest.raises(jsonschema.ValidationError):
            check(openapi, "get", "/api/ml/rfm/", {**body, "results": body["results"][1:]})


    def test_tables_and_predict_answer_their_schema(self, openapi, trained, staff_client):
        check(openapi, "get", "/api/ml/rfm/standardized/", staff_client.get("/api/ml/rfm/standardized/").json())
        members = staff_client.get("/api/ml/segments/vip/customers/").json()
        assert members["results"]
        check(openapi, "get", "/api/ml/segments/{segment}/customers/", members)
        ids = list(CustomerSegmentAssignment.objects.values_list("customer_id", flat=True)[:2])
        stored = staff_client.post("/api/ml/segments/predict/", {"customer_ids": [*ids, "ghost"]}, format="json")
        check(openapi, "post", "/api/ml/segments/predict/", stored.json())
        raw = staff_client.post("/api/ml/segments/predict/", {"customers": [
            {"recency_days": 2, "frequency": 40, "monetary": 40000}]}, format="json")
        assert raw.status_code == 200
        check(openapi, "post", "/api/ml/segments/predict/", raw.json())
