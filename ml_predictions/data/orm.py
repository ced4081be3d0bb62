"""Data source over the host's Django models, configured from settings alone.

The mapping in ML_PREDICTIONS["FIELDS"] turns canonical columns into ORM lookup paths on the
configured models, so a shop whose models are named differently plugs in without code. Each table is
read with a single `values_list` query (joins done by the database), never a query per row.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from django.apps import apps
from django.core.exceptions import FieldDoesNotExist, FieldError, ValidationError
from django.db import DatabaseError, connections, models, transaction
from django.db.models import BigIntegerField, Count, F, FloatField, Func, IntegerField, Max, Sum, TextField
from django.db.models.functions import Cast

from ml_predictions.conf import ml_settings
from ml_predictions.data.base import (
    CUSTOMER_COLUMNS,
    ORDER_LINE_COLUMNS,
    PRODUCT_COLUMNS,
    DataSource,
    DateLike,
    canonical_id,
    empty_order_lines,
    frame_digest,
    normalize_customers,
    normalize_order_lines,
    normalize_products,
    to_utc_timestamp,
)
from ml_predictions.errors import DataSourceError

_TEXT_COLUMNS = {"order_id", "customer_id", "product_id", "id", "ordered_at", "created_at", "name", "description",
                 "category", "image_url", "supplier"}
_FLOAT_COLUMNS = {"unit_price", "price", "cost", "lead_time_days", "min_order_quantity", "case_pack",
                  "lead_time_std_days"}
_INT_COLUMNS = {"quantity", "stock"}


def canonical_ids(values: pd.Series | np.ndarray, *, hex_uuids: bool = False) -> pd.Series:
    """Ids as strings; a 32-hex UUID (how SQLite stores UUIDField) gets its dashes back, so the same
    shop gives the same ids on SQLite and PostgreSQL. Works on the distinct values only, and the rows
    share one string object per id (a third of the frame's memory at 1M lines).

    `hex_uuids`: the column is a UUIDField stored as 32 hex digits, so the dashes are put back by
    slicing, without the general spelling rules (a regular expression per distinct id)."""
    index = values.index if isinstance(values, pd.Series) else None
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
    uniques = np.asarray(uniques, dtype=object)  # iterating a pandas string array costs 1 us per value
    if hex_uuids:
        converted = np.array([
            f"{v[:8]}-{v[8:12]}-{v[12:16]}-{v[16:20]}-{v[20:]}".lower() if isinstance(v, str) and len(v) == 32
            else canonical_id(v) for v in uniques], dtype=object)
    else:
        converted = np.array([canonical_id(v) for v in uniques], dtype=object)
    out = np.empty(len(codes), dtype=object)
    valid = codes >= 0
    out[valid] = converted[codes[valid]]
    out[~valid] = None
    return pd.Series(out, index=index, dtype=object)


_TIME_COLUMNS = {"ordered_at", "created_at"}
# PostgreSQL's work_mem while a table is read (SET LOCAL: until the read's transaction ends, or the
# caller's when the read runs inside one). Why: the order lines are a hash join of the item and order
# tables; at the 4MB default the hash of 450k orders spills to 8 batches on disk (85 MB of temporary
# files written and read back), 1.2 s of a 5.7 s read at load 12.
READ_WORK_MEM = "64MB"


class _EpochMicroseconds(Func):
    """A timestamptz as microseconds since 1970 (PostgreSQL). Why: its text form ends in "+00", which
    numpy refuses, and stripping it cost 1.3 s per million rows in Python; integers convert at once."""

    template = "(EXTRACT(EPOCH FROM %(expressions)s) * 1000000)::bigint"
    output_field = BigIntegerField()


def epoch_utc(micros: np.ndarray) -> pd.Series:
    """Epoch microseconds (float64 holds them exactly below 2**53, i.e. until the year 2255) as UTC
    timestamps of the same microsecond resolution `parse_utc` gives."""
    out = np.full(len(micros), np.datetime64("NaT"), dtype="datetime64[us]")
    known = ~np.isnan(micros)
    out[known] = micros[known].astype(np.int64).astype("datetime64[us]")
    return pd.Series(out).dt.tz_localize("UTC")


def parse_utc(values: np.ndarray) -> pd.Series:
    """Timestamps read as text, as UTC. SQLite's "YYYY-MM-DD HH:MM:SS[.ffffff]" (no offset) is parsed by
    numpy, four times faster than pandas' ISO 8601 parser; text with an offset (PostgreSQL's
    timestamptz) or anything numpy refuses goes to pandas."""
    parsed = _numpy_datetimes(values)
    if parsed is None:
        # PostgreSQL in a UTC session (Django's, with USE_TZ) spells every value "...+00"; any other
        # offset left after this still makes numpy refuse, and pandas parses the original text
        parsed = _numpy_datetimes(np.array(
            [v[:-3] if isinstance(v, str) and v.endswith("+00") else v for v in values], dtype=object))
    if parsed is not None:
        return pd.Series(parsed).dt.tz_localize("UTC")
    return pd.to_datetime(pd.Series(values, dtype=object), utc=True, format="ISO8601")


def _numpy_datetimes(values: np.ndarray) -> np.ndarray | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # numpy only warns when it meets an offset
            return np.array(values, dtype="datetime64[us]")
    except (ValueError, TypeError, Warning):
        return None


def _values_of_field_type(model: type[models.Model], path: str, values: list[str]) -> list[str]:
    """The values the field at `path` can hold. Why: ANONYMOUS_CUSTOMER_KEYS defaults to ["guest"], and
    a shop that maps no customer key matches them against its id; an integer or UUID id cannot be
    "guest", and filtering with it would raise instead of matching nothing."""
    field: models.Field | None = None
    current = model
    for part in path.split("__"):
        field = current._meta.get_field(part)
        if field.is_relation and field.related_model is not None:
            current = field.related_model
    if field is not None and field.is_relation and getattr(field, "target_field", None) is not None:
        field = field.target_field
    kept = []
    for value in values:  # a handful of configured keys
        try:
            field.get_prep_value(field.to_python(value))
        except (ValidationError, ValueError, TypeError):
            continue
        kept.append(value)
    return kept


def _uuid_field(model: type[models.Model], path: str) -> bool:
    """Whether the lookup path (e.g. "order__customer_id") ends at a UUIDField, following foreign keys."""
    field = None
    try:
        for part in path.split("__"):
            field = model._meta.get_field(part)
            if field.is_relation and field.related_model is not None:
                model = field.related_model
        while field is not None and field.is_relation and getattr(field, "target_field", None) is not None:
            field = field.target_field
    except Exception:  # noqa: BLE001 - an unusual path only loses the fast path; the query names errors
        return False
    return isinstance(field, models.UUIDField)


class DjangoORMDataSource(DataSource):
    def __init__(
        self,
        order_item_model: str | None = None,
        product_model: str | None = None,
        customer_model: str | None = None,
        fields: dict[str, dict[str, str | None]] | None = None,
        excluded_statuses: list[str] | None = None,
        refund_statuses: list[str] | None = None,
    ) -> None:
        self.order_item_model = order_item_model or ml_settings.ORDER_ITEM_MODEL
        self.product_model = product_model or ml_settings.PRODUCT_MODEL
        self.customer_model = customer_model or ml_settings.CUSTOMER_MODEL
        self.fields = fields or ml_settings.FIELDS
        self.refund_statuses = ml_settings.REFUND_ORDER_STATUSES if refund_statuses is None else refund_statuses
        excluded = ml_settings.EXCLUDED_ORDER_STATUSES if excluded_statuses is None else excluded_statuses
        # a return document is never a sale, whether or not the host also listed its status as excluded
        self.excluded_statuses = list(dict.fromkeys([*(excluded or ()), *(self.refund_statuses or ())]))

    def _model(self, label: str | None, setting: str) -> type[models.Model]:
        if not label:
            raise DataSourceError(f"ML_PREDICTIONS['{setting}'] is not set; name the host model, e.g. 'shop.OrderItem'.")
        try:
            return apps.get_model(label)
        except (LookupError, ValueError) as exc:
            raise DataSourceError(f"ML_PREDICTIONS['{setting}'] = {label!r} is not an installed model.") from exc

    def _rows(self, queryset: models.QuerySet, table: str, columns: list[str]) -> pd.DataFrame:
        """One SELECT with casts done by the database, fetched without Django's per-value converters
        (UUID, Decimal and datetime converters cost ~10 s per million rows)."""
        mapping = self.fields.get(table, {})
        present = [c for c in columns if mapping.get(c)]
        vendor = connections[queryset.db].vendor
        epoch = vendor == "postgresql"
        casts = {}
        for c in present:
            if c in _TIME_COLUMNS and epoch:
                casts[f"_ml_{c}"] = _EpochMicroseconds(mapping[c])
            elif c in _FLOAT_COLUMNS:
                casts[f"_ml_{c}"] = Cast(mapping[c], FloatField())
            elif c in _INT_COLUMNS:
                casts[f"_ml_{c}"] = Cast(mapping[c], IntegerField())
            elif c in _TEXT_COLUMNS:
                casts[f"_ml_{c}"] = Cast(mapping[c], TextField())
            else:  # booleans and anything else keep the database's own type
                casts[f"_ml_{c}"] = F(mapping[c])
        try:
            sql, params = queryset.annotate(**casts).values_list(*casts).query.sql_with_params()
            scope = transaction.atomic(using=queryset.db) if epoch else contextlib.nullcontext()
            with scope, connections[queryset.db].cursor() as cursor:
                if epoch:  # PostgreSQL: for this read's transaction only (see READ_WORK_MEM)
                    cursor.execute(f"SET LOCAL work_mem = '{READ_WORK_MEM}'")
                cursor.execute(sql, params)
                rows = cursor.fetchall()
        except (FieldError, DatabaseError) as exc:  # tell the host which mapping is wrong
            raise DataSourceError(
                f"ML_PREDICTIONS['FIELDS']['{table}'] does not match {queryset.model.__name__}: {exc}"
            ) from exc
        # columns straight from the row tuples (DataFrame.from_records infers every column's type first,
        # and zip(*rows) unpacks a million arguments)
        data: dict[str, object] = {}
        for j, c in enumerate(present):
            values = [row[j] for row in rows]
            if c in {"order_id", "customer_id", "product_id", "id"}:
                uuid = _uuid_field(queryset.model, mapping[c])
                if uuid and vendor == "postgresql":  # uuid::text is already the canonical spelling
                    data[c] = pd.Series(np.array(values, dtype=object), dtype=object)
                else:
                    data[c] = canonical_ids(np.array(values, dtype=object), hex_uuids=uuid)
            elif c in _TIME_COLUMNS and epoch:
                data[c] = epoch_utc(np.array(values, dtype=np.float64))  # None -> NaN -> NaT
            elif c in _TIME_COLUMNS:
                data[c] = parse_utc(np.array(values, dtype=object))
            elif c in _FLOAT_COLUMNS or c in _INT_COLUMNS:
                data[c] = pd.Series(np.array(values, dtype=np.float64))  # None -> NaN
            else:
                data[c] = pd.Series(np.array(values, dtype=object), dtype=object)
        return pd.DataFrame(data)

    def _order_line_queryset(self, start: DateLike = None, end: DateLike = None,
                             only_statuses: list[str] | None = None) -> models.QuerySet:
        """The order lines `order_lines(start, end)` reads (window and excluded statuses), unevaluated;
        with `only_statuses`, the lines of orders in those statuses instead (refund_lines)."""
        model = self._model(self.order_item_model, "ORDER_ITEM_MODEL")
        mapping = self.fields["order_line"]
        qs = model._default_manager.all()
        ts_field = mapping["ordered_at"]
        try:
            if (s := to_utc_timestamp(start)) is not None:
                qs = qs.filter(**{f"{ts_field}__gte": s.to_pydatetime()})
            if (e := to_utc_timestamp(end)) is not None:
                qs = qs.filter(**{f"{ts_field}__lt": e.to_pydatetime()})
            if only_statuses is not None:
                qs = qs.filter(**{f"{mapping['status']}__in": only_statuses})
            elif self.excluded_statuses and mapping.get("status"):
                qs = qs.exclude(**{f"{mapping['status']}__in": self.excluded_statuses})
        except FieldError as exc:
            raise DataSourceError(f"ML_PREDICTIONS['FIELDS']['order_line'] does not match {model.__name__}: {exc}") from exc
        return qs.order_by()

    def order_lines(self, start: DateLike = None, end: DateLike = None) -> pd.DataFrame:
        mapping = self.fields["order_line"]
        qs = self._order_line_queryset(start, end)
        missing = [c for c in ORDER_LINE_COLUMNS if not mapping.get(c)]
        if missing:
            raise DataSourceError(f"ML_PREDICTIONS['FIELDS']['order_line'] lacks {missing}.")
        frame = self._rows(qs, "order_line", ORDER_LINE_COLUMNS)
        if frame.empty:
            return empty_order_lines()
        return normalize_order_lines(frame)

    def refund_lines(self, start: DateLike = None, end: DateLike = None) -> pd.DataFrame:
        """One query like `order_lines`, for the orders in REFUND_ORDER_STATUSES (none without a mapped
        status column: such a shop cannot say which orders are returns)."""
        mapping = self.fields["order_line"]
        if not self.refund_statuses or not mapping.get("status"):
            return empty_order_lines()
        frame = self._rows(self._order_line_queryset(start, end, list(self.refund_statuses)), "order_line",
                           ORDER_LINE_COLUMNS)
        return empty_order_lines() if frame.empty else normalize_order_lines(frame)

    def anonymous_customer_ids(self) -> set[str]:
        """The customers whose key (FIELDS["customer"]["key"], else the id) is in ANONYMOUS_CUSTOMER_KEYS,
        in one query."""
        keys = [str(k) for k in ml_settings.ANONYMOUS_CUSTOMER_KEYS or ()]
        if not keys:
            return set()
        model = self._model(self.customer_model, "CUSTOMER_MODEL")
        path = self.fields.get("customer", {}).get("key") or self.fields["customer"]["id"]
        try:
            keys = _values_of_field_type(model, path, keys)
            if not keys:
                return set()
            qs = model._default_manager.filter(**{f"{path}__in": keys}).order_by()
        except (FieldError, FieldDoesNotExist) as exc:
            raise DataSourceError(f"ML_PREDICTIONS['FIELDS']['customer']['key'] does not match {model.__name__}: "
                                  f"{exc}") from exc
        frame = self._rows(qs, "customer", ["id"])
        return set(frame["id"].dropna()) if len(frame) else set()

    def last_ordered_at(self) -> pd.Timestamp | None:
        """The latest `ordered_at` of a counted line, in one aggregate query (inventory dates an imported
        history that ended before today by it)."""
        last = self._order_line_queryset().aggregate(last=Max(self.fields["order_line"]["ordered_at"]))["last"]
        return to_utc_timestamp(last)

    def fingerprint(self, *, order_windows: Sequence[tuple[DateLike, DateLike]] = (), products: bool = False) -> str:
        """Order lines: per window one aggregate query with the same filters as `order_lines` (window,
        excluded statuses): line count, total quantity and latest `ordered_at`, so a new, cancelled,
        refunded, deleted or re-quantified line in a window moves at least one of them. Products are
        small, so their mapped columns are read and hashed: any stock, cost, price, lead-time, activity,
        category or name change shows, including two stock moves that cancel out in a sum. Edits that keep
        the three aggregates of a window equal (moving a line to another product, or two quantity edits
        that cancel out) are not seen; the cache TTL bounds how long such a change can go unnoticed."""
        parts: dict[str, object] = {}
        if order_windows:
            parts["lines"] = self._order_window_aggregates(order_windows)
        if products:
            parts["products"] = frame_digest(self.products(), sort_by="id")
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]

    def _order_window_aggregates(self, windows: Sequence[tuple[DateLike, DateLike]]) -> list[list[object]]:
        """One aggregate query per window: on PostgreSQL (10k products, 1.1M lines) one query with a filtered
        aggregate per window cost the same, and this keeps the filters identical to `order_lines`'."""
        mapping = self.fields["order_line"]
        out = []
        for start, end in windows:
            try:
                agg = self._order_line_queryset(start, end).aggregate(
                    n=Count("pk"), q=Sum(mapping["quantity"]), last=Max(mapping["ordered_at"]))
            except (FieldError, DatabaseError) as exc:
                raise DataSourceError(f"ML_PREDICTIONS['FIELDS']['order_line'] does not match: {exc}") from exc
            out.append([agg["n"], agg["q"], str(agg["last"])])
        return out

    def products(self) -> pd.DataFrame:
        model = self._model(self.product_model, "PRODUCT_MODEL")
        return normalize_products(self._rows(model._default_manager.all().order_by(), "product", PRODUCT_COLUMNS))

    def customers(self) -> pd.DataFrame:
        model = self._model(self.customer_model, "CUSTOMER_MODEL")
        return normalize_customers(self._rows(model._default_manager.all().order_by(), "customer", CUSTOMER_COLUMNS))
