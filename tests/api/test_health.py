"""/health: the status for anyone, the details for staff; a broken active artifact is "degraded".

The adversarial probe found that /health showed the database host and port to anyone on a wrong
port, and said "ok" while an active artifact was corrupt.
"""
from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import pytest
from django.db import OperationalError, ProgrammingError
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from ml_predictions.models import MLModel
from ml_predictions.training import registry
from ml_predictions.training.registry import get_storage, register_model

pytestmark = pytest.mark.django_db

LEAK = 'connection to server at "db.internal" (10.0.0.7), port 5433 failed: Connection refused'


def _artifact_file(model: MLModel) -> Path:
    return Path(get_storage().path(model.artifact_path))


def test_anonymous_callers_get_the_status_alone(client):
    register_model(model_type="inventory", artifact={"k": 1}, algorithm="policy")
    res = client.get("/health")
    assert res.status_code == 200
    assert res.json() == {"status": "ok"}


def test_staff_get_database_versions_and_each_active_artifact(staff_client):
    model = register_model(model_type="inventory", artifact={"k": 1}, algorithm="policy")
    res = staff_client.get("/health")
    assert res.status_code == 200
    body = res.json()
    assert body["status"] == "ok" and body["database"]["ok"] is True and body["database"]["vendor"]
    assert body["active_models"]["inventory"] == {
        "id": str(model.pk), "version": 1, "trained_at": body["active_models"]["inventory"]["trained_at"],
        "artifact": "ok"}
    assert body["active_models"]["sales_forecast"] is None
    assert "scikit-learn" in body["versions"]


def test_a_staff_jwt_gets_details_and_a_bad_token_is_anonymous_not_401(staff_user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(staff_user)}")
    assert "active_models" in client.get("/health").json()
    client.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
    res = client.get("/health")
    assert res.status_code == 200 and res.json() == {"status": "ok"}


def test_a_signed_in_non_staff_user_gets_the_status_alone(user_client):
    assert user_client.get("/health").json() == {"status": "ok"}


@pytest.mark.parametrize("how", ["corrupt", "missing", "same_size"])
def test_a_broken_active_artifact_is_degraded_for_everyone(client, staff_client, how):
    model = register_model(model_type="sales_forecast", artifact={"w": list(range(50))}, algorithm="linear")
    register_model(model_type="inventory", artifact={"k": 1}, algorithm="policy")
    assert staff_client.get("/health").json()["status"] == "ok"  # verdicts cached while the file is unchanged
    path = _artifact_file(model)
    if how == "missing":
        path.unlink()
    elif how == "corrupt":
        path.write_bytes(b"not a joblib file")
    else:  # one byte flipped: the size alone cannot tell, the hash must
        data = bytearray(path.read_bytes())
        data[-1] ^= 0xFF
        path.write_bytes(bytes(data))
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    res = staff_client.get("/health")
    assert res.status_code == 200, "degraded keeps the service up: a retrain or rollback needs it"
    body = res.json()
    assert body["status"] == "degraded"
    assert body["active_models"]["sales_forecast"]["artifact"] == ("missing" if how == "missing" else "corrupt")
    assert body["active_models"]["inventory"]["artifact"] == "ok"
    assert client.get("/health").json() == {"status": "degraded"}


def test_a_row_without_a_recorded_hash_is_unverified(staff_client):
    model = register_model(model_type="inventory", artifact={"k": 1}, algorithm="policy")
    MLModel.objects.filter(pk=model.pk).update(artifact_sha256="")
    body = staff_client.get("/health").json()
    assert body["status"] == "degraded"
    assert body["active_models"]["inventory"]["artifact"] == "unverified"


def test_the_file_is_hashed_once_while_it_is_unchanged(staff_client):
    register_model(model_type="inventory", artifact={"k": 1}, algorithm="policy")
    registry.clear_artifact_cache()
    with mock.patch.object(registry.hashlib, "sha256", wraps=registry.hashlib.sha256) as sha:
        for _ in range(3):
            assert staff_client.get("/health").json()["status"] == "ok"
    assert sha.call_count == 1


def test_an_unreachable_database_is_503_without_connection_details_for_anonymous(client, staff_client):
    with mock.patch("ml_predictions.dashboard.health.connection.cursor", side_effect=OperationalError(LEAK)):
        anonymous = client.get("/health")
        staff = staff_client.get("/health")
    assert anonymous.status_code == 503
    assert anonymous.json() == {"status": "error"}
    assert b"5433" not in anonymous.content and b"db.internal" not in anonymous.content
    assert staff.status_code == 503
    assert staff.json()["database"] == {"vendor": staff.json()["database"]["vendor"], "ok": False, "error": LEAK}


def test_unreadable_tables_are_503_with_a_migrate_hint_for_staff(client, staff_client):
    with mock.patch.object(MLModel.objects, "filter", side_effect=ProgrammingError("no such table: x")):
        res = staff_client.get("/health")
        anonymous = client.get("/health")
    assert res.status_code == 503
    body = res.json()
    assert body["status"] == "error" and body["database"]["ok"] is False
    assert "migrate" in body["database"]["error"]
    assert anonymous.status_code == 503 and anonymous.json() == {"status": "error"}
