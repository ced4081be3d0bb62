"""The runner's lock retry: transient lock errors are retried, anything else (or inside a transaction) is not."""
from __future__ import annotations

import pytest
from django.conf import settings
from django.db import OperationalError, transaction

from ml_predictions.training.dbretry import is_transient, retry_on_lock


def _flaky(failures: int, message: str = "database is locked"):
    calls = {"n": 0}

    def op() -> str:
        calls["n"] += 1
        if calls["n"] <= failures:
            raise OperationalError(message)
        return "ok"

    return op, calls


def test_retries_a_locked_write_until_it_succeeds() -> None:
    op, calls = _flaky(3)
    waits: list[float] = []
    assert retry_on_lock(op, sleep=waits.append) == "ok"
    assert calls["n"] == 4
    assert len(waits) == 3 and waits[0] < waits[2]  # backoff grows


def test_gives_up_after_the_last_attempt() -> None:
    op, calls = _flaky(10)
    with pytest.raises(OperationalError, match="locked"):
        retry_on_lock(op, attempts=4, sleep=lambda _s: None)
    assert calls["n"] == 4


def test_other_operational_errors_are_not_retried() -> None:
    op, calls = _flaky(1, "no such table: ml_predictions_mlmodel")
    with pytest.raises(OperationalError, match="no such table"):
        retry_on_lock(op, sleep=lambda _s: None)
    assert calls["n"] == 1


@pytest.mark.django_db
def test_no_retry_inside_an_enclosing_transaction() -> None:
    op, calls = _flaky(1)
    with pytest.raises(OperationalError), transaction.atomic():
        retry_on_lock(op, sleep=lambda _s: None)
    assert calls["n"] == 1


def test_postgres_deadlock_counts_as_transient() -> None:
    assert is_transient(OperationalError("deadlock detected\nDETAIL: Process 1 waits for ShareLock"))
    assert not is_transient(ValueError("database is locked"))


def test_sqlite_settings_use_wal_immediate_and_a_busy_timeout() -> None:
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.sqlite3":
        pytest.skip("SQLite options only")
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert db["OPTIONS"]["timeout"] >= 5
