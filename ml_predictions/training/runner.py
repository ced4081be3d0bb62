"""One training runner for every model type: log, progress, single writer, atomic activation.

A capability supplies a *trainer* (see TRAINERS): a function `train(params, progress)` that reads
the data source, fits its service and returns a TrainingOutcome. Everything around it — the
MLTrainingLog row that doubles as the progress channel (the Tasks API has none), the refusal of a
second concurrent training, the registry write, failure handling — lives here once, so the API, the
management commands and the background tasks all behave the same way.
"""
from __future__ import annotations

import importlib
import importlib.util
import logging
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ml_predictions.errors import InvalidParameterError, MLError, TrainingInProgressError
from ml_predictions.exceptions import http_status
from ml_predictions.models import MLModel, MLTrainingLog, ModelType
from ml_predictions.training.champion import ACTIVATION_POLICIES, ALWAYS, FORCE, Verdict, judge
from ml_predictions.training.dbretry import retry_on_lock
from ml_predictions.training.logs import STALE_ERROR, fail_stale_trainings  # noqa: F401  (STALE_ERROR: re-exported)
from ml_predictions.training.registry import load_artifact, register_model
from ml_predictions.training.trainers import trainer_table
from ml_predictions.training.types import ProgressCallback, TrainingOutcome

logger = logging.getLogger(__name__)

def resolve_trainer(model_type: str) -> Callable[[dict[str, Any], ProgressCallback], TrainingOutcome]:
    TRAINERS = trainer_table()
    if model_type not in TRAINERS:
        raise InvalidParameterError(
            _("model_type must be one of %(choices)s; got %(value)r.") % {"choices": sorted(TRAINERS), "value": model_type},
            field="model_type",
        )
    module_path, _sep, name = TRAINERS[model_type].rpartition(".")
    try:
        installed = importlib.util.find_spec(module_path) is not None
    except ModuleNotFoundError:  # a parent package is missing
        installed = False
    # The module exists: an ImportError raised inside it is a bug and must surface, not read as "not installed".
    trainer = getattr(importlib.import_module(module_path), name, None) if installed else None
    if trainer is None:
        raise InvalidParameterError(
            _("training of %(model_type)s is not available in this installation.") % {"model_type": model_type}
        )
    return trainer


def trainer_params(model_type: str) -> frozenset[str] | None:
    """The parameter names `model_type`'s trainer reads (its module's TRAIN_PARAMS), or None if undeclared.

    Declared next to the trainer so the list cannot drift from the code that reads it; a host's own
    trainer that declares nothing accepts any key (the runner cannot know better).
    """
    resolve_trainer(model_type)
    module = importlib.import_module(trainer_table()[model_type].rpartition(".")[0])
    declared = getattr(module, "TRAIN_PARAMS", None)
    return None if declared is None else frozenset(declared)


def check_train_params(model_type: str, params: dict[str, Any]) -> None:
    """Refuse keys `model_type`'s trainer does not read: a typo must not train silently with defaults."""
    allowed = trainer_params(model_type)
    if allowed is None:
        return
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise InvalidParameterError(
            _("Unknown %(model_type)s parameter(s) %(keys)s; allowed: %(allowed)s.")
            % {"model_type": model_type, "keys": ", ".join(unknown), "allowed": ", ".join(sorted(allowed))},
            field=unknown[0],
        )


def route_train_params(
    params: dict[str, Any], model_types: list[str], sections: dict[str, str] | None = None
) -> dict[str, dict[str, Any]]:
    """Split one parameter object into each model type's own parameters (for training several at once).

    A key naming a model type (or one of `sections`' aliases) holds that type's parameters, checked
    strictly; any other key goes to every type whose trainer reads it, and a key no type reads is an
    error naming it, so nothing is silently dropped. A section's value wins over the same flat key.
    """
    names = {mt: mt for mt in model_types}
    names.update({alias: mt for alias, mt in (sections or {}).items() if mt in model_types})
    known = {mt: trainer_params(mt) for mt in model_types}
    routed: dict[str, dict[str, Any]] = {mt: {} for mt in model_types}
    own: dict[str, dict[str, Any]] = {mt: {} for mt in model_types}
    for key, value in params.items():
        if key not in names and (sections or {}).get(key, key) in ModelType.values:
            raise InvalidParameterError(
                _("Parameters were given for %(section)s, whose training is not available in this installation.")
                % {"section": key},
                field=key,
            )
        if key in names:
            if not isinstance(value, dict):
                raise InvalidParameterError(
                    _("The %(section)s section must be an object of parameters; got %(value)r.")
                    % {"section": key, "value": value},
                    field=key,
                )
            check_train_params(names[key], value)
            own[names[key]].update(value)
            continue
        takers = [mt for mt in model_types if known[mt] is not None and key in known[mt]]
        if not takers:
            readers = "; ".join(f"{mt}: {', '.join(sorted(keys))}" for mt, keys in known.items() if keys)
            raise InvalidParameterError(
                _("No model type reads the parameter %(key)r (put a type's own parameters under its name, "
                  "e.g. {\"%(example)s\": {…}}). Parameters per type: %(readers)s.")
                % {"key": key, "example": next(iter(sections or names)), "readers": readers},
                field=key,
            )
        for mt in takers:
            routed[mt][key] = value
    return {mt: {**routed[mt], **own[mt]} for mt in model_types}


