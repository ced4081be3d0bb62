"""The data-source contract: the host's orders, products and customers as pandas DataFrames.

This is the plugin's single override point (allauth's adapter habit): every capability reads through a
DataSource, so a shop with differently named models, or no Django models at all (CSV files, a
warehouse), plugs in by configuration or by one small subclass. Ids are always strings, money is
float64, timestamps are timezone-aware UTC — whatever the host stores.
"""
from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import date, datetime

import pandas as pd

ORDER_LINE_COLUMNS = ["order_id", "customer_id", "product_id", "ordered_at", "quantity", "unit_price"]
PRODUCT_COLUMNS = [
    "id", "name", "description", "category", "price", "cost", "stock", "lead_time_days", "image_url", "active",
    # optional supplier terms (NaN / "" when the shop has none: not applied)
    "min_order_quantity", "case_pack", "lead_time_std_days", "supplier",
]
CUSTOMER_COLUMNS = ["id", "created_at"]

DateLike = date | datetime | str | None


_HEX32 = re.compile(r"[0-9a-fA-F]{32}")
_DASHED = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def canonical_id(value: object) -> str | None:
    """The one spelling of an id everywhere in the plugin: a UUID in lower-case dashed form (SQLite
    stores 32 hex digits, PostgreSQL and URLs use dashes), anything else as its string."""
    if value is None:
        return None
    text = str(value).strip()
    if len(text) == 32 and _HEX32.fullmatch(text):
        v = text.lower()
        return f"{v[:8]}-{v[8:12]}-{v[12:16]}-{v[16:20]}-{v[20:]}"
    if len(text) == 36 and _DASHED.fullmatch(text):
        return text.lower()
    return text


def to_utc_timestamp(value: DateLike) -> pd.Timestamp | None:
    """Dates (not datetimes) mean midnight UTC; naive datetimes are taken as UTC."""
    if value is None or value == "":
        return None
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def empty_order_lines() -> pd.DataFrame:
    return normalize_order_lines(pd.DataFrame({c: [] for c in ORDER_LINE_COLUMNS}))


def normalize_order_lines(df: pd.DataFrame) -> pd.DataFrame:
    """Coerce to the canonical dtypes so every source returns the same frame shape."""
    def ids(col: str) -> pd.Series:
        series = df[col]
        if series.dtype == object:
            return series
        return series.astype("string").astype(object) if len(df) else pd.Series([], dtype=object)

    out = pd.DataFrame(
        {
            "order_id": ids("order_id"),
            "customer_id": ids("customer_id"),
            "product_id": ids("product_id"),
            "ordered_at": pd.to_datetime(df["ordered_at"], utc=True),
            "quantity": pd.to_numeric(df["quantity"]).astype("int64") if len(df) else pd.Series([], dtype="int64"),
            "unit_price": pd.to_numeric(df["unit_price"]).astype("float64"),
        }
    )
    return out.reset_index(drop=True)


def normalize_products(df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=range(len(df)))
    out["id"] = df["id"].astype("string").astype(object).to_numpy() if len(df) else []
    for col in ("name", "description", "category", "image_url"):
        out[col] = df[col].astype(object).where(df[col].notna(), "").astype(str).to_numpy() if col in df and len(df) else ""
    for col in ("price", "cost"):
        out[col] = pd.to_numeric(df[col], errors="coerce").astype("float64").to_numpy() if col in df else float("nan")
    # float with NaN = stock unknown (no stock column, a host that maps stock to None, an imported history
    # without stock levels): unknown is not 0, and no capability may read it as "out of stock"
    out["stock"] = pd.to_numeric(df["stock"], errors="coerce").astype("float64").to_numpy() if "stock" in df \
        else float("nan")
    out["lead_time_days"] = (
        pd.to_numeric(df["lead_time_days"], errors="coerce").astype("float64").to_numpy()
        if "lead_time_days" in df else float("nan")
    )
    out["active"] = df["active"].fillna(True).astype(bool).to_numpy() if "active" in df and len(df) else True
    for col in ("min_order_quantity", "case_pack", "lead_time_std_days"):
        out[col] = pd.to_numeric(df[col], errors="coerce").astype("float64").to_numpy() if col in df else float("nan")
    out["supplier"] = (df["supplier"].astype(object).where(df["supplier"].notna(), "").astype(str).to_numpy()
                       if "supplier" in df and len(df) else "")
    return out[PRODUCT_COLUMNS]


def normalize_customers(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": df["id"].astype("string").astype(object).to_numpy() if len(df) else [],
            "created_at": pd.to_datetime(df["created_at"], utc=True).to_numpy() if len(df) else [],
        }
    ).astype({"created_at": "datetime64[ns, UTC]"})


class DataSource(ABC):
    """Reads the shop's history. Implementations must be set-based: one query or file read per table."""

    @abstractmethod
    def order_lines(self, start: DateLike = None, end: DateLike = None) -> pd.DataFrame:
        """Order lines with `start <= ordered_at < end`, excluding cancelled/refunded orders."""

    @abstractmethod
    def products(self) -> pd.DataFrame:
        """All products, active or not (capabilities decide what to do with inactive ones)."""

    @abstractmethod
    def customers(self) -> pd.DataFrame:
        """All customers, including those who never ordered."""

    def refund_lines(self, start: DateLike = None, end: DateLike = None) -> pd.DataFrame:
        """Lines of the orders that are returns (ML_PREDICTIONS["REFUND_ORDER_STATUSES"]), quantities as
        stored, in the order-line columns. Segmentation nets them off earlier purchases; the default (no
        returns known) keeps a host source without statuses working."""
        return empty_order_lines()

    def anonymous_customer_ids(self) -> set[str]:
        """Ids of customers that stand for many people (a shared guest account): segmentation leaves them
        out instead of ranking one giant "customer". Default: none."""
        return set()

    def fingerprint(self, *, order_windows: Sequence[tuple[DateLike, DateLike]] = (), products: bool = False) -> str | None:
        """A short string that changes whenever the given reads would return different data; None = unknown.

        Lets a capability cache a result computed from `order_lines(start, end)` for each window and
        `products()` and still never serve it once the shop changed. It must be much cheaper than the
        reads themselves (aggregates, file stamps). The default, None, means "cannot tell cheaply": callers
        then do not cache, which is always correct.
        """
        return None


def frame_digest(frame: pd.DataFrame, sort_by: str | None = None) -> str:
    """A content hash of a (small) frame, independent of row order when `sort_by` names a key column."""
    if sort_by is not None and len(frame):
        frame = frame.sort_values(sort_by, kind="stable")
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes() + ",".join(map(str, frame.columns)).encode()).hexdigest()[:32]
