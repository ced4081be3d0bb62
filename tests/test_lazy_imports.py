"""The error vocabulary and the chart helpers start without the heavy libraries (they are imported by
every view module and command, so their imports are paid at every process start)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sklearn.exceptions import NotFittedError as SklearnNotFittedError

from ml_predictions import errors
from ml_predictions.exceptions import http_status

REPO = Path(__file__).resolve().parents[1]


def _modules_after(statement: str) -> set[str]:
    code = f"import sys, django; django.setup(); {statement}; print(' '.join(sys.modules))"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "backend_django.settings", "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=env, cwd=REPO).stdout
    return set(out.split())


def test_errors_and_plots_import_without_sklearn_pandas_or_matplotlib():
    loaded = _modules_after("import ml_predictions.errors, ml_predictions.exceptions, ml_predictions.api.plots")
    assert not {"sklearn", "pandas", "scipy", "matplotlib"} & loaded


def test_not_fitted_error_is_built_on_first_use_and_is_sklearns_too():
    exc = errors.NotFittedError("fit first")
    assert isinstance(exc, SklearnNotFittedError)
    assert isinstance(exc, errors.MLError) and exc.code == "not_fitted"
    assert errors.NotFittedError is errors.NotFittedError  # built once
    assert http_status(exc) == 409


def test_unknown_attribute_still_raises():
    try:
        errors.NoSuchError  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchError" in str(exc)
    else:
        raise AssertionError("an unknown name must raise AttributeError")
