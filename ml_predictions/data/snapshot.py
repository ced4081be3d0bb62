"""One read per table for a run of several trainings (`train all`, `retrain_models`).

Each trainer asks the data source for the order lines, products and customers on its own. Run one
after the other, four trainers read the whole order table three times plus inventory's windows (about
5 s per read at 1M lines). Inside `shared_reads()`, `get_data_source()` returns a SnapshotDataSource:
the first `order_lines()` reads the full table once, and every later call (a window included) is
served from that frame, so the trainings of one run also see the same data.

The snapshot lives in a context variable: only the code running inside the block (the command's
thread) sees it; a web server's request threads never do.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import pandas as pd

from ml_predictions.data.base import DataSource, DateLike, to_utc_timestamp

_active: ContextVar[SnapshotDataSource | None] = ContextVar("ml_predictions_data_snapshot", default=None)


class SnapshotDataSource(DataSource):
    """Wraps the configured source; reads each table once and serves later reads from memory."""

    def __init__(self, inner: DataSource) -> None:
        self.inner = inner
        self._lines: pd.DataFrame | None = None
        self._tables: dict[str, pd.DataFrame] = {}
        self.reads: dict[str, int] = {"order_lines": 0, "products": 0, "customers": 0}

    def order_lines(self, start: DateLike = None, end: DateLike = None) -> pd.DataFrame:
        if self._lines is None:
            self._lines = self.inner.order_lines()
            self.reads["order_lines"] += 1
        frame = self._lines
        s, e = to_utc_timestamp(start), to_utc_timestamp(end)
        if s is not None or e is not None:
            # the same half-open window as the sources' own filter: start <= ordered_at < end
            keep = pd.Series(True, index=frame.index)
            if s is not None:
                keep &= frame["ordered_at"] >= s
            if e is not None:
                keep &= frame["ordered_at"] < e
            return frame[keep.to_numpy()].reset_index(drop=True)
        # a shallow copy: a trainer adding a column never changes what the next trainer gets (and with
        # pandas' copy-on-write, neither does writing into one)
        return frame.copy(deep=False)

    def _table(self, name: str) -> pd.DataFrame:
        if name not in self._tables:
            self._tables[name] = getattr(self.inner, name)()
            self.reads[name] += 1
        return self._tables[name].copy(deep=False)

    def products(self) -> pd.DataFrame:
        return self._table("products")

    def customers(self) -> pd.DataFrame:
        return self._table("customers")

    def refund_lines(self, start: DateLike = None, end: DateLike = None) -> pd.DataFrame:
        return self.inner.refund_lines(start, end)

    def anonymous_customer_ids(self) -> set[str]:
        return self.inner.anonymous_customer_ids()

    def fingerprint(self, *, order_windows: Sequence[tuple[DateLike, DateLike]] = (),
                    products: bool = False) -> str | None:
        return self.inner.fingerprint(order_windows=order_windows, products=products)

    def __getattr__(self, name: str) -> Any:
        # a host source's own extras (last_ordered_at, ...) still answer, from the database
        return getattr(self.inner, name)


def active_snapshot() -> SnapshotDataSource | None:
    return _active.get()


@contextmanager
def shared_reads(source: DataSource | None = None) -> Iterator[SnapshotDataSource]:
    """Within the block, every `get_data_source()` of this thread is one shared snapshot (nested blocks
    share the outer one)."""
    current = _active.get()
    if current is not None:
        yield current
        return
    if source is None:
        from ml_predictions.data import configured_data_source

        source = configured_data_source()
    snapshot = SnapshotDataSource(source)
    token = _active.set(snapshot)
    try:
        yield snapshot
    finally:
        _active.reset(token)
