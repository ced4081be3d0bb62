"""Data source over three CSV files in the canonical columns (order_lines, products, customers).

For shops whose history lives outside Django, and for evaluating the models on exported data
without importing it. Reading is one vectorized pandas read per file.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ml_predictions.conf import ml_settings
from ml_predictions.data.base import (
    CUSTOMER_COLUMNS,
    ORDER_LINE_COLUMNS,
    DataSource,
    DateLike,
    normalize_customers,
    normalize_order_lines,
    normalize_products,
    to_utc_timestamp,
)
from ml_predictions.errors import DataSourceError

ID_DTYPES = {"order_id": str, "customer_id": str, "product_id": str, "id": str}


class CSVDataSource(DataSource):
    def __init__(self, directory: str | Path | None = None) -> None:
        directory = directory or ml_settings.CSV_DIRECTORY
        if not directory:
            raise DataSourceError("CSVDataSource needs a directory (ML_PREDICTIONS['CSV_DIRECTORY']).")
        self.directory = Path(directory)

    def _read(self, name: str, required: list[str]) -> pd.DataFrame:
        path = self.directory / f"{name}.csv"
        if not path.exists():
            raise DataSourceError(f"{path} does not exist.")
        frame = pd.read_csv(path, dtype=ID_DTYPES, keep_default_na=True)
        missing = [c for c in required if c not in frame.columns]
        if missing:
            raise DataSourceError(f"{path} lacks columns {missing}.")
        return frame

    def _lines(self, start: DateLike, end: DateLike, *, refunds: bool) -> pd.DataFrame:
        raw = self._read("order_lines", ORDER_LINE_COLUMNS)
        if "status" in raw.columns:  # optional: EXCLUDED_ORDER_STATUSES / REFUND_ORDER_STATUSES apply
            status = raw["status"].astype(str).str.strip().str.lower()
            refund = status.isin([str(s).lower() for s in ml_settings.REFUND_ORDER_STATUSES or ()])
            excluded = status.isin([str(s).lower() for s in ml_settings.EXCLUDED_ORDER_STATUSES or ()])
            raw = raw[refund] if refunds else raw[~excluded & ~refund]  # a return is never a sale
        elif refunds:
            raw = raw.iloc[:0]
        frame = normalize_order_lines(raw)
        if (s := to_utc_timestamp(start)) is not None:
            frame = frame[frame["ordered_at"] >= s]
        if (e := to_utc_timestamp(end)) is not None:
            frame = frame[frame["ordered_at"] < e]
        return frame.reset_index(drop=True)

    def order_lines(self, start: DateLike = None, end: DateLike = None) -> pd.DataFrame:
        return self._lines(start, end, refunds=False)

    def refund_lines(self, start: DateLike = None, end: DateLike = None) -> pd.DataFrame:
        """The lines of orders whose optional `status` column is in REFUND_ORDER_STATUSES."""
        return self._lines(start, end, refunds=True)

    def anonymous_customer_ids(self) -> set[str]:
        """Customer ids of the exported lines that are in ANONYMOUS_CUSTOMER_KEYS (ids are the shop's keys)."""
        keys = {str(k) for k in ml_settings.ANONYMOUS_CUSTOMER_KEYS or ()}
        return keys & set(self._read("order_lines", ["customer_id"])["customer_id"].dropna().astype(str)) if keys \
            else set()

    def products(self) -> pd.DataFrame:
        return normalize_products(self._read("products", ["id", "name"]))

    def customers(self) -> pd.DataFrame:
        return normalize_customers(self._read("customers", CUSTOMER_COLUMNS))

    def fingerprint(self, *, order_windows: Sequence[tuple[DateLike, DateLike]] = (), products: bool = False) -> str:
        """The files' size and modification time: any rewrite of an export changes it, at no read cost."""
        names = (["order_lines"] if order_windows else []) + (["products"] if products else [])
        stamps = []
        for name in names:
            path = self.directory / f"{name}.csv"
            st = path.stat() if path.exists() else None
            stamps.append(f"{name}:{st.st_size}:{st.st_mtime_ns}" if st else f"{name}:missing")
        return hashlib.sha256("|".join(stamps).encode()).hexdigest()[:32]
