"""Data written and models trained once for a group of read-only tests, then wiped.

Why: most API tests need a shop and a trained model, and building them (write ~3,000 orders, train) took
5-7 s per test, most of the suite's time. A class- or module-scoped fixture builds the state once with
`build_shared`, committed outside the per-test transaction; each test still runs in its own transaction
(the `db` fixture), so what a test writes is rolled back and the next one sees the same shared state.
Every artifact is copied into the test's own MODEL_DIR (`use_shared_artifacts`), so a test that deletes
or corrupts one cannot harm the next. At the end the shared rows are flushed, so no state leaks into
later modules, and a test that needs an empty database must not sit inside such a group.
"""
from __future__ import annotations

import copy
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management.color import no_style
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from ml_predictions.training.registry import clear_artifact_cache

# Kept: content types and permissions are created by migrate's post_migrate signal, not by a test, and
# later tests (the admin's) rely on them.
KEPT_TABLES = {"django_content_type", "auth_permission", "django_migrations"}


@dataclass
class Shared:
    """What the build made: its artifacts' directory, the settings it ran with and what it returned."""

    model_dir: Path
    ml_settings: dict[str, Any]
    value: Any = None


def flush_shared_tables() -> None:
    """Empty every table the tests write (one DELETE/TRUNCATE each, in one transaction)."""
    tables = [t for t in connection.introspection.django_table_names(only_existing=True, include_views=False)
              if t not in KEPT_TABLES]
    statements = connection.ops.sql_flush(no_style(), tables, reset_sequences=False, allow_cascade=True)
    connection.ops.execute_sql_flush(statements)


@contextmanager
def build_shared(django_db_blocker: Any, model_dir: Path, build: Callable[[APIClient], Any],
                 **ml_settings: Any) -> Iterator[Shared]:
    """Run `build(client)` once with database access (client: an authenticated staff APIClient), then
    yield the result for the group's tests and flush the tables when the group is done."""
    overrides = {**settings.ML_PREDICTIONS, **ml_settings, "MODEL_DIR": str(model_dir)}
    with django_db_blocker.unblock():
        try:
            with override_settings(ML_PREDICTIONS=overrides):
                clear_artifact_cache()
                cache.clear()
                user = get_user_model().objects.create_user("shared-staff", "shared@example.com", "pw-shared-1",
                                                            is_staff=True)
                client = APIClient()
                client.force_authenticate(user)
                shared = Shared(model_dir, dict(ml_settings), build(client))
        except BaseException:
            flush_shared_tables()
            raise
        finally:
            clear_artifact_cache()
            cache.clear()
    try:
        yield shared
    finally:
        with django_db_blocker.unblock():
            flush_shared_tables()


def use_shared_artifacts(shared: Shared, test_settings: Any) -> None:
    """Copy the shared artifacts into this test's MODEL_DIR and apply the build's settings."""
    target = Path(test_settings.ML_PREDICTIONS["MODEL_DIR"])
    shutil.copytree(shared.model_dir, target, dirs_exist_ok=True)
    test_settings.ML_PREDICTIONS = {**test_settings.ML_PREDICTIONS, **shared.ml_settings, "MODEL_DIR": str(target)}


class SegmentedSmallShop:
    """Base of the read-only test classes that share one k=6 segmentation of the small shop (the
    `segmentation_run` fixture of tests/api/conftest.py): `small_shop` is the generated data, `trained`
    the train response. Not collected itself (no Test prefix); each subclass gets its own run."""

    @pytest.fixture
    def small_shop(self, segmentation_run, db):
        return segmentation_run.value[0]

    @pytest.fixture
    def trained(self, segmentation_run, db, settings):
        use_shared_artifacts(segmentation_run, settings)
        return copy.deepcopy(segmentation_run.value[1])
