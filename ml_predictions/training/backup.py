"""Backup and restore of trained models: registry rows, artifacts and per-model rows in one archive.

Why an archive of our own rather than a database dump: a shop restores its models on another machine,
often on another database (SQLite on a laptop, PostgreSQL in production), and the artifacts live in
a storage that a database dump does not cover. The archive is a zip holding `manifest.json` (one
entry per model version: its registry row, the artifact's SHA-256 and the library versions that
wrote it) and the artifact files themselves; segmentation runs also carry their per-customer rows,
since a segmentation model answers customer lookups from them, and a backup that includes segmentation
carries the whole segment history (every run's assignments by calc_date, kept after versions are
pruned): without it a restored shop loses the transitions a marketer acts on.

A joblib artifact must only be loaded by the library versions that wrote it, and only if it is the
file that was written: the import refuses a hash mismatch and a version mismatch, naming both, rather
than restoring something the registry would later refuse to serve.
"""
from __future__ import annotations

import hashlib
import json
import uuid
import zipfile
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.dateparse import parse_date, parse_datetime

from ml_predictions.data_changes import mark_registry_changed
from ml_predictions.errors import ArtifactError, ConflictError, InvalidParameterError
from ml_predictions.models import CustomerSegmentAssignment, CustomerSegmentHistory, MLModel, ModelType
from ml_predictions.training.registry import clear_artifact_cache, get_storage, library_versions

FORMAT = "ml-predictions-models"
FORMAT_VERSION = 1
HISTORY_MEMBER = "segment_history.json"  # optional member: archives without it restore as before
# Library versions whose major.minor must agree for a joblib file to load safely.
CHECKED_LIBRARIES = ("scikit-learn", "numpy", "joblib")
_ROW_FIELDS = (
    "id", "model_type", "version", "algorithm", "parameters", "metrics", "artifact_sha256", "artifact_size",
    "library_versions", "is_active", "trained_at", "training_duration_seconds", "data_start", "data_end",
    "n_samples",
)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _assignment_fields() -> list[str]:
    """Every stored column of a segment assignment except its keys: new columns travel automatically."""
    return [f.attname for f in CustomerSegmentAssignment._meta.concrete_fields if f.attname not in ("id", "model_id")]


def _history_fields() -> list[str]:
    return [f.attname for f in CustomerSegmentHistory._meta.concrete_fields if f.attname != "id"]


def _write_history(archive: zipfile.ZipFile) -> dict[str, Any]:
    fields = _history_fields()
    rows = CustomerSegmentHistory.objects.order_by("pk").values_list(*fields)
    archive.writestr(HISTORY_MEMBER, json.dumps({"fields": fields, "rows": [[_jsonable(v) for v in r] for r in rows]}))
    return {"member": HISTORY_MEMBER, "rows": CustomerSegmentHistory.objects.count(),
            "runs": CustomerSegmentHistory.objects.values("run_id").distinct().count()}


def _restore_history(block: dict[str, Any]) -> int:
    """Insert the archived history of runs not present here (a run is restored whole or not at all)."""
    here = set(_history_fields())
    fields = [f for f in block["fields"] if f in here]
    index = [block["fields"].index(f) for f in fields]
    run_at = block["fields"].index("run_id")
    present = {str(r) for r in CustomerSegmentHistory.objects.values_list("run_id", flat=True).distinct()}
    rows = []
    for raw in block["rows"]:
        if str(raw[run_at]) in present:
            continue
        values = {f: raw[i] for f, i in zip(fields, index, strict=True)}
        values["calc_date"] = parse_date(values["calc_date"])
        rows.append(CustomerSegmentHistory(**values))
    CustomerSegmentHistory.objects.bulk_create(rows, batch_size=5000)
    return len(rows)


