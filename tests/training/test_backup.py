"""Model backup and restore: export_models / import_models round trips, refusals, cross-database."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from ml_predictions.errors import ArtifactError, ConflictError
from ml_predictions.models import CustomerSegmentAssignment, MLModel
from ml_predictions.training import registry
from ml_predictions.training.backup import export_models, import_models
from ml_predictions.training.runner import train_now

REPO = Path(__file__).resolve().parents[2]
# One database per test process, so concurrent suites on one server never share it.
ROUNDTRIP_DB = f"ml_backup_roundtrip_{os.getpid()}"


@pytest.fixture
def registered(small_shop):
    """Two forecast versions (v2 active), one trained segmentation run with its customer rows."""
    registry.register_model(model_type="sales_forecast", artifact={"coef": 1}, algorithm="linear")
    registry.register_model(model_type="sales_forecast", artifact={"coef": 2}, algorithm="linear")
    log = train_now("customer_segmentation", {"n_clusters": 3})
    assert log.status == "succeeded", log.error
    return log


def _wipe_registry():
    storage = registry.get_storage()
    for model in MLModel.objects.all():
        storage.delete(model.artifact_path)
    MLModel.objects.all().delete()
    registry.clear_artifact_cache()


def _rewrite(src: Path, dst: Path, edit) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            zout.writestr(item, edit(item.filename, zin.read(item.filename)))


@pytest.mark.django_db
def test_round_trip_restores_rows_artifacts_assignments_and_active_flags(registered, tmp_path):
    archive = tmp_path / "models.zip"
    seg = MLModel.objects.get(model_type="customer_segmentation")
    n_assign = CustomerSegmentAssignment.objects.filter(model=seg).count()
    assert n_assign > 100
    before = {(m.model_type, m.version): (str(m.pk), m.artifact_sha256, m.is_active) for m in MLModel.objects.all()}
    manifest = export_models(archive)
    assert len(manifest["models"]) == 3
    _wipe_registry()
    assert CustomerSegmentAssignment.objects.count() == 0

    summary = import_models(archive)
    assert summary["imported"] == 3 and summary["skipped"] == 0
    after = {(m.model_type, m.version): (str(m.pk), m.artifact_sha256, m.is_active) for m in MLModel.objects.all()}
    assert after == before
    assert registry.get_active_artifact("sales_forecast")[1] == {"coef": 2}
    assert CustomerSegmentAssignment.objects.filter(model_id=seg.pk).count() == n_assign
    seg_row, seg_model = registry.get_active_artifact("customer_segmentation")
    assert str(seg_row.pk) == str(seg.pk) and seg_model is not None

    again = import_models(archive)  # idempotent
    assert again["imported"] == 0 and again["skipped"] == 3
    assert MLModel.objects.filter(is_active=True, model_type="sales_forecast").count() == 1


@pytest.mark.django_db
def test_import_refuses_tampered_artifact_and_imports_nothing(tmp_path):
    registry.register_model(model_type="inventory", artifact={"v": 1}, algorithm="policy")
    good, bad = tmp_path / "good.zip", tmp_path / "bad.zip"
    export_models(good)
    _rewrite(good, bad, lambda name, data: data + b"x" if name.startswith("artifacts/") else data)
    _wipe_registry()
    with pytest.raises(ArtifactError, match="SHA-256"):
        import_models(bad)
    assert MLModel.objects.count() == 0
    with pytest.raises(CommandError, match="SHA-256"):
        call_command("import_models", str(bad))


@pytest.mark.django_db
def test_import_refuses_other_library_versions_naming_them(tmp_path):
    registry.register_model(model_type="inventory", artifact={"v": 1}, algorithm="policy")
    good, old = tmp_path / "good.zip", tmp_path / "old.zip"
    export_models(good)

    def downgrade(name, data):
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        for entry in manifest["models"]:
            entry["library_versions"]["scikit-learn"] = "0.24.2"
        return json.dumps(manifest).encode()

    _rewrite(good, old, downgrade)
    _wipe_registry()
    with pytest.raises(ArtifactError, match=r"scikit-learn 0\.24\.2 in the backup"):
        import_models(old)
    assert MLModel.objects.count() == 0


@pytest.mark.django_db
def test_import_refuses_a_clash_with_another_registered_version(tmp_path):
    registry.register_model(model_type="inventory", artifact={"v": 1}, algorithm="policy")
    archive = tmp_path / "models.zip"
    export_models(archive)
    _wipe_registry()
    registry.register_model(model_type="inventory", artifact={"v": "other"}, algorithm="policy")
    with pytest.raises(ConflictError, match="inventory v1 exists here"):
        import_models(archive)
    assert MLModel.objects.count() == 1


@pytest.mark.django_db
def test_export_only_chosen_types_and_command_output(tmp_path, capsys):
    registry.register_model(model_type="inventory", artifact={"v": 1}, algorithm="policy")
    registry.register_model(model_type="sales_forecast", artifact={"v": 1}, algorithm="linear")
    archive = tmp_path / "inv.zip"
    call_command("export_models", str(archive), "--types", "inventory")
    assert "exported 1 model version(s)" in capsys.readouterr().out
    with zipfile.ZipFile(archive) as zf:
        kinds = {m["model_type"] for m in json.loads(zf.read("manifest.json"))["models"]}
    assert kinds == {"inventory"}


def _postgres_url() -> str | None:
    try:
        import psycopg
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=2):
            return f"postgres://postgres@127.0.0.1:5432/{ROUNDTRIP_DB}"
    except Exception:  # noqa: BLE001 — no server here: the test below is skipped
        return None


@pytest.mark.django_db(transaction=True)
def test_archive_from_this_database_restores_on_the_other_engine(tmp_path):
    """SQLite -> PostgreSQL when the suite runs on SQLite, PostgreSQL -> SQLite when it runs on PostgreSQL."""
    registry.register_model(model_type="inventory", artifact={"v": 1}, algorithm="policy")
    registry.register_model(model_type="inventory", artifact={"v": 2}, algorithm="policy")
    archive = tmp_path / "models.zip"
    export_models(archive)
    if connection.vendor == "sqlite":
        other = _postgres_url()
        if other is None:
            pytest.skip("no PostgreSQL server on 127.0.0.1:5432")
        import psycopg
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as pg:
            pg.execute(f"DROP DATABASE IF EXISTS {ROUNDTRIP_DB}")
            pg.execute(f"CREATE DATABASE {ROUNDTRIP_DB}")
    else:
        other = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    env = {**os.environ, "DATABASE_URL": other, "ML_MODEL_DIR": str(tmp_path / "other_models"), "DEBUG": "true",
           "LOG_DIR": str(tmp_path)}
    run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert run("migrate", "--noinput", "-v", "0").returncode == 0
    result = run("import_models", str(archive))
    assert result.returncode == 0, result.stderr
    assert "imported 2 model version(s)" in result.stdout
    check = run("shell", "-c", "from ml_predictions.training.registry import get_active_artifact;"
                "m, a = get_active_artifact('inventory'); print(m.version, a)")
    assert check.returncode == 0, check.stderr
    assert check.stdout.strip().splitlines()[-1] == "2 {'v': 2}"
    if connection.vendor == "sqlite":
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as pg:
            pg.execute(f"DROP DATABASE IF EXISTS {ROUNDTRIP_DB}")


@pytest.mark.django_db
def test_round_trip_restores_the_segment_history_once(registered, tmp_path):
    """The segment history (kept after versions are pruned) travels with a backup and is not duplicated."""
    from ml_predictions.models import CustomerSegmentHistory

    def snapshot():
        return sorted(CustomerSegmentHistory.objects.values_list(
            "run_id", "run_version", "calc_date", "customer_id", "cluster", "cluster_name", "segment_type", "clv"))

    before = snapshot()
    assert len(before) > 100
    manifest = export_models(tmp_path / "models.zip")
    assert manifest["segment_history"]["rows"] == len(before) and manifest["segment_history"]["runs"] == 1
    _wipe_registry()
    CustomerSegmentHistory.objects.all().delete()
    summary = import_models(tmp_path / "models.zip")
    assert summary["segment_history_rows"] == len(before)
    assert snapshot() == before
    assert import_models(tmp_path / "models.zip")["segment_history_rows"] == 0
    assert snapshot() == before
    # a forecast-only backup carries no history
    assert "segment_history" not in export_models(tmp_path / "f.zip", model_types=["sales_forecast"])
