"""Domain errors raised by services and workflows; the API maps each to one HTTP status.

Services raise these instead of DRF exceptions so they stay free of Django REST framework, while the
API still answers every bad input with a 4xx that names the problem.
"""
from __future__ import annotations

from typing import Any


class MLError(Exception):
    """Base class; `status_code` and `code` drive the API's error response."""

    status_code = 400
    code = "ml_error"

    def __init__(self, message: str, *, field: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details or {}


class InsufficientDataError(MLError):
    """Not enough history to train or answer; the message says how much is needed and how much exists."""

    status_code = 422
    code = "insufficient_data"


class InvalidParameterError(MLError):
    status_code = 400
    code = "invalid_parameter"


class NotFoundError(MLError):
    status_code = 404
    code = "not_found"


class NoActiveModelError(MLError):
    status_code = 409
    code = "no_active_model"


class TrainingInProgressError(MLError):
    status_code = 409
    code = "training_in_progress"


class ArtifactError(MLError):
    """An artifact is missing, corrupted, or was written by incompatible library versions."""

    status_code = 409
    code = "artifact_error"


class DataSourceError(MLError):
    status_code = 500
    code = "data_source_misconfigured"


class NotFittedError(MLError):
    status_code = 409
    code = "not_fitted"


class ConflictError(MLError):
    """The request is valid but clashes with the current state (e.g. resolving a resolved alert)."""

    status_code = 409
    code = "conflict"
