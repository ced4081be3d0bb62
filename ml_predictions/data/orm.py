"""Data source over the host's Django models, configured from settings alone.

The mapping in ML_PREDICTIONS["FIELDS"] turns canonical columns into ORM lookup paths on the
configured models, so a shop whose models are named differently plugs in without code. Each table is
read with a single `values_list` query (joins done by the database), never a query per row; on SQLite
the whole history is two scans, the lines and their orders, matched in pandas (`_split_plan`).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Sequence

import numpy as np
import pandas as pd
from django.apps import apps
from django.core.exceptions import FieldDoesNotExist, FieldError, ValidationError
from django.db import DatabaseError, connections, models, transaction
from django.db.models import Count, Max, Sum

from ml_predictions.conf import ml_settings
from ml_predictions.data.base import (
    CUSTOMER_COLUMNS,
    ORDER_LINE_COLUMNS,
    PRODUCT_COLUMNS,
    DataSource,
    DateLike,
    empty_order_lines,
    frame_digest,
    normalize_customers,
    normalize_order_lines,
    normalize_products,
    to_utc_timestamp,
)
from ml_predictions.data.orm_values import (  # noqa: F401  (canonical_ids, parse_utc: re-exported)
    canonical_ids,
    column_arrays,
    convert_column,
    end_field,
    parse_utc,
    select_expression,
    uuid_field,
)
from ml_predictions.errors import DataSourceError

# Where the whole history is read as two scans (`_split_plan`). SQLite joins with one index lookup per line:
# apart, 1M lines read with 10-30 % less CPU. PostgreSQL hash-joins: apart cost 5-15 % more client CPU for the
# same wall time (2026-12-07, 970,987 lines, both measured in one process), so it keeps the join.
SPLIT_VENDORS = frozenset({"sqlite"})
# PostgreSQL's work_mem while a table is read (SET LOCAL: until the read's transaction ends, or the
# caller's when the read runs inside one). Why: the order lines are a hash join of the item and order
# tables; at the 4MB default the hash of 450k orders spills to 8 batches on disk (85 MB of temporary
# files written and read back), 1.2 s of a 5.7 s read at load 12.
READ_WORK_MEM = "64MB"


def _values_of_field_type(model: type[models.Model], path: str, values: list[str]) -> list[str]:
    """The values the field at `path` can hold. Why: ANONYMOUS_CUSTOMER_KEYS defaults to ["guest"], and
    a shop that maps no customer key matches them against its id; an integer or UUID id cannot be
    "guest", and filtering with it would raise instead of matching nothing."""
    field = end_field(model, path)
    kept = []
    for value in values:  # a handful of configured keys
        try:
            field.get_prep_value(field.to_python(value))
        except (ValidationError, ValueError, TypeError):
            continue
        kept.append(value)
    return kept


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
        paths = {c: mapping[c] for c in columns if mapping.get(c)}
        vendor = connections[queryset.db].vendor
        rows = self._fetch(queryset, table, paths)
        arrays = column_arrays(rows, len(paths))
        return pd.DataFrame({
            c: convert_column(c, arrays[j], uuid=uuid_field(queryset.model, path), vendor=vendor)
            for j, (c, path) in enumerate(paths.items())
        })

    def _fetch(self, queryset: models.QuerySet, table: str, paths: dict[str, str]) -> list[tuple]:
        """The rows of `queryset`, one value per entry of `paths` (canonical column -> lookup path), cast
        by the database (`select_expression`)."""
        vendor = connections[queryset.db].vendor
        casts = {f"_ml_{c}": select_expression(c, path, vendor) for c, path in paths.items()}
        postgres = vendor == "postgresql"
        try:
            sql, params = queryset.annotate(**casts).values_list(*casts).query.sql_with_params()
            scope = transaction.atomic(using=queryset.db) if postgres else contextlib.nullcontext()
            with scope, connections[queryset.db].cursor() as cursor:
                if postgres:  # for this read's transaction only (see READ_WORK_MEM)
                    cursor.execute(f"SET LOCAL work_mem = '{READ_WORK_MEM}'")
                cursor.execute(sql, params)
                return cursor.fetchall()
        except (FieldError, DatabaseError) as exc:  # tell the host which mapping is wrong
            raise DataSourceError(
                f"ML_PREDICTIONS['FIELDS']['{table}'] does not match {queryset.model.__name__}: {exc}"
            ) from exc

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
        whole = start is None and end is None
        split = self._split_plan(qs.model, mapping) if whole and connections[qs.db].vendor in SPLIT_VENDORS else None
        frame = self._rows(qs, "order_line", ORDER_LINE_COLUMNS) if split is None else self._split_rows(qs, *split)
        if frame.empty:
            return empty_order_lines()
        return normalize_order_lines(frame)

    def _split_plan(self, model: type[models.Model], mapping: dict[str, str | None]) -> tuple | None:
        """Whether the whole history can be read as two table scans, and how: every mapped column either
        on the line's own table or behind one many-to-one hop (the order), joined on a non-null foreign
        key to a unique key. Why: SQLite joins with one index lookup per line; reading the lines and
        the orders apart and matching them in pandas costs less (the fetch alone a quarter less), and the order's columns are
        then converted once per order instead of once per line (1M lines, 380k orders)."""
        used = {c: mapping[c] for c in [*ORDER_LINE_COLUMNS, "status"] if mapping.get(c)}
        hops = {path.split("__", 1)[0] for path in used.values() if "__" in path}
        if len(hops) != 1:
            return None
        try:
            fk = model._meta.get_field(hops.pop())
        except FieldDoesNotExist:
            return None
        target = getattr(fk, "target_field", None)
        if not fk.many_to_one or fk.null or target is None or not (target.primary_key or target.unique) or target.null:
            return None
        prefix = f"{fk.name}__"
        status = used.pop("status", None)
        remote = {c: p.removeprefix(prefix) for c, p in used.items() if p.startswith(prefix)}
        remote.update({c: target.attname for c, p in used.items() if p in {fk.attname, fk.name}})
        local = {c: p for c, p in used.items() if c not in remote}
        return fk, local, remote, status

    def _split_rows(self, qs: models.QuerySet, fk: models.ForeignKey, local: dict[str, str],
                    remote: dict[str, str], status: str | None) -> pd.DataFrame:
        """`_rows` for the whole history as two scans (`_split_plan`): the lines' own columns with their
        foreign key, and the orders' columns with their key; a line whose order is filtered out (an
        excluded status) matches nothing and is dropped, as the join drops it."""
        vendor = connections[qs.db].vendor
        lines_qs = qs.model._default_manager.db_manager(qs.db).all().order_by()
        # the join reads the orders without their model's default manager, so this does too
        orders_qs = fk.related_model._base_manager.db_manager(qs.db).all().order_by()
        if self.excluded_statuses and status:
            try:
                if status.startswith(f"{fk.name}__"):
                    orders_qs = orders_qs.exclude(**{f"{status.removeprefix(f'{fk.name}__')}__in": self.excluded_statuses})
                else:
                    lines_qs = lines_qs.exclude(**{f"{status}__in": self.excluded_statuses})
            except FieldError as exc:
                raise DataSourceError(f"ML_PREDICTIONS['FIELDS']['order_line'] does not match {qs.model.__name__}: "
                                      f"{exc}") from exc
        lines = self._fetch(lines_qs, "order_line", {**local, "id": fk.attname})
        heads = self._fetch(orders_qs, "order_line", {**remote, "id": fk.target_field.attname})
        line_columns = column_arrays(lines, len(local) + 1)
        head_columns = column_arrays(heads, len(remote) + 1)
        del lines, heads
        # one factorize of both key columns (orders first, their keys unique): an order's code is its row,
        # and a line's code at or past the number of orders names no order read (4x cheaper than
        # Index.get_indexer)
        n_orders = len(head_columns[-1])
        codes, _uniques = pd.factorize(np.concatenate([head_columns[-1], line_columns[-1]]))
        at = codes[n_orders:]
        keep = np.flatnonzero(at < n_orders)
        every = len(keep) == len(at)
        key = fk.target_field.attname
        columns: dict[str, pd.Series] = {}
        for j, (c, path) in enumerate(local.items()):
            values = line_columns[j] if every else line_columns[j][keep]
            columns[c] = convert_column(c, values, uuid=uuid_field(qs.model, path), vendor=vendor)
        for j, (c, path) in enumerate(remote.items()):
            converted = convert_column(c, head_columns[j], uuid=uuid_field(fk.related_model, path), vendor=vendor,
                                       unique=path == key)
            columns[c] = converted.iloc[at if every else at[keep]].reset_index(drop=True)
        return pd.DataFrame({c: columns[c] for c in ORDER_LINE_COLUMNS if c in columns})

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
