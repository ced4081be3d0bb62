"""Shared fixtures: API clients for each role, and a small generated shop."""
from __future__ import annotations

import os
from datetime import date

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.utils import translation
from rest_framework.test import APIClient

from backend_django.shop.generator import GeneratorConfig, SyntheticShop, synthesize, write_shop
from ml_predictions.training.registry import clear_artifact_cache

# The settings refuse to start without DEBUG or a real SECRET_KEY; under pytest they draw a random key,
# exported here so the suite's subprocesses (workers, live servers) start with the same one.
os.environ.setdefault("SECRET_KEY", django_settings.SECRET_KEY)

# A fixed end date keeps generated data identical whatever day the suite runs.
TEST_END_DATE = date(2026, 6, 30)


def pytest_configure(config: pytest.Config) -> None:
    """The MD5 hasher in the test run only: PBKDF2 costs ~0.4 s per user created or logged in, and the
    suite creates hundreds; production settings keep Django's default hashers."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _isolated_artifacts(settings, tmp_path):
    """Each test writes artifacts to its own directory and starts with empty artifact and Django caches
    (the inventory analysis cache would otherwise carry a result from a test with the same shop)."""
    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "MODEL_DIR": str(tmp_path / "ml_models")}
    clear_artifact_cache()
    cache.clear()
    yield
    clear_artifact_cache()
    cache.clear()
    translation.activate(settings.LANGUAGE_CODE)  # a request with Accept-Language leaves its language active


@pytest.fixture
def staff_user(db):
    return get_user_model().objects.create_user("staff", "staff@example.com", "pw-staff-123", is_staff=True)


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")


@pytest.fixture
def plain_user(db):
    return get_user_model().objects.create_user("shopper", "shopper@example.com", "pw-shopper-123")


@pytest.fixture
def anon_client():
    return APIClient()


@pytest.fixture
def staff_client(staff_user):
    client = APIClient()
    client.force_authenticate(staff_user)
    return client


@pytest.fixture
def user_client(plain_user):
    client = APIClient()
    client.force_authenticate(plain_user)
    return client


def small_shop_data() -> SyntheticShop:
    """~300 customers, 60 products, 3,000 orders over two years ending TEST_END_DATE (not written)."""
    return synthesize(GeneratorConfig(customers=300, products=60, orders=3000, years=2, seed=7, end_date=TEST_END_DATE))


@pytest.fixture
def small_shop(db):
    """The small shop, written for this test only."""
    shop = small_shop_data()
    write_shop(shop)
    return shop
