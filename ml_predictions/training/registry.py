"""Artifact store and model registry.

Why it is built this way:
- Artifacts go through Django's storage API so a host can put them on S3-like storage by naming a
  storage class in settings; the default is a FileSystemStorage rooted at MODEL_DIR.
- Activation is atomic: the artifact is fully written (and hashed) *before* the registry row is
  created, and the switch of `is_active` happens in one transaction guarded by a partial unique
  constraint. A failed or concurrent training therefore never leaves a half-written active model.
- A joblib file is only as trustworthy as the place it came from and the library versions that wrote
  it: the SHA-256 and the versions are stored beside every artifact and checked on load.
- Loaded artifacts are cached in-process by (id, hash): a request costs one indexed row read.
"""
from __future__ import annotations

import hashlib
import io
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from importlib import metadata
from typing import Any

import joblib
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage
from django.db import IntegrityError, models, transaction
from django.db.models import Max
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from ml_predictions.conf import ml_settings
from ml_predictions.data_changes import mark_registry_changed, tracked_models
from ml_predictions.errors import ArtifactError, ConflictError, NoActiveModelError, NotFoundError
from ml_predictions.models import MLModel, ModelType
from ml_predictions.training.dbretry import retry_on_lock
from ml_predictions.training.logs import training_in_flight

logger = logging.getLogger(__name__)

# The spec names the files sales_forecast.pkl, product_recommendation.pkl, ...; we add the version.
ARTIFACT_BASENAMES = {
    ModelType.SALES_FORECAST: "sales_forecast",
    ModelType.PRODUCT_RECOMMENDATION: "product_recommendation",
    ModelType.CUSTOMER_SEGMENTATION: "customer_segmentation",
    ModelType.INVENTORY: "inventory",
}
_TRACKED_LIBRARIES = ("scikit-learn", "numpy", "pandas", "scipy", "joblib")

_cache: dict[tuple[str, str], Any] = {}
_cache_lock = threading.Lock()


def library_versions() -> dict[str, str]:
    return {name: metadata.version(name) for name in _TRACKED_LIBRARIES}


def get_storage() -> Storage:
    dotted = ml_settings.ARTIFACT_STORAGE
    if dotted:
        return import_string(dotted)(**(ml_settings.ARTIFACT_STORAGE_OPTIONS or {}))
    return FileSystemStorage(location=str(ml_settings.MODEL_DIR))


def clear_artifact_cache() -> None:
    with _cache_lock:
        _cache.clear()
        _integrity.clear()


def _serialize(artifact: Any) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(artifact, buffer, compress=3)
    return buffer.getvalue()


def register_model(
    *,
    model_type: str,
    artifact: Any,
    algorithm: str,
    parameters: dict | None = None,
    metrics: dict | None = None,
    training_duration_seconds: float = 0.0,
    data_start: date | None = None,
    data_end: date | None = None,
    n_samples: int = 0,
    trained_by: Any = None,
    activate: bool = True,
    on_registered: Callable[[MLModel], None] | None = None,
) -> MLModel:
    """Write the artifact, then register (and by default activate) a new version of `model_type`."""
    if model_type not in ModelType.values:
        raise ValueError(f"unknown model_type {model_type!r}")
    payload = _serialize(artifact)
    digest = hashlib.sha256(payload).hexdigest()
    storage = get_storage()
    for _attempt in range(5):
        next_version = (MLModel.objects.filter(model_type=model_type).aggregate(v=Max("version"))["v"] or 0) + 1
        name = f"{ARTIFACT_BASENAMES[ModelType(model_type)]}_v{next_version}.pkl"
        saved_name = storage.save(name, ContentFile(payload))  # fully written before any row exists
        def write_rows(next_version: int = next_version, saved_name: str = saved_name) -> MLModel:
            with transaction.atomic():
                if activate:
                    # Lock the type's rows so two activations serialize; the partial unique index is the backstop.
                    list(MLModel.objects.select_for_update().filter(model_type=model_type).values_list("id"))
                    MLModel.objects.filter(model_type=model_type, is_active=True).update(is_active=False)
                    mark_registry_changed()
                model = MLModel.objects.create(
                    model_type=model_type,
                    version=next_version,
                    algorithm=algorithm,
                    parameters=parameters or {},
                    metrics=metrics or {},
                    artifact_path=saved_name,
                    artifact_sha256=digest,
                    artifact_size=len(payload),
                    library_versions=library_versions(),
                    is_active=activate,
                    training_duration_seconds=training_duration_seconds,
                    data_start=data_start,
                    data_end=data_end,
                    n_samples=n_samples,
                    trained_by=trained_by if getattr(trained_by, "pk", None) else None,
                )
                if on_registered is not None:
                    on_registered(model)
            return model

        try:
            # The one short write transaction of a training: a momentary lock must not lose the work.
            model = retry_on_lock(write_rows, what=f"registering {model_type} v{next_version}")
        except IntegrityError:
            # another writer took this version number (or the hook failed on a constraint): retry
            storage.delete(saved_name)  # another writer took this version number; try the next one
            continue
        except BaseException:
            storage.delete(saved_name)  # nothing registered: leave no orphan file behind
            raise
        with _cache_lock:
            _cache[(str(model.pk), digest)] = artifact
        logger.info("registered %s v%s (%s bytes, active=%s)", model_type, next_version, len(payload), activate)
        try:
            retry_on_lock(lambda: prune_versions(model_type), what=f"pruning old {model_type} versions")
        except Exception:  # noqa: BLE001 — the new version is registered; housekeeping retries next time
            logger.exception("could not prune old %s versions; the next training will try again", model_type)
        return model
    raise ArtifactError(f"could not register a new {model_type} version after 5 attempts")


