"""One artifact that serves every level, even when only one level is retrained.

A staff call that trains the category level alone must not take the total-level forecast (the default
predict-sales answer and the dashboard chart) away from everyone. The forecasting capability keeps one
active artifact per model type, so a partial training is *merged* into the active one: the freshly
fitted levels replace theirs, every other level is carried over unchanged, with its own dates and
figures. A merged artifact is not reconciled (the fresh level says so in its `reconciliation_`): its
levels were fitted on different days. The levels fitted last come first, so the artifact's headline metrics describe the training
that produced it.
"""
from __future__ import annotations

import copy
from typing import Any

from ml_predictions.estimators.forecasting.forecaster import SalesForecaster


def level_dates(forecaster: SalesForecaster) -> dict[str, dict[str, str]]:
    """Per level: the last day of data and the first forecast day (carried levels may be older)."""
    out = {}
    for level, models in forecaster.levels_.items():
        units = models["units"]
        out[level] = {"last_data_date": units.last_date_.isoformat(),
                      "forecast_start": units.forecast_start_.isoformat()}
    return out


def merge_levels(fresh: SalesForecaster, previous: Any) -> tuple[SalesForecaster, list[str]]:
    """`fresh` plus every level of `previous` that `fresh` did not fit; returns (artifact, carried levels).

    `previous` that is not a fitted SalesForecaster (no active model, a foreign artifact) carries
    nothing. `fresh` itself is not modified; the carried level models are shared, not copied, because
    a fitted level is never mutated after training.
    """
    old_levels = getattr(previous, "levels_", None) if isinstance(previous, SalesForecaster) else None
    carried = [lvl for lvl in (old_levels or {}) if lvl not in fresh.levels_]
    if not carried:
        return fresh, []
    merged = copy.copy(fresh)
    merged.levels_ = {**fresh.levels_, **{lvl: old_levels[lvl] for lvl in carried}}
    if "product" in carried:
        merged.price_ = dict(getattr(previous, "price_", {}) or {})
        merged.product_revenue_ = getattr(previous, "product_revenue_", None)
    merged.levels = tuple(merged.levels_)
    return merged, carried
