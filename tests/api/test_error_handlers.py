"""Every /api/ answer is JSON in the documented error shape: unknown routes, oversized bodies and bugs
(a 500 that carries the correlation id of its logged traceback, and never the exception's text)."""
from __future__ import annotations

import json
import logging

import pytest
from django.db import OperationalError
from django.test import RequestFactory

from ml_predictions.api import fallback
from ml_predictions.api.views import MLModelViewSet
from ml_predictions.training import trainers

pytestmark = pytest.mark.django_db

DB_TEXT = 'could not connect to server: Connection refused. Is the server running on host "db.internal" port 5433?'


def _shape(res, status: int, code: str) -> dict:
    assert res.status_code == status, res.content[:300]
    assert res["Content-Type"].startswith("application/json")
    body = json.loads(res.content)
    assert body["success"] is False and body["error"]["code"] == code
    return body["error"]


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_unknown_route_under_the_plugin_is_a_json_404(staff_client, anon_client, method):
    for client in (staff_client, anon_client):
        error = _shape(getattr(client, method)("/api/ml/no-such-thing/"), 404, "not_found")
        assert "/api/ml/no-such-thing/" in error["message"]


def test_missing_slash_is_a_json_404_that_names_the_route(staff_client):
    error = _shape(staff_client.get("/api/ml/models"), 404, "not_found")
    assert "/api/ml/models/" in error["message"]


def test_host_handlers_answer_json_under_api_only(settings, client):
    settings.DEBUG = False
    error = _shape(client.get("/api/auth/nope/"), 404, "not_found")
    assert "/api/auth/nope/" in error["message"]
    page = client.get("/definitely-not-here/")
    assert page.status_code == 404 and not page["Content-Type"].startswith("application/json")

    request = RequestFactory().get("/api/auth/token/", HTTP_X_REQUEST_ID="proxy-id-12345678")
    res = fallback.handler500(request)
    error = _shape(res, 500, "server_error")
    assert error["request_id"] == res["X-Request-ID"] == "proxy-id-12345678"
    assert fallback.handler500(RequestFactory().get("/admin/")).status_code == 500


def test_unexpected_exception_is_a_json_500_with_the_logged_id(staff_client, monkeypatch, caplog):
    def broken(self, request, *args, **kwargs):
        raise OperationalError(DB_TEXT)

    monkeypatch.setattr(MLModelViewSet, "list", broken)
    with caplog.at_level(logging.ERROR, logger="ml_predictions.api"):
        res = staff_client.get("/api/ml/models/")
    error = _shape(res, 500, "server_error")
    rid = error["request_id"]
    assert len(rid) >= 8 and res["X-Request-ID"] == rid
    assert "db.internal" not in res.content.decode() and "5433" not in res.content.decode()
    logged = [r for r in caplog.records if rid in r.getMessage()]
    assert logged and logged[0].exc_info and logged[0].exc_info[0] is OperationalError


def test_a_proxy_request_id_is_reused_and_a_bad_one_replaced(staff_client, monkeypatch):
    monkeypatch.setattr(MLModelViewSet, "list", lambda *a, **k: 1 / 0)
    res = staff_client.get("/api/ml/models/", HTTP_X_REQUEST_ID="edge-4f2a9c1e")
    assert res.json()["error"]["request_id"] == "edge-4f2a9c1e"
    res = staff_client.get("/api/ml/models/", HTTP_X_REQUEST_ID="bad id\nX-Injected: 1")
    assert res.json()["error"]["request_id"] != "bad id\nX-Injected: 1" and "\n" not in res["X-Request-ID"]


def test_body_over_the_upload_limit_is_a_json_413(settings, staff_client, anon_client):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = {"model_type": "random_forest", "padding": "x" * 2000}
    _shape(staff_client.post("/api/ml/train-sales-forecast/", body, format="json"), 413, "request_too_large")
    _shape(anon_client.post("/api/auth/token/", {"username": "u" * 2000, "password": "p"}, format="json"),
           413, "request_too_large")


def _crashing_trainer(params, progress):
    raise OperationalError(DB_TEXT)


def test_training_bug_is_a_500_whose_id_the_log_and_traceback_carry(staff_client, monkeypatch, caplog):
    monkeypatch.setitem(trainers._REGISTERED, "customer_segmentation",
                        "tests.api.test_error_handlers._crashing_trainer")
    with caplog.at_level(logging.ERROR):
        res = staff_client.post("/api/ml/train-customer-segmentation/", {"n_clusters": 3}, format="json")
    assert res.status_code == 500
    error = res.json()["error"]
    rid = error["request_id"]
    assert res["X-Request-ID"] == rid and "db.internal" not in res.content.decode()
    log = staff_client.get("/api/ml/training-logs/").json()["results"][0]
    assert log["status"] == "failed" and rid in log["error"] and "Traceback" in log["error"]
    assert any(rid in r.getMessage() and r.exc_info for r in caplog.records)