def load_artifact(model: MLModel) -> Any:
    """Return the artifact of `model`, from the in-process cache when possible."""
    key = (str(model.pk), model.artifact_sha256)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    current = library_versions()
    stored = model.library_versions or {}
    mismatched = {
        lib: (stored.get(lib), current[lib])
        for lib in ("scikit-learn", "numpy", "joblib")
        if stored.get(lib) and stored.get(lib).split(".")[:2] != current[lib].split(".")[:2]
    }
    if mismatched:
        detail = ", ".join(f"{lib} {old} -> {new}" for lib, (old, new) in mismatched.items())
        raise ArtifactError(
            f"{model} was written with other library versions ({detail}); retrain it before use.",
            details={"mismatched_versions": mismatched},
        )
    storage = get_storage()
    try:
        with storage.open(model.artifact_path, "rb") as handle:
            payload = handle.read()
    except (FileNotFoundError, OSError) as exc:
        raise ArtifactError(f"artifact file {model.artifact_path!r} of {model} is missing; retrain it.") from exc
    if hashlib.sha256(payload).hexdigest() != model.artifact_sha256:
        raise ArtifactError(f"artifact file of {model} does not match its recorded SHA-256; refusing to load it.")
    artifact = joblib.load(io.BytesIO(payload))
    with _cache_lock:
        _cache[key] = artifact
    return artifact


# model id -> (what the verdict was computed from, the verdict, when); see artifact_integrity
_integrity: dict[str, tuple[tuple, str, float]] = {}
_INTEGRITY_TTL = 60.0  # seconds a verdict lasts on a storage that cannot tell modification times


