"""Throttling: the token endpoint per IP and per username, the API per user; 429 in the error shape."""
from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(settings):
    def set_rates(**rates):
        settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS,
                                   "THROTTLE_RATES": {"api": None, "token_ip": None, "token_username": None, **rates}}
    return set_rates


def _login(username: str, ip: str = "10.0.0.1"):
    return APIClient(REMOTE_ADDR=ip).post("/api/auth/token/", {"username": username, "password": "wrong"},
                                          format="json")


def test_token_endpoint_is_throttled_per_ip(rates, staff_user):
    rates(token_ip="3/min")
    assert [_login(f"user{i}").status_code for i in range(4)] == [401, 401, 401, 429]
    res = _login("other", ip="10.0.0.2")
    assert res.status_code == 401  # another client is not blocked


def test_token_endpoint_is_throttled_per_username_across_ips(rates, staff_user):
    rates(token_username="3/min")
    codes = [_login("staff", ip=f"10.0.1.{i}").status_code for i in range(4)]
    assert codes == [401, 401, 401, 429]
    res = _login("staff", ip="10.0.2.1")
    assert res.status_code == 429 and res.json()["error"]["code"] == "throttled" and "Retry-After" in res
    right = APIClient().post("/api/auth/token/", {"username": "someone-else", "password": "x"}, format="json")
    assert right.status_code == 401


def test_api_is_throttled_per_user(rates, staff_client, superuser):
    rates(api="2/min")
    assert [staff_client.get("/api/ml/models/").status_code for _ in range(3)] == [200, 200, 429]
    other = APIClient()
    other.force_authenticate(superuser)
    assert other.get("/api/ml/models/").status_code == 200


def test_default_rates_limit_password_guessing(settings):
    from ml_predictions.conf import DEFAULTS

    assert DEFAULTS["THROTTLE_RATES"]["token_ip"] == "10/min"
    assert DEFAULTS["THROTTLE_RATES"]["token_username"] == "10/min"
