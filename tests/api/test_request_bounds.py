"""Client mistakes are 400s naming the field: unknown training parameters, and dates outside the range
the computations can represent (0001-01-01 and 9999-12-31 used to overflow into 500s)."""
from __future__ import annotations

import pytest

from ml_predictions.models import MLTrainingLog
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("path", "body", "typo"), [
    ("/api/ml/train-customer-segmentation/", {"n_clusterz": 5}, "n_clusterz"),
    ("/api/ml/train-sales-forecast/", {"model_type": "linear", "levle": "total"}, "levle"),
    ("/api/ml/train-product-recommendation/", {"normalisation": "cosine"}, "normalisation"),
    ("/api/ml/retrain/", {"model_type": "segmentation", "forse": True}, "forse"),
])
def test_unknown_training_parameter_is_refused_by_name(staff_client, path, body, typo):
    res = staff_client.post(path, body, format="json")
    body = assert_error(res, 400, typo)
    assert typo in body["error"]["fields"]
    assert MLTrainingLog.objects.count() == 0  # nothing ran with defaults


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
@pytest.mark.parametrize(("method", "path", "field"), [
    ("post", "/api/ml/predict-sales/", "start_date"),
    ("get", "/api/ml/sales-forecast/plot/?start_date={d}", "start_date"),
    ("get", "/api/ml/forecast-accuracy/?date_from={d}", "date_from"),
    ("get", "/api/ml/forecast-accuracy/?date_to={d}", "date_to"),
    ("get", "/api/ml/recommendation-outcomes/?date_from={d}", "date_from"),
    ("get", "/api/ml/segments/?calc_date={d}", "calc_date"),
    ("get", "/api/ml/segments/plot/?calc_date={d}", "calc_date"),
    ("get", "/api/ml/segments/transitions/?from_calc_date={d}", "from_calc_date"),
    ("get", "/api/ml/segments/transitions/?to_calc_date={d}", "to_calc_date"),
    ("get", "/api/ml/segments/diagnostics/calibration/?calc_date={d}", "calc_date"),
    ("post", "/api/ml/train-customer-segmentation/", "calc_date"),
    ("post", "/api/ml/segments/apply/", "calc_date"),
])
def test_out_of_range_dates_are_400s_naming_the_field(staff_client, method, path, field, day):
    if method == "get":
        res = staff_client.get(path.format(d=day))
    else:
        body = {field: day}
        if "apply" in path:
            body["rfm"] = [{"customer_id": str(i), "recency_days": i, "frequency": 1 + i % 3, "monetary": 10.0 * i}
                           for i in range(1, 30)]
        res = staff_client.post(path, body, format="json")
    body = assert_error(res, 400, field)
    assert field in body["error"]["fields"]


def test_dates_inside_the_range_still_pass_validation(staff_client):
    res = staff_client.get("/api/ml/forecast-accuracy/?date_from=2026-01-01&date_to=2026-02-01")
    assert res.status_code != 400, res.content[:300]