def _models_to_export(model_types: Iterable[str] | None) -> list[MLModel]:
    wanted = list(model_types or ModelType.values)
    unknown = sorted(set(wanted) - set(ModelType.values))
    if unknown:
        raise InvalidParameterError(
            f"Unknown model type(s) {', '.join(unknown)}; choose from {', '.join(ModelType.values)}.", field="types"
        )
    return list(MLModel.objects.filter(model_type__in=wanted).order_by("model_type", "version"))


def export_models(path: str | Path, *, model_types: Iterable[str] | None = None) -> dict[str, Any]:
    """Write every version of the chosen types (all by default) into one zip; return the manifest."""
    storage = get_storage()
    entries = []
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for model in _models_to_export(model_types):
            try:
                with storage.open(model.artifact_path, "rb") as handle:
                    payload = handle.read()
            except (FileNotFoundError, OSError) as exc:
                raise ArtifactError(f"artifact of {model} ({model.artifact_path!r}) is missing; cannot back it up.") from exc
            if hashlib.sha256(payload).hexdigest() != model.artifact_sha256:
                raise ArtifactError(f"artifact of {model} does not match its recorded SHA-256; refusing to back it up.")
            member = f"artifacts/{model.pk}.pkl"
            archive.writestr(member, payload)
            entry: dict[str, Any] = {name: _jsonable(getattr(model, name)) for name in _ROW_FIELDS}
            entry.update(artifact_member=member, artifact_name=Path(model.artifact_path).name)
            if model.model_type == ModelType.CUSTOMER_SEGMENTATION:
                fields = _assignment_fields()
                rows = list(CustomerSegmentAssignment.objects.filter(model=model).order_by("pk").values_list(*fields))
                assignments = f"assignments/{model.pk}.json"
                archive.writestr(assignments, json.dumps({"fields": fields, "rows": [[_jsonable(v) for v in r] for r in rows]}))
                entry["assignments_member"] = assignments
                entry["assignments"] = len(rows)
            entries.append(entry)
        manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "created_at": datetime.now().isoformat(),
                    "library_versions": library_versions(), "models": entries}
        if ModelType.CUSTOMER_SEGMENTATION in list(model_types or ModelType.values):
            manifest["segment_history"] = _write_history(archive)
        archive.writestr("manifest.json", json.dumps(manifest, indent=1))
    return manifest


def _read_manifest(archive: zipfile.ZipFile) -> dict[str, Any]:
    try:
        manifest = json.loads(archive.read("manifest.json"))
    except KeyError as exc:
        raise InvalidParameterError("Not a model backup: the archive has no manifest.json.", field="file") from exc
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise InvalidParameterError(
            f"Not a model backup of format {FORMAT} v{FORMAT_VERSION} (got {manifest.get('format')!r} "
            f"v{manifest.get('format_version')!r}).", field="file"
        )
    return manifest


def _version_mismatches(stored: dict[str, str]) -> dict[str, tuple[str, str]]:
    current = library_versions()
    return {
        lib: (stored[lib], current[lib]) for lib in CHECKED_LIBRARIES
        if stored.get(lib) and stored[lib].split(".")[:2] != current[lib].split(".")[:2]
    }


def _check_entry(entry: dict[str, Any], payload: bytes) -> None:
    label = f"{entry['model_type']} v{entry['version']}"
    if hashlib.sha256(payload).hexdigest() != entry["artifact_sha256"]:
        raise ArtifactError(f"{label}: the archived artifact does not match its recorded SHA-256; nothing was imported.")
    mismatched = _version_mismatches(entry.get("library_versions") or {})
    if mismatched:
        detail = ", ".join(f"{lib} {old} in the backup vs {new} here" for lib, (old, new) in mismatched.items())
        raise ArtifactError(
            f"{label} was written with other library versions ({detail}); install the backup's versions or retrain. "
            "Nothing was imported.", details={"mismatched_versions": mismatched},
        )


