"""Parameter checks of the inventory optimiser, run at the start of `fit` and by the capability before
it reads any data (a bad setting or request override is a 400 naming it, not a failure half way)."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ml_predictions.errors import InvalidParameterError
from ml_predictions.estimators.inventory.classes import CLASSES
from ml_predictions.estimators.inventory.policy import SERVICE_TYPES

ORDER_POLICIES = ("order_up_to", "eoq")


def validate_params(self: Any) -> None:
    """Check an optimiser's parameters; the error names the parameter (a 400 on the field)."""
    def bad(name: str, why: str) -> InvalidParameterError:
        return InvalidParameterError(f"{name} {why}; got {getattr(self, name)!r}.", field=name)

    levels = {"service_level": self.service_level}
    for attr in ("category_service_levels", "class_service_levels"):
        mapping = getattr(self, attr)
        if mapping is not None and not isinstance(mapping, dict):
            raise bad(attr, "must be a mapping of names to service levels")
        levels.update({f"{attr}[{k}]": v for k, v in (mapping or {}).items()})
    for name, value in levels.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.5 <= float(value) < 1.0:
            raise InvalidParameterError(
                f"{name} must be a number in [0.5, 1); got {value!r}.", field=name.split("[")[0])
    unknown = sorted(set(self.class_service_levels or {}) - set(CLASSES))
    if unknown:
        raise bad("class_service_levels", f"has unknown classes {unknown} (known: {list(CLASSES)})")
    if self.service_type not in SERVICE_TYPES:
        raise bad("service_type", f"must be one of {list(SERVICE_TYPES)}")
    for name in ("abc_thresholds", "xyz_thresholds"):
        pair = getattr(self, name)
        ok = isinstance(pair, (tuple, list)) and len(pair) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in pair)
        if not ok or not 0 < pair[0] <= pair[1] or (name == "abc_thresholds" and pair[1] > 1):
            raise bad(name, "must be two increasing positive numbers" + (" up to 1" if name[0] == "a" else ""))
    if self.order_policy not in ORDER_POLICIES:
        raise bad("order_policy", f"must be one of {list(ORDER_POLICIES)}")
    if not self.default_lead_time_days > 0:
        raise bad("default_lead_time_days", "must be > 0")
    if self.lead_time_cv < 0:
        raise bad("lead_time_cv", "must be >= 0")
    for name in ("demand_window_days", "slow_moving_days", "high_demand_days"):
        if int(getattr(self, name)) < 7:
            raise bad(name, "must be at least 7 days")
    if self.high_demand_days >= self.demand_window_days:
        raise bad("high_demand_days", "must be shorter than demand_window_days")
    if not 7 <= int(self.seasonal_horizon_days) <= 180:
        raise bad("seasonal_horizon_days", "must be between 7 and 180")
    for name in ("review_period_days", "low_stock_horizon_days", "overstock_cover_days", "ordering_cost",
                 "holding_cost_rate", "high_demand_ratio", "slow_moving_sell_through", "high_demand_min_units"):
        if getattr(self, name) < 0:
            raise bad(name, "must be >= 0")


def column_numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A product column as floats; absent or unparsable -> NaN (unknown, never 0)."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def column_text(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A product column as strings; absent or missing -> ""."""
    if column not in frame.columns:
        return np.full(len(frame), "", dtype=object)
    col = frame[column].astype(object)
    return col.where(col.notna(), "").astype(str).to_numpy()