def artifact_integrity(model: MLModel) -> str:
    """Whether the stored file of `model` is the one registered: ok, missing, corrupt or unverified.

    "unverified" is a row without a recorded SHA-256 (no registration path writes one today, but a
    hand-made or legacy row can): nothing proves the file is the one trained, so `load_artifact`
    refuses it like a corrupt one. A probe calls this often, so a verdict is kept while the file's
    size and modification time stay the same; a storage that cannot tell the time re-hashes at most
    once a minute.
    """
    if not model.artifact_sha256:
        return "unverified"
    storage = get_storage()
    try:
        if not model.artifact_path or not storage.exists(model.artifact_path):
            return "missing"
        size = storage.size(model.artifact_path)
        try:
            stamp: Any = storage.get_modified_time(model.artifact_path).timestamp()
        except (NotImplementedError, AttributeError):
            stamp = None
    except OSError:
        return "missing"
    identity = (model.artifact_sha256, model.artifact_path, size, stamp)
    now = time.monotonic()
    with _cache_lock:
        known = _integrity.get(str(model.pk))
    if known and known[0] == identity and (stamp is not None or now - known[2] < _INTEGRITY_TTL):
        return known[1]
    if model.artifact_size and size != model.artifact_size:
        verdict = "corrupt"
    else:
        digest = hashlib.sha256()
        try:
            with storage.open(model.artifact_path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        except OSError:
            return "missing"
        verdict = "ok" if digest.hexdigest() == model.artifact_sha256 else "corrupt"
    with _cache_lock:
        _integrity[str(model.pk)] = (identity, verdict, now)
    return verdict


def get_active_model(model_type: str) -> MLModel:
    """The active row of `model_type`, read on every serving call (so an activation by any process is seen
    at once). Its two large JSON columns are left for a caller that reads them: decoding ~7 KB of metrics
    was the largest part of this read, and serving needs only the id, version and artifact fields."""
    model = MLModel.objects.filter(model_type=model_type, is_active=True).defer("metrics", "parameters").first()
    if model is None:
        raise NoActiveModelError(
            f"No active {model_type} model. Train one first (POST /api/ml/train-{_train_slug(model_type)}/ "
            f"or `python manage.py train`).",
            details={"model_type": model_type},
        )
    return model


def get_active_artifact(model_type: str) -> tuple[MLModel, Any]:
    model = get_active_model(model_type)
    return model, load_artifact(model)


@dataclass(frozen=True)
class Activation:
    """What an activation did: the version now active and the one it replaced (None if there was none)."""

    model: MLModel
    previous: MLModel | None

    @property
    def changed(self) -> bool:
        return self.previous is None or self.previous.pk != self.model.pk


def model_activate(*, model_id: Any) -> Activation:
    """Make a registered version the active one of its type (rollback / roll forward).

    The one activation rule, used by the API, the admin and the commands: the artifact must still
    load (a version that cannot be served is never made active), and no training of the same type may
    be queued or running, because that training would replace the version a moment later.
    """
    try:
        model = MLModel.objects.get(pk=model_id)
    except (MLModel.DoesNotExist, ValueError, TypeError, ValidationError) as exc:
        raise NotFoundError(_("ML model %(id)s does not exist.") % {"id": model_id}) from exc
    in_flight = training_in_flight(model.model_type)
    if in_flight is not None:
        raise ConflictError(
            _("A %(model_type)s training is %(status)s; activate a version after it finishes.")
            % {"model_type": model.model_type, "status": in_flight.get_status_display()},
            details={"training_log_id": str(in_flight.pk)},
        )
    load_artifact(model)  # refuse to activate something that cannot be served

    def switch() -> MLModel | None:
        with transaction.atomic():
            list(MLModel.objects.select_for_update().filter(model_type=model.model_type).values_list("id"))
            previous = MLModel.objects.filter(model_type=model.model_type, is_active=True).first()
            MLModel.objects.filter(model_type=model.model_type, is_active=True).exclude(pk=model.pk).update(
                is_active=False)
            MLModel.objects.filter(pk=model.pk).update(is_active=True)
            mark_registry_changed()  # update() sends no signal; cached answers show which version is active
        return previous

    previous = retry_on_lock(switch, what=f"activating {model}")
    model.refresh_from_db()
    logger.info("activated %s v%s (previous: %s)", model.model_type, model.version,
                f"v{previous.version}" if previous else "none")
    return Activation(model=model, previous=previous)


def activate_model(model_id: Any) -> MLModel:
    """Older spelling of `model_activate` that returns only the model."""
    return model_activate(model_id=model_id).model


def prune_versions(model_type: str, keep: int | None = None) -> int:
    """Delete artifacts and rows beyond the newest `keep` versions; never the active one."""
    keep = ml_settings.KEEP_VERSIONS if keep is None else keep
    if not keep or keep < 1:
        return 0
    old = list(MLModel.objects.filter(model_type=model_type, is_active=False).order_by("-version")[max(keep - 1, 0):])
    storage = get_storage()
    for model in old:
        if model.artifact_path:
            try:
                storage.delete(model.artifact_path)
            except OSError:
                logger.warning("could not delete artifact %s", model.artifact_path)
        _delete_cascaded_rows(model)
        model.delete()
    return len(old)


def _delete_cascaded_rows(model: MLModel) -> None:
    """The rows that die with `model` (ON DELETE CASCADE), deleted by one DELETE per table first.

    Why: data_changes connects a post_delete receiver for every sender, so Django's collector cannot
    fast-delete and would fetch, instantiate and signal each of a run's 100k assignment rows (8 s of a
    37 s segmentation training on PostgreSQL, paid by every training once KEEP_VERSIONS is reached).
    Only tables the receiver ignores (neither the shop's tracked tables nor alerts) and that nothing else
    references, so skipping their signals and cascades changes nothing.
    """
    for relation in model._meta.related_objects:
        related = relation.related_model
        if (relation.on_delete is models.CASCADE and not related._meta.related_objects
                and related not in tracked_models() and related._meta.label != "ml_predictions.InventoryAlert"):
            related._base_manager.filter(**{relation.field.name: model})._raw_delete(model._state.db)


def _train_slug(model_type: str) -> str:
    return {
        "sales_forecast": "sales-forecast",
        "product_recommendation": "product-recommendation",
        "customer_segmentation": "customer-segmentation",
        "inventory": "inventory",
    }.get(model_type, model_type)
