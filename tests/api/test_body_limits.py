"""Body limits: segments/apply accepts its documented 100,000 rows (over Django's 2.5 MB upload limit),
answers a JSON 413 beyond its own limit, and the plugin's JSON depth limit is its own setting."""
from __future__ import annotations

import json

import pytest

from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


def _rfm_body(n: int) -> str:
    rows = ",".join(f'{{"customer_id":"C{i:06d}","recency_days":{i % 365},"frequency":{1 + i % 9},'
                    f'"monetary":{10 + i % 1000}.5}}' for i in range(n))
    return f'{{"rfm":[{rows}]}}'


def test_apply_body_of_the_documented_cap_is_parsed_not_refused(staff_client, settings):
    body = _rfm_body(100_001)
    assert len(body) > 2 * settings.DATA_UPLOAD_MAX_MEMORY_SIZE  # ~7.5 MB: used to be an HTML 400
    res = staff_client.post("/api/ml/segments/apply/", body, content_type="application/json")
    assert_error(res, 400, "rfm", "100000")  # the row cap answers, so the whole body was read


def test_apply_body_over_its_limit_is_a_json_413(staff_client, settings):
    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "APPLY_MAX_BODY_BYTES": 5000}
    res = staff_client.post("/api/ml/segments/apply/", _rfm_body(200), content_type="application/json")
    assert res.status_code == 413 and res.json()["error"]["code"] == "request_too_large"
    assert "5,000" in res.json()["error"]["message"]


def test_other_routes_keep_djangos_upload_limit(staff_client, settings):
    res = staff_client.post("/api/ml/segments/predict/", _rfm_body(40_000), content_type="application/json")
    assert res.status_code == 413 and res.json()["error"]["code"] == "request_too_large"


def test_json_depth_limit_is_a_plugin_setting_independent_of_rest_framework(staff_client, settings):
    settings.REST_FRAMEWORK = {"DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"]}
    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "JSON_MAX_DEPTH": 3}
    body = json.dumps({"n_clusters": 3, "features": [[["recency_days"]]]})
    res = staff_client.post("/api/ml/train-customer-segmentation/", body, content_type="application/json")
    assert_error(res, 400, "nested deeper than 3")
    deep = '{"a": ' + "[" * 3000 + "]" * 3000 + "}"
    res = staff_client.post("/api/ml/segments/apply/", deep, content_type="application/json")
    assert_error(res, 400, "nested deeper than 3")


def test_segment_predict_takes_json_only_and_a_form_is_a_json_415(staff_client):
    # the fuzzer's 500: a form body of more than DATA_UPLOAD_MAX_NUMBER_FIELDS ids
    body = "&".join(["customer_ids=0"] * 1001)
    for content in (body, "customer_ids=0"):
        res = staff_client.generic("POST", "/api/ml/segments/predict/", content,
                                   content_type="application/x-www-form-urlencoded")
        assert res.status_code == 415 and res.json()["error"]["code"] == "unsupported_media_type"
    res = staff_client.post("/api/ml/segments/predict/", {"customer_ids": "0"}, format="multipart")
    assert res.status_code == 415


def test_a_form_body_over_djangos_field_cap_is_a_json_400_on_any_form_route(staff_client):
    body = "&".join(f"f{i}=0" for i in range(1001))
    res = staff_client.generic("POST", "/api/ml/predict-sales/", body, content_type="application/x-www-form-urlencoded")
    assert_error(res, 400)
    assert res.json()["error"]["code"] == "too_many_fields" and "JSON" in res.json()["error"]["message"]
