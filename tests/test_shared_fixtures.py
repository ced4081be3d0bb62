"""The shared-state helper the slow API tests build on: state visible in every test of the group, a test's
own writes rolled back, artifacts copied per test, and nothing left behind for the tests that follow.

The tests run in file order (pytest keeps it): the class first, then the module-level checks after it.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from backend_django.shop.models import Category
from ml_predictions.conf import ml_settings
from tests.shared import build_shared, use_shared_artifacts

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="class")
def two_categories(django_db_setup, django_db_blocker, tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("shared_check")

    def build(client):
        (model_dir / "artifact.bin").write_bytes(b"shared")
        Category.objects.bulk_create([Category(name="shared-a"), Category(name="shared-b")])
        return client.get("/api/ml/models/").status_code  # the build's client is an authenticated staff user

    with build_shared(django_db_blocker, model_dir, build, FORECAST_MAX_TRAIN_ROWS=1234) as shared:
        yield shared


class TestSharedState:
    def test_the_build_ran_once_as_staff_and_its_rows_are_visible(self, two_categories):
        assert two_categories.value == 200
        assert sorted(Category.objects.values_list("name", flat=True)) == ["shared-a", "shared-b"]
        assert get_user_model().objects.filter(username="shared-staff", is_staff=True).count() == 1

    def test_a_test_writes_and_deletes_freely(self, two_categories):
        Category.objects.all().delete()
        Category.objects.create(name="only-in-this-test")
        assert Category.objects.count() == 1

    def test_the_previous_tests_writes_were_rolled_back(self, two_categories):
        assert sorted(Category.objects.values_list("name", flat=True)) == ["shared-a", "shared-b"]

    def test_artifacts_and_settings_are_copied_into_the_tests_own_directory(self, two_categories, settings):
        own = Path(settings.ML_PREDICTIONS["MODEL_DIR"])
        assert own != two_categories.model_dir
        use_shared_artifacts(two_categories, settings)
        assert (own / "artifact.bin").read_bytes() == b"shared"
        assert ml_settings.FORECAST_MAX_TRAIN_ROWS == 1234 and Path(ml_settings.MODEL_DIR) == own
        (own / "artifact.bin").write_bytes(b"broken by this test")
        assert (two_categories.model_dir / "artifact.bin").read_bytes() == b"shared"


def test_nothing_is_left_after_the_group():
    assert not Category.objects.exists()
    assert not get_user_model().objects.exists()


@pytest.fixture(scope="class")
def failed_build(django_db_setup, django_db_blocker, tmp_path_factory):
    def build(client):
        Category.objects.create(name="half-built")  # committed: the build runs outside any test transaction
        raise RuntimeError("the build broke")

    with pytest.raises(RuntimeError, match="the build broke"):
        with build_shared(django_db_blocker, tmp_path_factory.mktemp("broken"), build):
            pass  # pragma: no cover - never reached
    return True


class TestFailedBuild:
    def test_a_failed_build_leaves_nothing_behind(self, failed_build):
        assert failed_build and not Category.objects.exists()
        assert not get_user_model().objects.exists()
