"""Order lines to daily series, and the constants every forecasting module shares.

A day without orders is a real zero (missing days are filled with 0); days are UTC. The history
limits live here because the features, the backtest and the selection must agree on them.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from ml_predictions.errors import InsufficientDataError, InvalidParameterError, NotFittedError

LAGS: tuple[int, ...] = (1, 7, 14, 28, 364)
MODEL_TYPES: tuple[str, ...] = ("random_forest", "gradient_boosting", "linear")
AUTO_CANDIDATES: tuple[str, ...] = (*MODEL_TYPES, "seasonal_naive")
LEVELS: tuple[str, ...] = ("total", "category", "product")
TOTAL_KEY = "total"
UNCATEGORIZED = "uncategorized"
# Below this many days a level cannot be backtested honestly (lags + training rows + two windows).
MIN_HISTORY_DAYS = 120
_MIN_TRAIN_ROWS = 21
_ROLL_WINDOW = 28
# Every row is divided by the series' mean over the LEVEL_WINDOW days before its origin, so the
# model learns shapes relative to the current level and trees can follow a trend they never saw.
_LEVEL_WINDOW = 56
_SBA_ALPHA = 0.1
# Calibration blocks are a quarter apart (13 weeks); a block's refit needs this many days before it.
_BLOCK_SPACING = 91
_MIN_CALIBRATION_CUT = 2 * _LEVEL_WINDOW + _MIN_TRAIN_ROWS
_INTERMITTENT_ADI = 1.32


def _check_fitted(obj: Any, attr: str) -> None:
    if not hasattr(obj, attr):
        raise NotFittedError(f"{obj.__class__.__name__} is not fitted yet; call fit() first.")


def insufficient_history(needed: int, available: int, what: str = "sales history") -> InsufficientDataError:
    return InsufficientDataError(
        f"Forecasting needs at least {needed} days of {what}; there are {available}.",
        details={"days_needed": int(needed), "days_available": int(available)},
    )


# --- daily series ------------------------------------------------------------------------------

def daily_series(
    order_lines: pd.DataFrame,
    *,
    level: str = "total",
    product_categories: pd.Series | None = None,
    start: Any = None,
    end: Any = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(revenue, units) as wide frames: one row per UTC day (gaps filled with 0), one column per key.

    `product_categories` maps product id -> category name (category level only); products without
    a category are grouped as 'uncategorized'.
    """
    if level not in LEVELS:
        raise InvalidParameterError(f"level must be one of {list(LEVELS)}; got {level!r}.", field="level")
    lines = order_lines
    day = pd.to_datetime(lines["ordered_at"], utc=True).dt.tz_convert(None).dt.normalize()
    if level == "total":
        key = pd.Series(TOTAL_KEY, index=lines.index)
    elif level == "product":
        key = lines["product_id"].astype(str)
    else:
        cats = product_categories if product_categories is not None else pd.Series(dtype=object)
        key = lines["product_id"].astype(str).map(cats).fillna(UNCATEGORIZED).replace("", UNCATEGORIZED)
    frame = pd.DataFrame(
        {
            "day": day,
            "key": key.to_numpy(),
            "revenue": lines["quantity"].to_numpy(dtype=float) * lines["unit_price"].to_numpy(dtype=float),
            "units": lines["quantity"].to_numpy(dtype=float),
        }
    )
    grouped = frame.groupby(["day", "key"], sort=True)[["revenue", "units"]].sum()
    first = pd.Timestamp(start).normalize() if start is not None else (frame["day"].min() if len(frame) else None)
    last = pd.Timestamp(end).normalize() if end is not None else (frame["day"].max() if len(frame) else None)
    if first is None or last is None or last < first:
        empty = pd.DataFrame(index=pd.DatetimeIndex([], name="date"), dtype=float)
        return empty, empty.copy()
    index = pd.date_range(first, last, freq="D", name="date")
    revenue = grouped["revenue"].unstack("key", fill_value=0.0).reindex(index, fill_value=0.0)
    units = grouped["units"].unstack("key", fill_value=0.0).reindex(index, fill_value=0.0)
    revenue.columns = revenue.columns.astype(str)
    units.columns = units.columns.astype(str)
    return revenue.astype(float), units.astype(float)


