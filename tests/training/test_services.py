"""The rules kept in one place: activation (with its in-training rule), queueing, prediction history."""
from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.messages.storage.fallback import FallbackStorage
from django.test import RequestFactory

from ml_predictions.capabilities.predictions import record_prediction, reset_prediction_sampling
from ml_predictions.errors import ConflictError, NotFoundError, TrainingInProgressError
from ml_predictions.models import MLModel, MLTrainingLog, Prediction
from ml_predictions.training import runner, trainers
from ml_predictions.training.registry import model_activate, register_model
from ml_predictions.training.services import training_queue


@pytest.fixture
def fake_inventory(monkeypatch):
    monkeypatch.setitem(trainers._REGISTERED, "inventory", "tests.operations_fakes.quick_trainer")


@pytest.fixture
def two_versions(db):
    v1 = register_model(model_type="inventory", artifact={"v": 1}, algorithm="fake")
    v2 = register_model(model_type="inventory", artifact={"v": 2}, algorithm="fake")
    return v1, v2


def test_activate_returns_the_replaced_version(two_versions):
    v1, v2 = two_versions
    activation = model_activate(model_id=v1.pk)
    assert activation.model.pk == v1.pk and activation.previous.pk == v2.pk and activation.changed
    assert list(MLModel.objects.filter(is_active=True).values_list("pk", flat=True)) == [v1.pk]
    again = model_activate(model_id=v1.pk)
    assert not again.changed


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "6f1c2c1e-8a5e-4f8e-9d52-2b1f8d0f7a10", None])
def test_activate_unknown_id_is_not_found(db, bad_id):
    with pytest.raises(NotFoundError):
        model_activate(model_id=bad_id)


def test_activate_refused_while_the_type_trains(two_versions, fake_inventory):
    v1, v2 = two_versions
    running = runner.start_training("inventory", {})
    with pytest.raises(ConflictError) as info:
        model_activate(model_id=v1.pk)
    assert info.value.details == {"training_log_id": str(running.pk)}
    assert MLModel.objects.get(is_active=True).pk == v2.pk


def test_admin_action_obeys_the_in_training_rule(two_versions, fake_inventory, superuser):
    """The admin used to call the registry directly and skip the rule the API enforced."""
    v1, v2 = two_versions
    runner.start_training("inventory", {})
    request = RequestFactory().post("/admin/")
    request.user = superuser
    request.session = {}
    request._messages = FallbackStorage(request)
    model_admin = admin.site._registry[MLModel]
    model_admin.activate_selected(request, MLModel.objects.filter(pk=v1.pk))
    assert MLModel.objects.get(is_active=True).pk == v2.pk
    assert ["training" in str(m) for m in request._messages] == [True]


def test_training_queue_runs_with_the_immediate_backend(db, fake_inventory, staff_user):
    log = training_queue(model_type="inventory", params={}, user=staff_user, trigger="command")
    assert log.status == MLTrainingLog.Status.SUCCEEDED
    assert log.triggered_by == staff_user and log.trigger == "command" and log.task_id
    assert log.result["model_id"] == str(MLModel.objects.get(is_active=True).pk)


def test_training_queue_refuses_a_second_and_unknown_params(db, fake_inventory, monkeypatch):
    runner.start_training("inventory", {})
    with pytest.raises(TrainingInProgressError):
        training_queue(model_type="inventory")
    monkeypatch.setattr("tests.operations_fakes.TRAIN_PARAMS", ["fail"], raising=False)
    MLTrainingLog.objects.update(status=MLTrainingLog.Status.FAILED)
    from ml_predictions.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError) as info:
        training_queue(model_type="inventory", params={"n_clusterz": 3}, check_params=True)
    assert info.value.field == "n_clusterz"
    assert not MLTrainingLog.objects.filter(status="queued").exists()


@pytest.mark.parametrize(("setting", "kind"), [("RECOMMENDATION_LOG_EVERY", "product_recommendation"),
                                               ("SEGMENTATION_LOG_EVERY", "customer_segmentation")])
def test_sampled_lookups_record_one_call_in_n(db, settings, setting, kind):
    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, setting: 3}
    reset_prediction_sampling()
    rows = [record_prediction(kind=kind, target=f"t{i}", inputs={}, output={}, sampled=True) for i in range(7)]
    assert [row is not None for row in rows] == [True, False, False, True, False, False, True]
    assert sorted(Prediction.objects.values_list("target", flat=True)) == ["t0", "t3", "t6"]
    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, setting: 0}
    assert record_prediction(kind=kind, target="x", inputs={}, output={}, sampled=True) is None


def test_batch_predictions_are_always_recorded_and_json_safe(db, settings):
    import numpy as np

    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "SEGMENTATION_LOG_EVERY": 0}
    row = record_prediction(kind="customer_segmentation", target="x" * 300, inputs={"n": np.int64(3)},
                            output={"score": np.float64("nan"), "values": np.arange(3)})
    row.refresh_from_db()
    assert len(row.target) == 200
    assert row.input == {"n": 3} and row.output == {"score": None, "values": [0, 1, 2]}
    forecast = record_prediction(kind="sales_forecast", target="total", inputs={}, output={}, sampled=True)
    assert forecast is not None  # a type without a sampling setting records every call