def _existing_clash(entry: dict[str, Any]) -> str | None:
    """'same' when this exact version is already here, an error message when another row holds its place."""
    same = MLModel.objects.filter(pk=entry["id"]).first()
    if same is not None:
        if same.artifact_sha256 == entry["artifact_sha256"]:
            return "same"
        return f"model id {entry['id']} exists here with another artifact"
    taken = MLModel.objects.filter(model_type=entry["model_type"], version=entry["version"]).first()
    if taken is not None:
        return f"{entry['model_type']} v{entry['version']} exists here as another model ({taken.pk})"
    return None


def import_models(path: str | Path, *, activate: bool = True) -> dict[str, Any]:
    """Restore a backup: verify everything first, then write rows in one transaction.

    Versions already present (same id and hash) are skipped, so importing twice changes nothing. With
    `activate`, each type's version that was active in the backup becomes the active one here, so the
    one-active-per-type rule holds whatever was active before.
    """
    with zipfile.ZipFile(path) as archive:
        manifest = _read_manifest(archive)
        entries = manifest["models"]
        payloads = {}
        states = {}
        for entry in entries:
            payloads[entry["id"]] = archive.read(entry["artifact_member"])
            _check_entry(entry, payloads[entry["id"]])
            states[entry["id"]] = _existing_clash(entry)
        clashes = [state for state in states.values() if state not in (None, "same")]
        if clashes:
            raise ConflictError("The backup clashes with models already registered here: " + "; ".join(clashes)
                                + ". Nothing was imported.", details={"clashes": clashes})
        assignments = {e["id"]: json.loads(archive.read(e["assignments_member"]))
                       for e in entries if e.get("assignments_member")}
        history = json.loads(archive.read(HISTORY_MEMBER)) if manifest.get("segment_history") else None
    storage = get_storage()
    new = [e for e in entries if states[e["id"]] is None]
    saved: list[str] = []
    try:
        with transaction.atomic():
            for entry in new:
                name = storage.save(entry["artifact_name"], ContentFile(payloads[entry["id"]]))
                saved.append(name)
                row = {k: entry[k] for k in _ROW_FIELDS if k != "is_active"}
                row["trained_at"] = parse_datetime(row["trained_at"])
                row["data_start"] = parse_date(row["data_start"]) if row["data_start"] else None
                row["data_end"] = parse_date(row["data_end"]) if row["data_end"] else None
                model = MLModel.objects.create(**row, artifact_path=name, is_active=False)
                if entry["id"] in assignments:
                    _restore_assignments(model, assignments[entry["id"]])
            activated = _activate_from_backup(entries) if activate else []
            history_rows = _restore_history(history) if history else 0
    except BaseException:
        for name in saved:
            storage.delete(name)
        raise
    clear_artifact_cache()
    return {"imported": len(new), "skipped": len(entries) - len(new), "activated": activated,
            "segment_history_rows": history_rows}


def _restore_assignments(model: MLModel, block: dict[str, Any]) -> None:
    here = set(_assignment_fields())
    fields = [f for f in block["fields"] if f in here]
    index = [block["fields"].index(f) for f in fields]
    date_fields = {f.attname for f in CustomerSegmentAssignment._meta.concrete_fields if f.get_internal_type() == "DateField"}
    rows = []
    for raw in block["rows"]:
        values = {f: raw[i] for f, i in zip(fields, index, strict=True)}
        for f in date_fields & values.keys():
            values[f] = parse_date(values[f]) if values[f] else None
        rows.append(CustomerSegmentAssignment(model=model, **values))
    CustomerSegmentAssignment.objects.bulk_create(rows, batch_size=5000)


def _activate_from_backup(entries: list[dict[str, Any]]) -> list[str]:
    activated = []
    for entry in entries:
        if not entry["is_active"]:
            continue
        list(MLModel.objects.select_for_update().filter(model_type=entry["model_type"]).values_list("id"))
        MLModel.objects.filter(model_type=entry["model_type"], is_active=True).exclude(pk=entry["id"]).update(is_active=False)
        MLModel.objects.filter(pk=entry["id"]).update(is_active=True)
        mark_registry_changed()
        activated.append(f"{entry['model_type']} v{entry['version']}")
    return activated