def trainer_available(model_type: str) -> bool:
    """Whether this installation has a trainer for `model_type` (its workflow module imports)."""
    try:
        resolve_trainer(model_type)
    except InvalidParameterError:
        return False
    return True


def start_training(
    model_type: str, params: dict[str, Any] | None = None, *, user: Any = None, trigger: str = "api"
) -> MLTrainingLog:
    """Create the queued log, or raise TrainingInProgressError if this type is already training."""
    resolve_trainer(model_type)
    retry_on_lock(lambda: fail_stale_trainings(model_type), what="freeing stale trainings")

    def create() -> MLTrainingLog:
        with transaction.atomic():
            return MLTrainingLog.objects.create(
                model_type=model_type,
                status=MLTrainingLog.Status.QUEUED,
                parameters=params or {},
                message="Queued",
                triggered_by=user if getattr(user, "pk", None) else None,
                trigger=trigger,
            )

    try:
        return retry_on_lock(create, what=f"queueing a {model_type} training")
    except IntegrityError as exc:
        running = MLTrainingLog.objects.filter(
            model_type=model_type, status__in=[MLTrainingLog.Status.QUEUED, MLTrainingLog.Status.RUNNING]
        ).first()
        state = str(running.get_status_display()).lower() if running else _("in progress")
        raise TrainingInProgressError(
            _("A %(model_type)s training is already %(state)s; wait for it to finish.")
            % {"model_type": model_type, "state": state},
            details={"training_log_id": str(running.pk) if running else None},
        ) from exc


def _progress_writer(log_id: Any, on_progress: ProgressCallback | None) -> ProgressCallback:
    def progress(percent: int, message: str = "") -> None:
        percent = max(0, min(100, int(percent)))
        retry_on_lock(
            lambda: MLTrainingLog.objects.filter(pk=log_id).update(
                progress=percent, message=message[:255], updated_at=timezone.now()),
            what=f"training {log_id} progress",
        )
        logger.info("training %s: %s%% %s", log_id, percent, message)
        if on_progress is not None:
            on_progress(percent, message)

    return progress


