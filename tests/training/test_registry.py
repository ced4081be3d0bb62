"""Artifact store and registry: versions, atomic activation, cache, integrity, rollback, pruning."""
from __future__ import annotations

import pytest

from ml_predictions.errors import ArtifactError, NoActiveModelError
from ml_predictions.models import MLModel
from ml_predictions.training import registry


@pytest.mark.django_db
def test_versions_increase_and_only_latest_is_active():
    first = registry.register_model(model_type="sales_forecast", artifact={"v": 1}, algorithm="linear")
    second = registry.register_model(model_type="sales_forecast", artifact={"v": 2}, algorithm="linear")
    first.refresh_from_db()
    assert (first.version, second.version) == (1, 2)
    assert not first.is_active and second.is_active
    assert second.artifact_path == "sales_forecast_v2.pkl"
    assert len(second.artifact_sha256) == 64 and second.artifact_size > 0
    assert registry.get_active_artifact("sales_forecast")[1] == {"v": 2}


@pytest.mark.django_db
def test_failure_before_registration_keeps_previous_active(monkeypatch):
    good = registry.register_model(model_type="inventory", artifact={"v": 1}, algorithm="policy")

    def broken_hook(model):
        raise RuntimeError("disk full while writing assignments")

    with pytest.raises(RuntimeError):
        registry.register_model(model_type="inventory", artifact={"v": 2}, algorithm="policy", on_registered=broken_hook)
    active = registry.get_active_model("inventory")
    assert active.pk == good.pk
    assert MLModel.objects.filter(model_type="inventory").count() == 1
    storage = registry.get_storage()
    assert storage.exists("inventory_v1.pkl")
    assert not storage.exists("inventory_v2.pkl")  # no orphan artifact left behind


@pytest.mark.django_db
def test_unserializable_artifact_keeps_previous_active():
    good = registry.register_model(model_type="inventory", artifact={"v": 1}, algorithm="policy")
    with pytest.raises(Exception):  # noqa: B017 — a lambda cannot be pickled
        registry.register_model(model_type="inventory", artifact=lambda x: x, algorithm="policy")
    assert registry.get_active_model("inventory").pk == good.pk


@pytest.mark.django_db
def test_artifact_is_read_once_then_cached(monkeypatch):
    model = registry.register_model(model_type="inventory", artifact={"big": list(range(10))}, algorithm="policy")
    registry.clear_artifact_cache()
    opened = []
    storage_cls = type(registry.get_storage())
    original = storage_cls.open

    def counting_open(self, name, mode="rb"):
        opened.append(name)
        return original(self, name, mode)

    monkeypatch.setattr(storage_cls, "open", counting_open)
    for _ in range(3):
        assert registry.load_artifact(model) == {"big": list(range(10))}
    assert opened == ["inventory_v1.pkl"]


@pytest.mark.django_db
def test_tampered_artifact_is_refused():
    model = registry.register_model(model_type="inventory", artifact={"v": 1}, algorithm="policy")
    registry.clear_artifact_cache()
    path = registry.get_storage().path(model.artifact_path)
    with open(path, "ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(ArtifactError, match="SHA-256"):
        registry.load_artifact(model)


@pytest.mark.django_db
def test_version_mismatch_is_refused():
    model = registry.register_model(model_type="inventory", artifact={"v": 1}, algorithm="policy")
    registry.clear_artifact_cache()
    MLModel.objects.filter(pk=model.pk).update(library_versions={**model.library_versions, "scikit-learn": "0.24.2"})
    model.refresh_from_db()
    with pytest.raises(ArtifactError, match="retrain"):
        registry.load_artifact(model)


@pytest.mark.django_db
def test_no_active_model_error_names_the_fix():
    with pytest.raises(NoActiveModelError, match="train-sales-forecast"):
        registry.get_active_model("sales_forecast")


@pytest.mark.django_db
def test_rollback_activates_an_earlier_version():
    v1 = registry.register_model(model_type="customer_segmentation", artifact={"v": 1}, algorithm="kmeans")
    registry.register_model(model_type="customer_segmentation", artifact={"v": 2}, algorithm="kmeans")
    registry.activate_model(v1.pk)
    assert registry.get_active_model("customer_segmentation").pk == v1.pk
    assert MLModel.objects.filter(model_type="customer_segmentation", is_active=True).count() == 1


@pytest.mark.django_db
def test_pruning_keeps_newest_versions_and_the_active_one(settings):
    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "KEEP_VERSIONS": 2}
    for i in range(5):
        registry.register_model(model_type="sales_forecast", artifact={"v": i}, algorithm="linear")
    versions = sorted(MLModel.objects.filter(model_type="sales_forecast").values_list("version", flat=True))
    assert versions == [4, 5]
    assert not registry.get_storage().exists("sales_forecast_v1.pkl")


@pytest.mark.django_db
def test_pruning_deletes_a_runs_assignment_rows_in_one_statement(settings):
    from datetime import date

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from ml_predictions.models import CustomerSegmentAssignment, Prediction

    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "KEEP_VERSIONS": 10}
    old = registry.register_model(model_type="customer_segmentation", artifact={"v": 1}, algorithm="kmeans")
    CustomerSegmentAssignment.objects.bulk_create([
        CustomerSegmentAssignment(model=old, customer_id=f"c{i}", calc_date=date(2026, 1, 1), cluster=0,
                                  segment_type="vip", cluster_name="vip", rfm_segment="555", rfm_name="champions",
                                  recency_days=1.0, frequency=2, monetary=10.0, confidence=1.0)
        for i in range(2500)])
    lookup = Prediction.objects.create(model=old, kind="customer_segmentation")
    new = registry.register_model(model_type="customer_segmentation", artifact={"v": 2}, algorithm="kmeans")
    kept = CustomerSegmentAssignment.objects.create(
        model=new, customer_id="c0", calc_date=date(2026, 2, 1), cluster=0, segment_type="vip", cluster_name="vip",
        rfm_segment="555", rfm_name="champions", recency_days=1.0, frequency=2, monetary=10.0, confidence=1.0)
    registry.activate_model(new.pk)
    table = CustomerSegmentAssignment._meta.db_table
    with CaptureQueriesContext(connection) as ctx:
        assert registry.prune_versions("customer_segmentation", keep=1) == 1
    deletes = [q["sql"] for q in ctx.captured_queries
               if table in q["sql"] and q["sql"].lstrip().upper().startswith("DELETE")]
    assert len(deletes) == 1 and "IN (" not in deletes[0]  # by run, not in batches of fetched ids
    assert not MLModel.objects.filter(pk=old.pk).exists()
    assert list(CustomerSegmentAssignment.objects.values_list("pk", flat=True)) == [kept.pk]
    lookup.refresh_from_db()
    assert lookup.model_id is None  # SET_NULL relations are still Django's to handle
