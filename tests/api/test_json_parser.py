"""Request bodies that must not crash the JSON parser: a 400 in the documented error shape, never a 500."""
from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient


@pytest.mark.django_db
def test_deeply_nested_json_is_a_400_in_the_error_shape_not_a_recursion_error():
    body = '{"a": ' + "[" * 3000 + "]" * 3000 + "}"
    response = APIClient().post("/api/auth/token/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["success"] is False and "nested deeper" in response.json()["error"]["message"]


@pytest.mark.django_db
def test_brackets_inside_strings_do_not_count_as_nesting():
    body = json.dumps({"username": "[" * 200, "password": "{" * 200})
    response = APIClient().post("/api/auth/token/", body, content_type="application/json")
    assert response.status_code == 401  # parsed fine; wrong credentials


@pytest.mark.django_db
def test_invalid_json_is_a_400_in_the_error_shape():
    response = APIClient().post("/api/auth/token/", '{"username": NaN', content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "parse_error"
