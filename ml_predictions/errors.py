"""The plugin's one error vocabulary, free of Django so the estimators can raise it too.

Every *expected* failure — too little data, a bad parameter, an unknown id, a model that is not
trained — is one of these classes. Anything else that escapes a computation is a bug: the training
runner logs it with its traceback and the API answers 500. `ml_predictions.exceptions` is the single
place that turns these classes into HTTP statuses.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any


class MLError(Exception):
    """Base class of every named domain condition; `code` is the stable, machine-readable name."""

    code = "ml_error"

    def __init__(self, message: str, *, field: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details or {}


class InsufficientDataError(MLError):
    """Not enough history to train or answer; the message says how much is needed and how much exists."""

    code = "insufficient_data"


class InvalidParameterError(MLError):
    """A parameter (request field, training parameter, setting) has a value the code cannot use."""

    code = "invalid_parameter"


class NotFoundError(MLError):
    """An id (customer, product, segment, model version) that the data or the registry does not know."""

    code = "not_found"


class NoActiveModelError(MLError):
    code = "no_active_model"


class TrainingInProgressError(MLError):
    code = "training_in_progress"


class ArtifactError(MLError):
    """An artifact is missing, corrupted, or was written by incompatible library versions."""

    code = "artifact_error"


class DataSourceError(MLError):
    """The host's data source is misconfigured (a setting names a missing column, table or class)."""

    code = "data_source_misconfigured"


class ConflictError(MLError):
    """The request is valid but clashes with the current state (e.g. resolving a resolved alert)."""

    code = "conflict"


class NotFittedBase(MLError, ValueError, AttributeError):
    """What `NotFittedError` is without scikit-learn: the class `exceptions.py` maps to HTTP, so that
    importing this vocabulary (every view and command does) never pulls scikit-learn, SciPy and pandas
    into the process start (about 1.5 s of every `manage.py` command and system check)."""

    code = "not_fitted"


if TYPE_CHECKING:
    from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

    class NotFittedError(NotFittedBase, _SklearnNotFittedError):
        """An estimator used before `fit`; also a scikit-learn NotFittedError, so `check_is_fitted` callers agree."""


def __getattr__(name: str) -> Any:
    """Build `NotFittedError` on first use: it must subclass scikit-learn's class, and only the
    estimators (which import scikit-learn anyway) ask for it."""
    if name != "NotFittedError":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from sklearn.exceptions import NotFittedError as sklearn_not_fitted

    cls = type("NotFittedError", (NotFittedBase, sklearn_not_fitted), {
        "__doc__": "An estimator used before `fit`; also a scikit-learn NotFittedError, so "
                   "`check_is_fitted` callers agree.",
        "__module__": __name__,
    })
    globals()["NotFittedError"] = cls
    return cls


# Historical aliases: the estimators spoke of "insufficient data" under these names.
InsufficientData = InsufficientDataError
InvalidParameter = InvalidParameterError