def run_training(
    log_id: Any, *, on_progress: ProgressCallback | None = None, activation: str = ALWAYS
) -> MLTrainingLog:
    """Run a queued training to the end; never raises for a trainer failure (the log records it).

    `activation` is the champion/challenger policy (training/champion.py): "always" activates the new
    version (an explicit training), "champion" only when it is not worse than the active one (the
    retrain paths), "force" activates and records the comparison anyway.
    """
    log = MLTrainingLog.objects.get(pk=log_id)
    if log.status != MLTrainingLog.Status.QUEUED:
        return log
    started = time.perf_counter()
    log.status = MLTrainingLog.Status.RUNNING
    log.started_at = timezone.now()
    log.message = "Starting"
    retry_on_lock(lambda: log.save(update_fields=["status", "started_at", "message", "updated_at"]),
                  what=f"starting training {log.pk}")
    progress = _progress_writer(log.pk, on_progress)
    try:
        trainer = resolve_trainer(log.model_type)
        outcome = trainer(dict(log.parameters), progress)
        if not MLTrainingLog.objects.filter(pk=log.pk, status=MLTrainingLog.Status.RUNNING).exists():
            # Declared dead (stale) while the trainer was still working: a newer training may own the
            # slot now, so registering this result would make two writers. Drop it.
            logger.warning("training %s finished after it was marked failed; its model is discarded", log.pk)
            log.refresh_from_db()
            return log
        verdict = _judge(log.model_type, outcome, activation)
        metrics = {**outcome.metrics, "challenger": verdict.as_dict()} if verdict else outcome.metrics
        progress(95, "Saving artifact")
        duration = round(time.perf_counter() - started, 3)
        model = register_model(
            model_type=log.model_type,
            artifact=outcome.artifact,
            algorithm=outcome.algorithm,
            parameters={**log.parameters, **outcome.parameters},
            metrics=metrics,
            training_duration_seconds=duration,
            data_start=outcome.data_start,
            data_end=outcome.data_end,
            n_samples=outcome.n_samples,
            trained_by=log.triggered_by,
            on_registered=outcome.on_registered,
            activate=verdict is None or verdict.accepted,
        )
        if verdict is not None:
            (logger.info if verdict.accepted else logger.warning)(
                "%s challenger v%s %s", log.model_type, model.version, verdict.reason)
    except Exception as exc:  # noqa: BLE001 — every failure must end in the log, not in a dead worker
        duration = round(time.perf_counter() - started, 3)
        is_domain = isinstance(exc, MLError)
        error: dict[str, Any] = {"code": getattr(exc, "code", "training_failed"), "message": str(exc),
                                 "status": http_status(exc)}
        if is_domain:
            text = str(exc)
            if exc.field:  # the same shape as a request error: a client can point at the field
                error["fields"] = {exc.field: [exc.message]}
        else:
            # A bug: the stored answer names it only by a correlation id (its text may hold connection
            # details); the log row and the logged traceback carry the same id.
            rid = uuid.uuid4().hex
            error.update(message=f"Training failed unexpectedly; quote request id {rid} to the operator.",
                         request_id=rid)
            text = f"[request_id={rid}] {exc.__class__.__name__}: {exc}\n{traceback.format_exc()}"
        retry_on_lock(lambda: MLTrainingLog.objects.filter(pk=log.pk).update(
            status=MLTrainingLog.Status.FAILED,
            error=text,
            message="Failed",
            finished_at=timezone.now(),
            duration_seconds=duration,
            result={"success": False, "error": error},
            updated_at=timezone.now(),
        ), what=f"recording training {log.pk}'s failure")
        if is_domain:
            logger.warning("training %s failed: %s", log.pk, exc)
        else:
            logger.exception("training %s failed [request_id=%s]: %s", log.pk, error["request_id"], exc)
        log.refresh_from_db()
        log.exception = exc  # type: ignore[attr-defined]  # lets a synchronous caller re-raise it
        return log
    result = {
        "success": True,
        "message": outcome.message,
        "model_id": str(model.pk),
        "version": model.version,
        "metrics": outcome.metrics,
        "duration_seconds": duration,
        "training_log_id": str(log.pk),
        **outcome.response,
        "activated": model.is_active,
    }
    if verdict is not None:
        result["challenger"] = verdict.as_dict()
        if not verdict.accepted:
            result["message"] = (f"Challenger v{model.version} rejected, v{verdict.champion_version} stays active: "
                                 f"{verdict.reason}")
    retry_on_lock(lambda: MLTrainingLog.objects.filter(pk=log.pk).update(
        status=MLTrainingLog.Status.SUCCEEDED,
        progress=100,
        message="Done",
        finished_at=timezone.now(),
        duration_seconds=duration,
        metrics=metrics,
        result=result,
        ml_model=model,
        updated_at=timezone.now(),
    ), what=f"recording training {log.pk}'s success")
    log.refresh_from_db()
    return log


def train_now(
    model_type: str,
    params: dict[str, Any] | None = None,
    *,
    user: Any = None,
    trigger: str = "command",
    on_progress: ProgressCallback | None = None,
    activation: str = ALWAYS,
) -> MLTrainingLog:
    """Synchronous training (management commands, tests): start + run in this process."""
    log = start_training(model_type, params, user=user, trigger=trigger)
    return run_training(log.pk, on_progress=on_progress, activation=activation)


def _judge(model_type: str, outcome: TrainingOutcome, activation: str) -> Verdict | None:
    """The champion/challenger verdict, or None for an explicit training (always activated)."""
    if activation not in ACTIVATION_POLICIES:
        raise InvalidParameterError(f"activation must be one of {ACTIVATION_POLICIES}; got {activation!r}.")
    if activation == ALWAYS:
        return None
    champion = MLModel.objects.filter(model_type=model_type, is_active=True).first()
    return judge(model_type=model_type, challenger_metrics=outcome.metrics, champion=champion,
                 score_artifact=outcome.score_artifact, load_champion=load_artifact, force=activation == FORCE)
