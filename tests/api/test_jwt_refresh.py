"""The host's JWT endpoints: a refresh token is rotated on use and the old one is blacklisted."""
from __future__ import annotations

import pytest
from rest_framework.test import APIClient


@pytest.fixture
def tokens(staff_user):
    response = APIClient().post("/api/auth/token/", {"username": "staff", "password": "pw-staff-123"}, format="json")
    assert response.status_code == 200
    return response.json()


def test_a_refresh_token_is_rotated_and_the_old_one_refused(tokens):
    client = APIClient()
    first = client.post("/api/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
    assert first.status_code == 200
    assert first.json()["refresh"] != tokens["refresh"] and first.json()["access"]
    reused = client.post("/api/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
    assert reused.status_code == 401
    assert reused.json()["success"] is False and reused.json()["error"]["code"] == "token_not_valid"
    # the rotated one still works, once
    assert client.post("/api/auth/token/refresh/", {"refresh": first.json()["refresh"]}, format="json").status_code == 200
