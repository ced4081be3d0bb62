"""Every success response in the OpenAPI schema has a real shape, not a bare `object`.

Operations of the capability modules that are still untyped are listed in UNTYPED_ALLOWED; the test
fails on a new untyped operation and on a listed one that became typed (remove it from the list).
"""
from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

# (method, path, status) of 2xx JSON responses still documented as a bare object. Shrink it, never grow it.
UNTYPED_ALLOWED: set[tuple[str, str, str]] = set()


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _bare(node: dict) -> bool:
    """A schema that says nothing but "object" (drf-spectacular's OpenApiTypes.OBJECT)."""
    return "$ref" not in node and node.get("type") == "object" and not node.get("properties")


def untyped_success_responses(schema: dict) -> set[tuple[str, str, str]]:
    found = set()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for code, response in operation.get("responses", {}).items():
                content = (response.get("content") or {}).get("application/json")
                if str(code).startswith("2") and content and _bare(content.get("schema", {})):
                    found.add((method.upper(), path, str(code)))
    return found


def test_the_counter_sees_a_bare_object():
    fake = {"paths": {"/x/": {"get": {"responses": {
        "200": {"content": {"application/json": {"schema": {"type": "object", "additionalProperties": {}}}}},
        "400": {"content": {"application/json": {"schema": {"type": "object"}}}},
    }}, "post": {"responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/c/X"}}}}}}}}}
    assert untyped_success_responses(fake) == {("GET", "/x/", "200")}


def test_no_new_untyped_success_response(schema):
    new = untyped_success_responses(schema) - UNTYPED_ALLOWED
    assert not new, f"type these responses with an output serializer: {sorted(new)}"


def test_allowlist_only_holds_untyped_responses(schema):
    fixed = UNTYPED_ALLOWED - untyped_success_responses(schema)
    assert not fixed, f"now typed, remove from UNTYPED_ALLOWED: {sorted(fixed)}"


@pytest.mark.parametrize(("method", "path"), [
    ("post", "/api/ml/retrain/"), ("post", "/api/ml/train-sales-forecast/"),
    ("post", "/api/ml/models/{id}/activate/"), ("post", "/api/ml/inventory-alerts/{id}/resolve/"),
])
def test_errors_are_documented_in_the_error_shape(schema, method, path):
    responses = schema["paths"][path][method]["responses"]
    errors = {code: r for code, r in responses.items() if code.startswith(("4", "5"))}
    assert "409" in errors
    for response in errors.values():
        assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_nullable_user_fields(schema):
    components = schema["components"]["schemas"]
    assert components["MLTrainingLog"]["properties"]["triggered_by"]["nullable"] is True
    assert components["InventoryAlert"]["properties"]["resolved_by"]["nullable"] is True


def _required(schema: dict, name: str) -> set[str]:
    return set(schema["components"]["schemas"][name]["required"])


@pytest.mark.django_db
def test_train_and_activate_answers_hold_their_documented_keys(schema, staff_client, monkeypatch):
    from ml_predictions.training import trainers

    monkeypatch.setitem(trainers._REGISTERED, "inventory", "tests.operations_fakes.quick_trainer")
    trained = staff_client.post("/api/ml/retrain/", {"model_type": "inventory"}, format="json")
    assert trained.status_code == 200
    assert _required(schema, "TrainingResult") <= set(trained.json())
    again = staff_client.post(f"/api/ml/models/{trained.json()['model_id']}/activate/")
    assert again.status_code == 200 and _required(schema, "ActivateModelOutput") <= set(again.json())
    monkeypatch.setitem(trainers._REGISTERED, "inventory", "tests.operations_fakes.failing_trainer")
    failed = staff_client.post("/api/ml/retrain/", {"model_type": "inventory"}, format="json")
    assert failed.status_code == 422
    assert _required(schema, "Error") <= set(failed.json())
    assert _required(schema, "ErrorDetail") <= set(failed.json()["error"])
