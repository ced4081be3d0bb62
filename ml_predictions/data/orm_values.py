"""Turning the columns of a raw SELECT into the canonical frame's dtypes, column by column.

Apart from `orm.py` because the ORM source reads a table in one or two SELECTs (see
`DjangoORMDataSource.order_lines`), and both paths convert the same way: the database casts, these
functions finish the job on whole arrays, never per row through Django's converters.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from django.db import models
from django.db.models import BigIntegerField, F, FloatField, Func, IntegerField, TextField
from django.db.models.functions import Cast

from ml_predictions.data.base import canonical_id

ID_COLUMNS = {"order_id", "customer_id", "product_id", "id"}
TIME_COLUMNS = {"ordered_at", "created_at"}
TEXT_COLUMNS = {*ID_COLUMNS, *TIME_COLUMNS, "name", "description", "category", "image_url", "supplier"}
FLOAT_COLUMNS = {"unit_price", "price", "cost", "lead_time_days", "min_order_quantity", "case_pack",
                 "lead_time_std_days"}
INT_COLUMNS = {"quantity", "stock"}


class EpochMicroseconds(Func):
    """A timestamptz as microseconds since 1970 (PostgreSQL). Why: its text form ends in "+00", which
    numpy refuses, and stripping it cost 1.3 s per million rows in Python; integers convert at once."""

    template = "(EXTRACT(EPOCH FROM %(expressions)s) * 1000000)::bigint"
    output_field = BigIntegerField()


def select_expression(column: str, path: str, vendor: str) -> Func | F:
    """The database-side cast that lets `convert_column` skip Django's per-value converters."""
    if column in TIME_COLUMNS and vendor == "postgresql":
        return EpochMicroseconds(path)
    if column in FLOAT_COLUMNS:
        return Cast(path, FloatField())
    if column in INT_COLUMNS:
        return Cast(path, IntegerField())
    if column in TEXT_COLUMNS:
        return Cast(path, TextField())
    return F(path)  # booleans and anything else keep the database's own type


def column_arrays(rows: list[tuple], width: int) -> list[np.ndarray]:
    """The fetched rows as one object array per column (one C call: a list per column cost 3x more)."""
    if not rows:
        return [np.empty(0, dtype=object) for _ in range(width)]
    table = np.array(rows, dtype=object)
    return [table[:, j] for j in range(width)]


def convert_column(column: str, values: np.ndarray, *, uuid: bool, vendor: str, unique: bool = False) -> pd.Series:
    """One fetched column (the values `select_expression` produced) as the canonical dtype.

    `uuid`: the column's path ends at a UUIDField (`uuid_field`); `unique`: the values are a table's
    key, so there is nothing to share between rows."""
    if column in ID_COLUMNS:
        if uuid and vendor == "postgresql":  # uuid::text is already the canonical spelling
            return pd.Series(np.array(values, dtype=object), dtype=object)
        return canonical_ids(np.array(values, dtype=object), hex_uuids=uuid, unique=unique)
    if column in TIME_COLUMNS and vendor == "postgresql":
        return epoch_utc(np.array(values, dtype=np.float64))  # None -> NaN -> NaT
    if column in TIME_COLUMNS:
        return parse_utc(np.array(values, dtype=object))
    if column in FLOAT_COLUMNS or column in INT_COLUMNS:
        return pd.Series(np.array(values, dtype=np.float64))  # None -> NaN
    return pd.Series(np.array(values, dtype=object), dtype=object)


def end_field(model: type[models.Model], path: str) -> models.Field:
    """The field a lookup path (e.g. "order__customer_id") ends at, following foreign keys to the field
    they point to; FieldDoesNotExist names a wrong part."""
    field = None
    for part in path.split("__"):
        field = model._meta.get_field(part)
        if field.is_relation and field.related_model is not None:
            model = field.related_model
    while field is not None and field.is_relation and getattr(field, "target_field", None) is not None:
        field = field.target_field
    return field


def uuid_field(model: type[models.Model], path: str) -> bool:
    """Whether the lookup path ends at a UUIDField (`end_field`)."""
    try:
        return isinstance(end_field(model, path), models.UUIDField)
    except Exception:  # noqa: BLE001 - an unusual path only loses the fast path; the query names errors
        return False


def canonical_ids(values: pd.Series | np.ndarray, *, hex_uuids: bool = False, unique: bool = False) -> pd.Series:
    """Ids as strings; a 32-hex UUID (how SQLite stores UUIDField) gets its dashes back, so the same
    shop gives the same ids on SQLite and PostgreSQL. Works on the distinct values only, and the rows
    share one string object per id (a third of the frame's memory at 1M lines).

    `hex_uuids`: the column is a UUIDField stored as 32 hex digits, so the dashes are put back on the
    whole array at once, without the general spelling rules (a regular expression per distinct id).
    `unique`: no value repeats (a key column), so no factorizing."""
    index = values.index if isinstance(values, pd.Series) else None
    values = np.asarray(values, dtype=object)
    if unique and not pd.isna(values).any():
        codes, uniques = np.arange(len(values)), values
    else:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    uniques = np.asarray(uniques, dtype=object)  # iterating a pandas string array costs 1 us per value
    converted = _dashed_hex(uniques) if hex_uuids else None
    if converted is None:
        converted = np.array([canonical_id(v) for v in uniques], dtype=object)
    out = np.empty(len(codes), dtype=object)
    valid = codes >= 0
    out[valid] = converted[codes[valid]]
    out[~valid] = None
    return pd.Series(out, index=index, dtype=object)


def _dashed_hex(uniques: np.ndarray) -> np.ndarray | None:
    """32-hex strings in the dashed lower-case UUID spelling, by moving character codes in one array (a
    Python f-string per id cost 0.9 s per 400k ids); None when any value is not 32 characters, for the
    general rules to handle."""
    if not len(uniques):
        return None
    try:
        fixed = uniques.astype(str)  # a non-string id (never from a UUIDField) fails the length test below
    except (TypeError, ValueError):
        return None
    if fixed.dtype.itemsize != 32 * 4 or not (np.strings.str_len(fixed) == 32).all():
        return None
    chars = fixed.view(np.uint32).reshape(-1, 32)
    out = np.full((len(fixed), 36), ord("-"), dtype=np.uint32)
    for source, target in ((slice(0, 8), slice(0, 8)), (slice(8, 12), slice(9, 13)), (slice(12, 16), slice(14, 18)),
                           (slice(16, 20), slice(19, 23)), (slice(20, 32), slice(24, 36))):
        out[:, target] = chars[:, source]
    out[(out >= ord("A")) & (out <= ord("Z"))] += ord("a") - ord("A")
    return out.view("U36").ravel().astype(object)


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
