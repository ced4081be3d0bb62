"""The order-line read on PostgreSQL raises work_mem for its own transaction only (orm.READ_WORK_MEM)."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ml_predictions.data.orm import READ_WORK_MEM, DjangoORMDataSource


@pytest.mark.django_db(transaction=True)
def test_the_read_sets_work_mem_for_its_transaction_only(small_shop):
    postgres = connection.vendor == "postgresql"
    before = None
    if postgres:
        with connection.cursor() as cursor:
            cursor.execute("SHOW work_mem")
            before = cursor.fetchone()[0]
    with CaptureQueriesContext(connection) as queries:
        lines = DjangoORMDataSource().order_lines()
    assert len(lines) > 0
    sql = [q["sql"] for q in queries.captured_queries]
    selects = [i for i, q in enumerate(sql) if q.lstrip().upper().startswith("SELECT")]
    sets = [i for i, q in enumerate(sql) if f"SET LOCAL work_mem = '{READ_WORK_MEM}'" in q]
    if not postgres:
        assert sets == [] and selects  # nothing PostgreSQL-specific on other databases
        return
    assert sets and selects and sets[0] < selects[0]
    with connection.cursor() as cursor:  # the transaction is over: the session's own value again
        cursor.execute("SHOW work_mem")
        assert cursor.fetchone()[0] == before != READ_WORK_MEM
