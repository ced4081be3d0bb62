"""Answering from forecasts computed at fit time: every series forecaster stores a (series x
max_horizon) table of forecasts and band edges, so a request is a slice and stays far inside the
predict latency budget whatever model produced the table."""
from __future__ import annotations

from typing import Any

import pandas as pd

from ml_predictions.errors import InvalidParameterError, NotFittedError, NotFoundError


def _offset(forecast_start: Any, start_date: Any, days_ahead: int, max_horizon: int) -> int:
    """Column of the table where a request starting at `start_date` begins (checked against it)."""
    if not 1 <= int(days_ahead) <= max_horizon:
        raise InvalidParameterError(f"days_ahead must be between 1 and {max_horizon}; got {days_ahead}.",
                                    field="days_ahead")
    if start_date is None:
        return 0
    offset = (pd.Timestamp(start_date).date() - forecast_start).days
    if offset < 0:
        raise InvalidParameterError(
            f"start_date must be on or after {forecast_start} (the day after the last day with data).",
            field="start_date",
        )
    if offset + int(days_ahead) > max_horizon:
        raise InvalidParameterError(
            f"start_date + days_ahead reaches beyond the {max_horizon} forecast days after {forecast_start}.",
            field="start_date",
        )
    return offset


class StoredForecastMixin:
    """predict() over the fitted attributes forecast_, lower_, upper_, series_, series_index_,
    forecast_start_ and the max_horizon parameter."""

    max_horizon: int

    def predict(self, days_ahead: int, *, series: str | None = None, start_date: Any = None) -> pd.DataFrame:
        """Rows date, prediction, lower, upper for `days_ahead` days from `start_date` (default: the
        day after the last day with data). The window must lie inside the precomputed horizon."""
        if not hasattr(self, "forecast_"):
            raise NotFittedError(f"{self.__class__.__name__} is not fitted yet; call fit() first.")
        offset = _offset(self.forecast_start_, start_date, days_ahead, self.max_horizon)
        if series is None:
            if len(self.series_) != 1:
                raise InvalidParameterError("series is required for a multi-series forecaster.", field="series")
            series = self.series_[0]
        if series not in self.series_index_:
            raise NotFoundError(f"unknown series {series!r}.", field="series")
        i = self.series_index_[series]
        window = slice(offset, offset + days_ahead)
        start = pd.Timestamp(self.forecast_start_) + pd.Timedelta(days=offset)
        return pd.DataFrame(
            {
                "date": pd.date_range(start, periods=days_ahead, freq="D").date,
                "prediction": self.forecast_[i, window].astype(float),
                "lower": self.lower_[i, window].astype(float),
                "upper": self.upper_[i, window].astype(float),
            }
        )
