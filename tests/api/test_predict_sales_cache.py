"""predict-sales from the answer cache: the same answer as computed (its own prediction id and Prediction
row on every call), validation and authorization before the cache, and a new active forecast model in
the very next answer."""
from __future__ import annotations

import copy

import pytest

from backend_django.shop.generator import write_shop
from ml_predictions.capabilities.forecasting import services
from ml_predictions.models import MLModel, Prediction
from ml_predictions.training.registry import get_active_artifact, register_model
from tests.conftest import small_shop_data
from tests.helpers import assert_error, assert_staff_only
from tests.shared import build_shared, use_shared_artifacts

PREDICT_URL = "/api/ml/predict-sales/"
SMALL_MODELS = {"FORECAST_MAX_TRAIN_ROWS": 1500, "FORECAST_PRODUCT_TRAIN_ROWS": 3000}
QUERIES = [{"days_ahead": 30}, {"days_ahead": 7, "level": "category"}, {"days_ahead": 5, "start_date": "2026-07-10"}]


@pytest.fixture(scope="module")
def linear_forecast(django_db_setup, django_db_blocker, tmp_path_factory):
    def build(client):
        write_shop(small_shop_data())
        res = client.post("/api/ml/train-sales-forecast/", {"model_type": "linear"}, format="json")
        assert res.status_code == 200, res.content[:500]
        return res.json()

    with build_shared(django_db_blocker, tmp_path_factory.mktemp("forecast"), build, **SMALL_MODELS) as shared:
        yield shared


@pytest.fixture
def trained(linear_forecast, db, settings):
    use_shared_artifacts(linear_forecast, settings)
    return copy.deepcopy(linear_forecast.value)


@pytest.fixture
def computations(monkeypatch):
    calls = []
    real = services._forecast_answer

    def counted(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(services, "_forecast_answer", counted)
    return calls


def _query(query: dict) -> dict:
    if query.get("level") == "category":
        from ml_predictions.data import get_data_source

        return {**query, "id": str(get_data_source().products()["category"].iloc[0])}
    return query


def _without_id(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "prediction_id"}


@pytest.mark.django_db
def test_cached_answer_equals_the_computed_one_and_records_each_call(staff_client, trained, computations, settings):
    queries = [_query(q) for q in QUERIES]
    before = Prediction.objects.count()
    cold = [staff_client.post(PREDICT_URL, q, format="json") for q in queries]
    warm = [staff_client.post(PREDICT_URL, q, format="json") for q in queries]
    assert len(computations) == len(queries)  # the second round came from the cache
    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "ANSWER_CACHE_SECONDS": 0}
    plain = [staff_client.post(PREDICT_URL, q, format="json") for q in queries]
    assert len(computations) == 2 * len(queries)
    for a, b, c in zip(cold, warm, plain, strict=True):
        assert a.status_code == b.status_code == c.status_code == 200
        assert list(a.json()) == list(b.json()) == list(c.json())  # same keys in the same order
        assert _without_id(a.json()) == _without_id(b.json()) == _without_id(c.json())
    ids = [r.json()["prediction_id"] for r in cold + warm + plain]
    assert len(set(ids)) == len(ids)  # each call its own row, as before
    assert Prediction.objects.count() == before + 3 * len(queries)
    stored = Prediction.objects.get(pk=warm[0].json()["prediction_id"])
    assert stored.output == _without_id(warm[0].json()) and stored.input["days_ahead"] == 30
    assert stored.model_id is not None and str(stored.model_id) == warm[0].json()["model_id"]


@pytest.mark.django_db
def test_validation_errors_and_auth_come_before_the_cache(staff_client, anon_client, user_client, trained):
    assert staff_client.post(PREDICT_URL, {"days_ahead": 30}, format="json").status_code == 200
    assert_staff_only(anon_client, user_client, "post", PREDICT_URL, {"days_ahead": 30})
    for _ in range(2):
        assert_error(staff_client.post(PREDICT_URL, {"days_ahead": 0}, format="json"), 400, "days_ahead")
        res = staff_client.post(PREDICT_URL, {"days_ahead": 7, "level": "product", "id": "no-such-product"},
                                format="json")
        assert res.status_code in (400, 404) and res.json()["success"] is False


@pytest.mark.django_db
def test_a_new_active_model_shows_in_the_next_answer(staff_client, trained, computations):
    first = staff_client.post(PREDICT_URL, {"days_ahead": 10}, format="json").json()
    model, forecaster = get_active_artifact("sales_forecast")
    assert first["model_id"] == str(model.pk)
    newer = register_model(model_type="sales_forecast", artifact=forecaster, algorithm="linear")  # a retrain
    second = staff_client.post(PREDICT_URL, {"days_ahead": 10}, format="json").json()
    assert (second["model_id"], second["model_version"]) == (str(newer.pk), newer.version)
    assert len(computations) == 2
    # a rollback done by another process (no stamp seen here) is read from the active row itself
    MLModel.objects.filter(pk=newer.pk).update(is_active=False)
    MLModel.objects.filter(pk=model.pk).update(is_active=True)
    third = staff_client.post(PREDICT_URL, {"days_ahead": 10}, format="json").json()
    assert third["model_id"] == str(model.pk) and _without_id(third) == _without_id(first)
    assert Prediction.objects.filter(model=model).count() == 2


@pytest.mark.django_db
def test_no_active_model_is_still_a_409(staff_client, trained):
    assert staff_client.post(PREDICT_URL, {"days_ahead": 30}, format="json").status_code == 200
    MLModel.objects.update(is_active=False)
    assert_error(staff_client.post(PREDICT_URL, {"days_ahead": 30}, format="json"), 409, "Train")
