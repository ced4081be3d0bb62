"""`manage.py retrain_models`: the weekly schedule's command."""
from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from ml_predictions.models import MLModel, MLTrainingLog
from ml_predictions.training import runner as training
from ml_predictions.training import trainers


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("retrain_models", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def only_inventory_and_forecast(monkeypatch):
    """Forecast and inventory have trainers; segmentation and recommendations are not installed."""
    monkeypatch.setitem(trainers._REGISTERED, "inventory", "tests.operations_fakes.quick_trainer")
    monkeypatch.setitem(trainers._REGISTERED, "sales_forecast", "tests.operations_fakes.quick_trainer")
    monkeypatch.setitem(trainers._REGISTERED, "customer_segmentation", "tests.operations_fakes.missing")
    monkeypatch.setitem(trainers._REGISTERED, "product_recommendation", "tests.no_such_module.train")


@pytest.mark.django_db
def test_retrains_available_types_in_order_and_skips_the_rest(only_inventory_and_forecast):
    out, err = run()
    assert "customer_segmentation: skipped (no trainer installed)" in out
    assert "product_recommendation: skipped" in out
    assert "retrained 2 model type(s)" in out and err == ""
    logs = list(MLTrainingLog.objects.order_by("created_at").values_list("model_type", "status", "trigger"))
    # forecast before inventory: the inventory policy reads the forecast
    assert logs == [("sales_forecast", "succeeded", "schedule"), ("inventory", "succeeded", "schedule")]
    assert set(MLModel.objects.filter(is_active=True).values_list("model_type", flat=True)) == {
        "sales_forecast", "inventory"}


@pytest.mark.django_db
def test_failure_gives_nonzero_exit_but_other_types_still_train(only_inventory_and_forecast, monkeypatch):
    monkeypatch.setitem(trainers._REGISTERED, "sales_forecast", "tests.operations_fakes.failing_trainer")
    with pytest.raises(CommandError, match="1 training.s. failed: sales_forecast"):
        run()
    assert MLTrainingLog.objects.get(model_type="sales_forecast").status == "failed"
    assert MLTrainingLog.objects.get(model_type="inventory").status == "succeeded"


@pytest.mark.django_db
def test_keeps_only_the_last_versions(only_inventory_and_forecast):
    for _ in range(4):
        run("--only", "inventory", "--keep", "2")
    versions = sorted(MLModel.objects.filter(model_type="inventory").values_list("version", flat=True))
    assert versions == [3, 4]
    assert MLModel.objects.get(model_type="inventory", is_active=True).version == 4
    assert not MLModel.objects.filter(model_type="sales_forecast").exists()


@pytest.mark.django_db
def test_type_already_training_counts_as_failed(only_inventory_and_forecast):
    training.start_training("inventory", {})
    with pytest.raises(CommandError, match="inventory"):
        run("--only", "inventory")


@pytest.mark.django_db
def test_rejects_bad_keep():
    with pytest.raises(CommandError, match="--keep"):
        run("--keep", "0")


@pytest.mark.django_db
def test_train_command_trains_one_type(only_inventory_and_forecast):
    out, err = StringIO(), StringIO()
    call_command("train", "inventory", "--no-progress", stdout=out, stderr=err)
    assert "inventory: v1 trained" in out.getvalue()
    assert MLModel.objects.get(is_active=True).model_type == "inventory"


@pytest.mark.django_db
def test_train_all_skips_types_without_a_trainer(only_inventory_and_forecast):
    out, err = StringIO(), StringIO()
    call_command("train", "all", "--no-progress", stdout=out, stderr=err)
    assert "product_recommendation: skipped (no trainer installed)" in out.getvalue()
    assert "customer_segmentation: skipped" in out.getvalue() and err.getvalue() == ""
    assert set(MLModel.objects.values_list("model_type", flat=True)) == {"sales_forecast", "inventory"}
