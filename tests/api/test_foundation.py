"""Authorization matrix, error shape, registry viewsets, alert resolution, health and schema."""
from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework_simplejwt.tokens import RefreshToken

from ml_predictions.models import InventoryAlert, MLTrainingLog, Prediction
from ml_predictions.training.registry import register_model

LIST_URLS = ["/api/ml/models/", "/api/ml/predictions/", "/api/ml/inventory-alerts/", "/api/ml/training-logs/"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", LIST_URLS)
def test_authorization_matrix(url, anon_client, user_client, staff_client):
    anon = anon_client.get(url)
    assert anon.status_code == 401
    assert anon.json()["success"] is False
    assert anon.json()["error"]["code"] == "not_authenticated"
    assert user_client.get(url).status_code == 403
    ok = staff_client.get(url)
    assert ok.status_code == 200
    assert set(ok.json()) >= {"count", "results"}


@pytest.mark.django_db
def test_superuser_without_staff_flag_is_allowed(superuser):
    from rest_framework.test import APIClient

    superuser.is_staff = False
    superuser.save()
    client = APIClient()
    client.force_authenticate(superuser)
    assert client.get("/api/ml/models/").status_code == 200


@pytest.mark.django_db
def test_jwt_flow_staff_lists_models(staff_user, client):
    token = client.post("/api/auth/token/", {"username": "staff", "password": "pw-staff-123"},
                        content_type="application/json")
    assert token.status_code == 200
    access = token.json()["access"]
    register_model(model_type="sales_forecast", artifact={"w": [1, 2]}, algorithm="linear", metrics={"test_r2": 0.5})
    res = client.get("/api/ml/models/", HTTP_AUTHORIZATION=f"Bearer {access}")
    assert res.status_code == 200
    body = res.json()
    assert body["count"] == 1
    assert body["results"][0]["model_type"] == "sales_forecast"
    assert body["results"][0]["metrics"] == {"test_r2": 0.5}
    assert body["results"][0]["is_active"] is True


@pytest.mark.django_db
def test_jwt_of_non_staff_is_forbidden(plain_user, client):
    access = str(RefreshToken.for_user(plain_user).access_token)
    res = client.get("/api/ml/models/", HTTP_AUTHORIZATION=f"Bearer {access}")
    assert res.status_code == 403
    assert "staff" in res.json()["error"]["message"].lower()


@pytest.mark.django_db
def test_bad_token_is_401(client):
    res = client.get("/api/ml/models/", HTTP_AUTHORIZATION="Bearer not-a-token")
    assert res.status_code == 401


@pytest.mark.django_db
def test_permission_classes_are_configurable(settings, user_client):
    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS,
                               "PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"]}
    assert user_client.get("/api/ml/models/").status_code == 200


@pytest.mark.django_db
def test_model_filters_and_ordering(staff_client):
    for i in range(3):
        register_model(model_type="sales_forecast", artifact={"i": i}, algorithm="linear")
    register_model(model_type="customer_segmentation", artifact={}, algorithm="kmeans")
    res = staff_client.get("/api/ml/models/?model_type=sales_forecast&ordering=version")
    versions = [m["version"] for m in res.json()["results"]]
    assert versions == [1, 2, 3]
    active = staff_client.get("/api/ml/models/?is_active=true").json()
    assert sorted(m["model_type"] for m in active["results"]) == ["customer_segmentation", "sales_forecast"]


@pytest.mark.django_db
def test_unknown_ids_are_404_in_error_shape(staff_client):
    res = staff_client.get("/api/ml/models/00000000-0000-0000-0000-000000000000/")
    assert res.status_code == 404
    assert res.json()["error"]["code"] == "not_found"
    assert staff_client.get("/api/ml/models/not-a-uuid/").status_code == 404


@pytest.mark.django_db
def test_resolve_alert_records_who_and_when(staff_client, staff_user):
    alert = InventoryAlert.objects.create(product_id="p1", product_name="Vestido", alert_type="low_stock",
                                          current_stock=2, urgency_level=4)
    res = staff_client.post(f"/api/ml/inventory-alerts/{alert.pk}/resolve/", {"note": "ordered 20"}, format="json")
    assert res.status_code == 200
    assert res.json()["status"] == "resolved"
    alert.refresh_from_db()
    assert alert.status == "resolved" and alert.resolved_by == staff_user and alert.resolved_at is not None
    assert "ordered 20" in alert.message
    again = staff_client.post(f"/api/ml/inventory-alerts/{alert.pk}/resolve/")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"


@pytest.mark.django_db
def test_resolve_requires_staff(user_client, anon_client):
    alert = InventoryAlert.objects.create(product_id="p1", product_name="x", alert_type="low_stock", current_stock=1)
    assert anon_client.post(f"/api/ml/inventory-alerts/{alert.pk}/resolve/").status_code == 401
    assert user_client.post(f"/api/ml/inventory-alerts/{alert.pk}/resolve/").status_code == 403
    alert.refresh_from_db()
    assert alert.status == "open"


@pytest.mark.django_db
def test_alert_filters(staff_client):
    InventoryAlert.objects.create(product_id="a", product_name="A", alert_type="low_stock", current_stock=1, urgency_level=2)
    InventoryAlert.objects.create(product_id="b", product_name="B", alert_type="overstock", current_stock=99, urgency_level=5)
    res = staff_client.get("/api/ml/inventory-alerts/?urgency_level__gte=4").json()
    assert [a["product_id"] for a in res["results"]] == ["b"]
    res = staff_client.get("/api/ml/inventory-alerts/?alert_type=low_stock").json()
    assert [a["product_id"] for a in res["results"]] == ["a"]


@pytest.mark.django_db
def test_predictions_and_logs_are_listed(staff_client):
    Prediction.objects.create(kind="sales_forecast", target="total", input={"days_ahead": 7}, output={"x": 1})
    MLTrainingLog.objects.create(model_type="inventory", status="succeeded", progress=100)
    assert staff_client.get("/api/ml/predictions/?kind=sales_forecast").json()["count"] == 1
    assert staff_client.get("/api/ml/training-logs/?status=succeeded").json()["count"] == 1


@pytest.mark.django_db
def test_openapi_schema_lists_every_ml_endpoint(staff_client):
    res = staff_client.get(reverse("schema") + "?format=json")
    assert res.status_code == 200
    paths = res.json()["paths"]
    for url in LIST_URLS:
        assert url in paths
    assert "/api/ml/inventory-alerts/{id}/resolve/" in paths
    assert "/health" in paths
    # every operation of the API documents at least one response example
    without = [
        f"{method.upper()} {path}"
        for path, ops in paths.items() if path.startswith(("/api/ml/", "/api/auth/"))
        for method, op in ops.items() if method in {"get", "post"}
        and not any(c.get("examples") or c.get("example")
                    for r in op.get("responses", {}).values() for c in r.get("content", {}).values())
    ]
    assert without == []


@pytest.mark.django_db
def test_swagger_ui_is_served(client):
    assert client.get("/api/docs/").status_code == 200
