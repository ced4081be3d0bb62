"""One read per training run: `shared_reads()` snapshots the data source; the ORM read's fast paths."""
from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ml_predictions.data import configured_data_source, get_data_source
from ml_predictions.data.orm import SPLIT_VENDORS, canonical_ids, parse_utc
from ml_predictions.data.snapshot import SnapshotDataSource, shared_reads
from ml_predictions.models import MLTrainingLog
from tests.helpers import selects


@pytest.mark.django_db
def test_a_snapshot_reads_each_table_once_and_serves_windows_like_the_source(small_shop):
    plain = configured_data_source()
    start, end = "2025-03-01", "2025-09-15"
    expected_window = plain.order_lines(start=start, end=end)
    expected_all = plain.order_lines()
    with shared_reads() as snapshot:
        assert get_data_source() is snapshot
        with CaptureQueriesContext(connection) as ctx:
            full = get_data_source().order_lines()
            window = get_data_source().order_lines(start=start, end=end)
            tail = get_data_source().order_lines(start=start)
            get_data_source().products()
            get_data_source().products()
            get_data_source().customers()
        # order lines (on SQLite the lines and their orders, scanned apart), products, customers: once each
        assert len(selects(ctx)) == 3 + (connection.vendor in SPLIT_VENDORS)
        assert snapshot.reads == {"order_lines": 1, "products": 1, "customers": 1}
        key = ["order_id", "product_id"]
        pd.testing.assert_frame_equal(full.sort_values(key).reset_index(drop=True),
                                      expected_all.sort_values(key).reset_index(drop=True))
        pd.testing.assert_frame_equal(window.sort_values(key).reset_index(drop=True),
                                      expected_window.sort_values(key).reset_index(drop=True))
        assert tail["ordered_at"].min() >= pd.Timestamp(start, tz="UTC")
        assert 0 < len(window) < len(tail) < len(full)
        # a trainer adding a column to its frame does not change what the next trainer reads
        full["extra"] = 1
        assert "extra" not in get_data_source().order_lines().columns
    assert get_data_source() is plain


@pytest.mark.django_db
def test_other_threads_never_see_the_snapshot(small_shop):
    seen = []
    with shared_reads():
        thread = threading.Thread(target=lambda: seen.append(type(get_data_source())))
        thread.start()
        thread.join()
        assert isinstance(get_data_source(), SnapshotDataSource)
    assert seen and seen[0] is not SnapshotDataSource


@pytest.mark.django_db
def test_train_all_reads_the_order_lines_once(small_shop, monkeypatch):
    reads = []
    original = SnapshotDataSource.order_lines

    def counting(self, start=None, end=None):
        frame = original(self, start, end)
        reads.append(self.reads["order_lines"])
        return frame

    monkeypatch.setattr(SnapshotDataSource, "order_lines", counting)
    call_command("train", "all", "--no-progress", "--params", '{"segmentation": {"n_clusters": 3}, "recommendation": {"evaluate": false}, "forecast": {"model_type": "linear"}}')
    logs = MLTrainingLog.objects.all()
    assert logs.count() >= 3 and all(log.status == "succeeded" for log in logs), [
        (log.model_type, log.error[:200]) for log in logs]
    assert len(reads) >= 3  # every trainer asked ...
    assert set(reads) == {1}  # ... and the table was read once


def test_hex_uuid_fast_path_spells_ids_like_the_general_rule():
    values = np.array(["726F28ED8783483A852DE4491422BF4F", "726f28ed8783483a852de4491422bf4f", None,
                       "C001", "726f28ed-8783-483a-852d-e4491422bf4f", 12], dtype=object)
    fast = canonical_ids(values, hex_uuids=True)
    general = canonical_ids(values)
    assert fast.tolist() == general.tolist()
    assert fast.tolist()[:2] == ["726f28ed-8783-483a-852d-e4491422bf4f"] * 2
    repeated = canonical_ids(np.array(["726f28ed8783483a852de4491422bf4f"] * 3, dtype=object), hex_uuids=True)
    assert repeated[0] is repeated[2]  # rows share one string per id


def test_timestamps_parse_the_same_with_and_without_offsets():
    sqlite_text = np.array(["2024-07-01 08:04:22", "2024-07-01 08:04:22.250000", None], dtype=object)
    pg_text = np.array(["2024-07-01 08:04:22+00", "2024-07-01 10:04:22.25+02", None], dtype=object)
    a, b = parse_utc(sqlite_text), parse_utc(pg_text)
    assert str(a.dtype).startswith("datetime64") and str(a.dt.tz) == "UTC" and str(b.dt.tz) == "UTC"
    assert a[0] == pd.Timestamp("2024-07-01 08:04:22", tz="UTC")
    assert a[1] == b[1] == pd.Timestamp("2024-07-01 08:04:22.25", tz="UTC")
    assert a.isna().tolist() == [False, False, True] and b.isna().tolist() == [False, False, True]
    utc_session = parse_utc(np.array(["2024-07-01 08:04:22+00", "2024-07-01 08:04:22.25+00"], dtype=object))
    assert utc_session.tolist() == a[:2].tolist()
