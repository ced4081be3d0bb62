"""The API behaves as documented in a host with no REST_FRAMEWORK setting at all, and the host can still
swap each part through ML_PREDICTIONS; the system checks warn about the immediate task backend and
misspelt keys."""
from __future__ import annotations

import pytest
from django.core.checks import run_checks
from django.test import override_settings
from rest_framework_simplejwt.tokens import RefreshToken

from ml_predictions.training.registry import register_model

BARE_HOST = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}


def _bearer(user) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {RefreshToken.for_user(user).access_token}"}


@pytest.mark.django_db
@override_settings(REST_FRAMEWORK=BARE_HOST)
def test_bare_host_gets_jwt_errors_filters_and_pagination(client, staff_user, plain_user):
    for _ in range(3):
        register_model(model_type="sales_forecast", artifact={}, algorithm="linear")
    register_model(model_type="customer_segmentation", artifact={}, algorithm="kmeans")

    listed = client.get("/api/ml/models/?model_type=sales_forecast&page_size=2", **_bearer(staff_user))
    assert listed.status_code == 200
    body = listed.json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]
    assert {row["model_type"] for row in body["results"]} == {"sales_forecast"}

    anon = client.get("/api/ml/models/")
    assert anon.status_code == 401
    assert anon.json()["error"]["code"] == "not_authenticated"
    assert anon.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/ml/models/", **_bearer(plain_user)).status_code == 403

    bad = client.post("/api/ml/predict-sales/", {"days_ahead": -3}, content_type="application/json",
                      **_bearer(staff_user))
    assert bad.status_code == 400
    assert bad.json()["success"] is False and "days_ahead" in bad.json()["error"]["fields"]


@pytest.mark.django_db
@override_settings(REST_FRAMEWORK=BARE_HOST)
def test_session_login_works_and_api_root_is_protected(client, staff_user):
    assert client.get("/api/ml/").status_code == 401
    client.force_login(staff_user)
    root = client.get("/api/ml/", HTTP_ACCEPT="application/json")
    assert root.status_code == 200
    assert "models" in root.json()


@pytest.mark.django_db
def test_parts_are_overridable_by_settings(settings, client, staff_user):
    register_model(model_type="sales_forecast", artifact={}, algorithm="linear")
    settings.ML_PREDICTIONS = {
        **settings.ML_PREDICTIONS,
        "AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
        "PAGINATION_CLASS": None,
        "FILTER_BACKENDS": [],
    }
    # JWT no longer accepted: the session authenticator answers 403 (no WWW-Authenticate challenge)
    assert client.get("/api/ml/models/", **_bearer(staff_user)).status_code == 403
    client.force_login(staff_user)
    res = client.get("/api/ml/models/?model_type=customer_segmentation")
    assert res.status_code == 200
    assert isinstance(res.json(), list) and len(res.json()) == 1  # no pagination, no filter


def _ids(**overrides) -> set[str]:
    with override_settings(**overrides):
        return {m.id for m in run_checks(include_deployment_checks=False)}


@pytest.mark.django_db
def test_checks_warn_on_immediate_backend_and_unknown_keys(settings):
    immediate = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    database = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    assert "ml_predictions.W001" in _ids(TASKS=immediate)
    assert "ml_predictions.W001" not in _ids(TASKS=database)
    typo = {**settings.ML_PREDICTIONS, "ORDER_ITEMS_MODEL": "shop.OrderItem"}
    assert "ml_predictions.W002" in _ids(TASKS=database, ML_PREDICTIONS=typo)
    assert "ml_predictions.W002" not in _ids(TASKS=database)
