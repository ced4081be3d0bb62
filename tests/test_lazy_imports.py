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


def test_batch_command_checks_import_no_urlconf_and_no_heavy_library():
    # the URL checks import every view (scikit-learn, pandas, scipy, matplotlib): a command pays that
    # only if it runs them; the settings check knows the shipped data source without importing it
    loaded = _modules_after(
        "from django.core.checks import run_checks; from ml_predictions.management.base import command_check_tags; "
        "assert run_checks(tags=command_check_tags()) == []")
    assert not {"sklearn", "pandas", "scipy", "matplotlib", "backend_django.urls", "ml_predictions.api.views"} & loaded


def test_the_batch_commands_skip_only_the_url_and_template_checks():
    from django.core.management import load_command_class

    from ml_predictions.management.base import BatchCommand

    for app, name in [("ml_predictions", "train"), ("ml_predictions", "retrain_models"),
                      ("ml_predictions", "refresh_inventory"), ("ml_predictions", "export_models"),
                      ("ml_predictions", "import_models"), ("backend_django.shop", "generate_ml_data"),
                      ("backend_django.shop", "import_orders")]:
        command = load_command_class(app, name)
        assert isinstance(command, BatchCommand), name
        tags = set(command.requires_system_checks)
        assert {"models", "compatibility", "database", "security"} <= tags and not {"urls", "templates"} & tags, name


def test_a_batch_command_still_stops_on_a_misconfigured_plugin(settings):
    import pytest
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "ORDER_ITEM_MODEL": "shop.NoSuchModel"}
    with pytest.raises(SystemCheckError, match="ml_predictions.E003"):
        call_command("train", "inventory", "--params", '{"no_such": 1}', skip_checks=False)


def test_a_data_source_other_than_the_shipped_one_is_still_imported_and_checked(settings):
    from ml_predictions.checks import check_ml_settings

    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "DATA_SOURCE": "shop_adapters.NoSuchSource"}
    assert [e.id for e in check_ml_settings()] == ["ml_predictions.E001"]
    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "DATA_SOURCE": "ml_predictions.data.csv_source.CSVDataSource"}
    assert check_ml_settings() == []  # not an ORM source: the model settings are not required
