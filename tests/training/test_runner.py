"""The shared training runner: log lifecycle, progress, single writer, failures keep the old model."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from ml_predictions.errors import InsufficientDataError, TrainingInProgressError
from ml_predictions.models import MLModel, MLTrainingLog
from ml_predictions.training import runner as training
from ml_predictions.training import trainers
from ml_predictions.training.registry import register_model

seen_progress: list[tuple[int, str]] = []


def fake_trainer(params, progress):
    progress(10, "Reading data")
    progress(60, "Fitting")
    if params.get("fail") == "domain":
        raise InsufficientDataError("need 60 days of history, have 12")
    if params.get("fail") == "crash":
        raise ZeroDivisionError("boom")
    return training.TrainingOutcome(artifact={"coef": params.get("coef", 1)}, algorithm="fake",
                                    metrics={"score": 0.9}, n_samples=42, response={"extra": "yes"})


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setitem(trainers._REGISTERED, "inventory", "tests.training.test_runner.fake_trainer")
    monkeypatch.setitem(trainers._REGISTERED, "customer_segmentation", "tests.training.test_runner.fake_trainer")


@pytest.mark.django_db
def test_successful_training_registers_and_logs(fake, staff_user):
    log = training.train_now("inventory", {"coef": 3}, user=staff_user)
    assert log.status == "succeeded" and log.progress == 100
    assert log.ml_model.is_active and log.ml_model.n_samples == 42
    assert log.result["success"] is True and log.result["extra"] == "yes"
    assert log.result["model_id"] == str(log.ml_model.pk)
    assert log.triggered_by == staff_user and log.duration_seconds >= 0


@pytest.mark.django_db
def test_progress_is_written_to_the_log(fake):
    snapshots = []

    def watch(percent, message):
        log = MLTrainingLog.objects.get(model_type="inventory")
        snapshots.append((log.status, log.progress, log.message))

    training.train_now("inventory", {}, on_progress=watch)
    assert ("running", 10, "Reading data") in snapshots
    assert ("running", 60, "Fitting") in snapshots


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["domain", "crash"])
def test_failed_training_keeps_previous_active_model(fake, mode):
    previous = register_model(model_type="inventory", artifact={"coef": 0}, algorithm="fake")
    log = training.train_now("inventory", {"fail": mode})
    assert log.status == "failed"
    assert log.error
    assert MLModel.objects.get(is_active=True, model_type="inventory").pk == previous.pk
    assert MLModel.objects.filter(model_type="inventory").count() == 1
    if mode == "domain":
        assert log.result["error"]["status"] == 422
        assert "60 days" in log.result["error"]["message"]


@pytest.mark.django_db
def test_second_training_while_one_is_running_is_refused(fake):
    running = training.start_training("inventory", {})
    with pytest.raises(TrainingInProgressError) as info:
        training.start_training("inventory", {})
    assert info.value.details["training_log_id"] == str(running.pk)
    # another model type is independent
    MLTrainingLog.objects.filter(pk=running.pk).update(status="running")
    other = training.start_training("customer_segmentation", {})
    assert other.status == "queued"


@pytest.mark.django_db
def test_stale_running_training_is_failed_and_slot_freed(fake):
    stale = training.start_training("inventory", {})
    MLTrainingLog.objects.filter(pk=stale.pk).update(status="running", updated_at=timezone.now() - timedelta(hours=2))
    fresh = training.train_now("inventory", {})
    stale.refresh_from_db()
    assert stale.status == "failed" and "worker" in stale.error
    assert fresh.status == "succeeded"


@pytest.mark.django_db
def test_unknown_model_type_is_a_clear_error():
    from ml_predictions.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="model_type"):
        training.start_training("weather", {})


@pytest.mark.django_db
def test_a_broken_trainer_module_surfaces_its_import_error(monkeypatch, tmp_path):
    """'Not installed' is only said of a module that is absent; an import bug inside one is raised."""
    import sys

    (tmp_path / "broken_trainer_mod.py").write_text("import no_such_dependency_xyz\n\ndef train(p, progress):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(trainers._REGISTERED, "inventory", "broken_trainer_mod.train")
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency_xyz"):
        training.resolve_trainer("inventory")
    sys.modules.pop("broken_trainer_mod", None)
    monkeypatch.setitem(trainers._REGISTERED, "inventory", "not_installed_pkg_xyz.workflow.train")
    from ml_predictions.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="not available"):
        training.resolve_trainer("inventory")


@pytest.mark.django_db(transaction=True)  # a retry happens only outside any enclosing transaction
def test_a_momentary_lock_on_the_registry_write_does_not_lose_the_training(fake, monkeypatch):
    """The failure the demo showed under web load: "database is locked" at the registry write."""
    from django.db import OperationalError
    from django.db.models import QuerySet

    monkeypatch.setattr("ml_predictions.training.dbretry.time.sleep", lambda _s: None)
    real_create = QuerySet.create
    failures = {"left": 2}

    def create(self, **kwargs):
        if self.model is MLModel and failures["left"]:
            failures["left"] -= 1
            raise OperationalError("database is locked")
        return real_create(self, **kwargs)

    monkeypatch.setattr(QuerySet, "create", create)
    log = training.train_now("inventory", {"coef": 2})
    assert failures["left"] == 0
    assert log.status == "succeeded", log.error
    assert MLModel.objects.filter(model_type="inventory", is_active=True).count() == 1
