"""Cached read answers (ml_predictions/answer_cache.py): GET /models/ and GET /dashboard-summary/ answer
the same bytes, status codes and authorization with the cache as without it, and a registration, an
activation, a metrics note or a new row of what they count is in the very next answer."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from ml_predictions.answer_cache import KEY_PREFIX
from ml_predictions.conf import ml_settings
from ml_predictions.dashboard.answer import dashboard_expiry
from ml_predictions.data_changes import mark_predictions_changed, mark_registry_changed
from ml_predictions.models import InventoryAlert, MLModel, MLTrainingLog, Prediction
from ml_predictions.training.registry import register_model
from tests.helpers import assert_staff_only

MODELS = "/api/ml/models/"
DASHBOARD = "/api/ml/dashboard-summary/"
MODEL_URLS = [MODELS, MODELS + "?model_type=inventory", MODELS + "?ordering=version&page_size=2",
              MODELS + "?page=2&page_size=2", MODELS + "?search=kmeans", MODELS + "?is_active=true"]


def _cached_keys(namespace: str) -> list[str]:
    return [k for k in cache._cache if f"{KEY_PREFIX}{namespace}:" in k]  # LocMemCache's store


def _off(settings) -> None:
    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "ANSWER_CACHE_SECONDS": 0}


@pytest.fixture
def registry(db):
    """Two inventory versions (v2 active), one segmentation, one forecast."""
    v1 = register_model(model_type="inventory", artifact={"v": 1}, algorithm="service_level", metrics={"health_score": 50})
    v2 = register_model(model_type="inventory", artifact={"v": 2}, algorithm="service_level", metrics={"health_score": 60})
    seg = register_model(model_type="customer_segmentation", artifact={}, algorithm="kmeans",
                         metrics={"silhouette_score": 0.4})
    fc = register_model(model_type="sales_forecast", artifact={}, algorithm="linear", metrics={"mase": 0.9})
    return {"v1": v1, "v2": v2, "seg": seg, "fc": fc}


def _answers(client, urls):
    out = []
    for url in urls:
        res = client.get(url)
        out.append((url, res.status_code, res["Content-Type"], res.content))
    return out


@pytest.mark.django_db
def test_models_list_cached_equals_uncached(staff_client, registry, settings):
    cold = _answers(staff_client, MODEL_URLS)
    assert len(_cached_keys("models")) == len(MODEL_URLS)
    warm = _answers(staff_client, MODEL_URLS)  # every one from the cache now
    _off(settings)
    cache.clear()
    plain = _answers(staff_client, MODEL_URLS)
    assert not _cached_keys("models")
    assert cold == warm == plain
    assert all(code == 200 for _url, code, _ct, _body in plain)
    assert plain[0][2] == "application/json"
    body = staff_client.get(MODELS + "?ordering=version&page_size=2").json()
    assert body["count"] == 4 and len(body["results"]) == 2 and body["next"].startswith("http://testserver/")


@pytest.mark.django_db
def test_models_list_errors_and_auth_are_not_cached(staff_client, anon_client, user_client, registry):
    assert staff_client.get(MODELS).status_code == 200
    assert_staff_only(anon_client, user_client, "get", MODELS)  # the cached 200 is not theirs
    for url, code in ((MODELS + "?page=99", 404), (MODELS + "?model_type=bogus", 400),
                      (MODELS + "?ordering=version&page=0", 404)):
        first = staff_client.get(url)
        assert first.status_code == code, (url, first.status_code)
        again = staff_client.get(url)
        assert (again.status_code, again.content) == (first.status_code, first.content)
    assert len(_cached_keys("models")) == 1


@pytest.mark.django_db
def test_models_list_browsable_api_is_rendered_as_before(staff_client, registry):
    res = staff_client.get(MODELS, HTTP_ACCEPT="text/html")
    assert res.status_code == 200 and res["Content-Type"].startswith("text/html")
    assert not _cached_keys("models")


def _active_ids(client) -> set[str]:
    return {m["id"] for m in client.get(MODELS).json()["results"] if m["is_active"]}


@pytest.mark.django_db
def test_a_training_or_an_activation_shows_in_the_next_models_list(staff_client, registry):
    assert str(registry["v2"].pk) in _active_ids(staff_client)
    v3 = register_model(model_type="inventory", artifact={"v": 3}, algorithm="service_level")
    ids = [m["id"] for m in staff_client.get(MODELS).json()["results"]]
    assert str(v3.pk) in ids and len(ids) == 5
    assert str(v3.pk) in _active_ids(staff_client) and str(registry["v2"].pk) not in _active_ids(staff_client)

    res = staff_client.post(f"{MODELS}{registry['v1'].pk}/activate/")
    assert res.status_code == 200, res.content
    active = _active_ids(staff_client)
    assert str(registry["v1"].pk) in active and str(v3.pk) not in active


@pytest.mark.django_db
def test_another_process_activation_is_seen_without_the_stamp(staff_client, registry, monkeypatch):
    """With a per-process cache the stamp bump of another process is not seen here: the registry
    fingerprint (a database read) still changes with which version is active."""
    assert str(registry["v2"].pk) in _active_ids(staff_client)
    MLModel.objects.filter(pk=registry["v2"].pk).update(is_active=False)  # no signal, no stamp
    MLModel.objects.filter(pk=registry["v1"].pk).update(is_active=True)
    active = _active_ids(staff_client)
    assert str(registry["v1"].pk) in active and str(registry["v2"].pk) not in active


@pytest.mark.django_db
def test_a_metrics_note_shows_through_the_registry_stamp(staff_client, registry):
    url = f"{MODELS}?model_type=sales_forecast"
    assert staff_client.get(url).json()["results"][0]["metrics"] == {"mase": 0.9}
    MLModel.objects.filter(pk=registry["fc"].pk).update(metrics={"mase": 0.9, "monitoring": {"drifting": True}})
    # an update() nobody signalled keeps the cached page (the fingerprint cannot see metrics) ...
    assert staff_client.get(url).json()["results"][0]["metrics"] == {"mase": 0.9}
    mark_registry_changed()  # ... which is why the writers of metrics (monitoring) call this
    assert staff_client.get(url).json()["results"][0]["metrics"]["monitoring"] == {"drifting": True}


# --- the dashboard summary -----------------------------------------------------------------------------

@pytest.mark.django_db
def test_dashboard_cached_equals_uncached(staff_client, registry, settings):
    MLTrainingLog.objects.create(model_type="inventory", status="succeeded", progress=100, ml_model=registry["v2"])
    Prediction.objects.create(kind="sales_forecast", target="total", input={}, output={})
    cold = _answers(staff_client, [DASHBOARD])
    warm = _answers(staff_client, [DASHBOARD])
    assert len(_cached_keys("dashboard")) == 1
    _off(settings)
    cache.clear()
    plain = _answers(staff_client, [DASHBOARD])
    assert cold == warm == plain and plain[0][1] == 200


@pytest.mark.django_db
def test_dashboard_auth_is_checked_before_the_cache(staff_client, anon_client, user_client, registry):
    assert staff_client.get(DASHBOARD).status_code == 200
    assert_staff_only(anon_client, user_client, "get", DASHBOARD)


def _summary(client) -> dict:
    res = client.get(DASHBOARD)
    assert res.status_code == 200
    return res.json()


@pytest.mark.django_db
def test_dashboard_shows_each_change_in_the_next_answer(staff_client, registry):
    first = _summary(staff_client)["summary"]
    assert first == {"total_active_models": 3, "total_predictions": 0, "predictions_last_7days": 0,
                     "active_inventory_alerts": 0, "critical_inventory_alerts": 0}

    Prediction.objects.create(kind="sales_forecast", target="total", input={}, output={})
    assert _summary(staff_client)["summary"]["total_predictions"] == 1

    alert = InventoryAlert.objects.create(product_id="p1", product_name="P", alert_type="reorder_now",
                                   current_stock=1, urgency_level=5)
    summary = _summary(staff_client)["summary"]
    assert (summary["active_inventory_alerts"], summary["critical_inventory_alerts"]) == (1, 1)
    InventoryAlert.objects.filter(pk=alert.pk).update(urgency_level=2, updated_at=timezone.now())  # as the sync does
    assert _summary(staff_client)["summary"]["critical_inventory_alerts"] == 0

    log = MLTrainingLog.objects.create(model_type="sales_forecast", status="running", progress=10)
    assert _summary(staff_client)["recent_trainings"][0]["progress"] == 10
    MLTrainingLog.objects.filter(pk=log.pk).update(progress=70, updated_at=timezone.now())  # the runner's write
    assert _summary(staff_client)["recent_trainings"][0]["progress"] == 70

    new = register_model(model_type="product_recommendation", artifact={}, algorithm="hybrid")
    body = _summary(staff_client)
    assert body["summary"]["total_active_models"] == 4 and body["recent_models"][0]["id"] == str(new.pk)


@pytest.mark.django_db
def test_dashboard_sees_prediction_deletions_and_other_processes_rows(staff_client, registry):
    """The prediction log is not counted per request: a new row is seen through the newest created_at
    (a database read, so also a row another process wrote), a deletion or an edit through the stamp."""
    rows = [Prediction.objects.create(kind="sales_forecast", target="total", input={}, output={}) for _ in range(3)]
    assert _summary(staff_client)["summary"]["total_predictions"] == 3
    rows[0].delete()
    assert _summary(staff_client)["summary"]["total_predictions"] == 2
    Prediction.objects.filter(pk=rows[1].pk).delete()  # a queryset delete sends the signal too
    assert _summary(staff_client)["summary"]["total_predictions"] == 1
    old = rows[2]
    old.created_at = timezone.now() - timedelta(days=30)
    old.save()
    assert _summary(staff_client)["summary"]["predictions_last_7days"] == 0

    # another process's insert: no signal here, no stamp move; its newer created_at changes the key
    Prediction.objects.bulk_create([Prediction(kind="sales_forecast", target="total", input={}, output={})])
    assert _summary(staff_client)["summary"] == {**_summary(staff_client)["summary"], "total_predictions": 2,
                                                 "predictions_last_7days": 1}

    # a deletion nobody signalled keeps the cached figures (until the entry's life ends) ...
    Prediction.objects.filter(created_at__lt=timezone.now() - timedelta(days=7))._raw_delete("default")
    assert _summary(staff_client)["summary"]["total_predictions"] == 2
    mark_predictions_changed()  # ... which is what a raw writer of the log calls
    assert _summary(staff_client)["summary"]["total_predictions"] == 1


@pytest.mark.django_db
def test_dashboard_entry_lives_until_the_clock_moves_a_figure(staff_client, registry, settings, monkeypatch):
    assert dashboard_expiry() is None  # nothing waits on the clock: the default life
    now = timezone.now()
    Prediction.objects.create(kind="sales_forecast", target="total", input={}, output={},
                              created_at=now - timedelta(days=7) + timedelta(seconds=120))
    assert 100 < dashboard_expiry() <= 120  # it leaves "last 7 days" then
    stale = ml_settings.STALE_TRAINING_MINUTES
    log = MLTrainingLog.objects.create(model_type="inventory", status="running", progress=5)
    MLTrainingLog.objects.filter(pk=log.pk).update(updated_at=now - timedelta(minutes=stale) + timedelta(seconds=30))
    assert 20 < dashboard_expiry() <= 30  # it is freed as stale then
    MLTrainingLog.objects.filter(pk=log.pk).update(updated_at=now - timedelta(minutes=stale, seconds=1))
    assert dashboard_expiry() == 0

    seen = []
    real_set = cache.set
    monkeypatch.setattr(cache, "set", lambda key, value, timeout=None: (seen.append((key, timeout)),
                                                                        real_set(key, value, timeout)))
    body = _summary(staff_client)  # the stale training is freed by this request, as before
    assert body["recent_trainings"][0]["status"] == "failed"
    assert MLTrainingLog.objects.get(pk=log.pk).status == "failed"
    # stored until the prediction leaves the 7-day window (the freed training no longer waits on the clock)
    (timeout,) = [t for k, t in seen if f"{KEY_PREFIX}dashboard:" in k]
    assert 100 < timeout <= 120
