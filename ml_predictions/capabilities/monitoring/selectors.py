"""Reads that check models against the shop's later history: forecast accuracy, recommendation outcomes.

Both start from the Prediction rows the capabilities record, and read the data source once for the
period they cover; the arithmetic lives in ml_predictions.estimators.monitoring.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from ml_predictions.conf import ml_settings
from ml_predictions.data import canonical_id, get_data_source
from ml_predictions.errors import InvalidParameterError
from ml_predictions.estimators.monitoring import (
    daily_actuals,
    naive_scales,
    realised_errors,
    recommendation_outcomes,
    summarise_errors,
)
from ml_predictions.models import ModelType, Prediction

SCALE_HISTORY_DAYS = 365


@dataclass
class ForecastCheck:
    """Realised errors of the stored forecasts in a period, and the figures computed from them."""

    errors: pd.DataFrame
    date_from: date
    date_to: date
    last_data_date: date | None


def _forecast_points(model_id: str | None, level: str | None) -> pd.DataFrame:
    rows = Prediction.objects.filter(kind=ModelType.SALES_FORECAST).exclude(model=None)
    if model_id:
        rows = rows.filter(model_id=model_id)
    records = []
    for model_pk, version, output in rows.values_list("model_id", "model__version", "output").iterator(chunk_size=500):
        row_level = output.get("level", "total")
        if level and row_level != level or not output.get("predictions"):
            continue
        series = None if row_level == "total" else str(output.get("id"))
        start = output.get("start_date") or output["predictions"][0]["date"]
        records.extend(
            (str(model_pk), version, row_level, series, start, p["date"], p["predicted_sales"],
             p.get("confidence_lower", np.nan), p.get("confidence_upper", np.nan))
            for p in output["predictions"]
        )
    frame = pd.DataFrame(records, columns=["model_id", "model_version", "level", "series_id", "start_date", "date",
                                           "predicted", "lower", "upper"])
    for column in ("start_date", "date"):
        frame[column] = pd.to_datetime(frame[column])
    return frame.astype({"predicted": float, "lower": float, "upper": float})


def forecast_check(
    *, model_id: str | None = None, level: str | None = None, date_from: date | None = None, date_to: date | None = None
) -> ForecastCheck:
    """Every stored forecast day in [date_from, date_to] whose sales are known, with its realised error."""
    model_id = canonical_id(model_id) if model_id else None
    points = _forecast_points(model_id, level)
    today = date.today()
    date_to = date_to or today - timedelta(days=1)
    date_from = date_from or date_to - timedelta(days=89)
    if date_from > date_to:
        raise InvalidParameterError("date_from must not be after date_to.", field="date_from")
    points = points[(points["date"] >= pd.Timestamp(date_from)) & (points["date"] <= pd.Timestamp(date_to))]
    if points.empty:
        return ForecastCheck(realised_errors(points, points, points), date_from, date_to, None)
    first_start = points["start_date"].min()
    source = get_data_source()
    lines = source.order_lines(start=(first_start - pd.Timedelta(days=SCALE_HISTORY_DAYS)).tz_localize("UTC"),
                               end=pd.Timestamp(date_to + timedelta(days=1)).tz_localize("UTC"))
    if lines.empty:
        return ForecastCheck(realised_errors(points.iloc[:0], points.iloc[:0], points.iloc[:0]), date_from, date_to, None)
    last_day = lines["ordered_at"].max().tz_convert("UTC").tz_localize(None).normalize()
    points = points[points["date"] <= last_day]
    if points.empty:  # every stored forecast day is after the last sale: nothing to score yet
        return ForecastCheck(realised_errors(points, points, points), date_from, date_to, last_day.date())
    products = source.products()
    categories = pd.Series(products["category"].to_numpy(), index=products["id"].astype(str))
    keys = points[["level", "series_id"]].drop_duplicates()
    actuals = daily_actuals(lines, categories, keys, first_start - pd.Timedelta(days=SCALE_HISTORY_DAYS), last_day)
    scales = naive_scales(actuals[actuals["date"] < first_start])
    errors = realised_errors(points, actuals, scales)
    return ForecastCheck(errors, date_from, date_to, last_day.date())


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in frame.to_dict("records"):
        out.append({k: (None if isinstance(v, float) and not np.isfinite(v) else
                        round(v, 4) if isinstance(v, float) else v) for k, v in row.items()})
    return out


def forecast_accuracy(
    *, model_id: str | None = None, level: str | None = None, date_from: date | None = None, date_to: date | None = None
) -> dict[str, Any]:
    """The forecast-accuracy response: realised error per model version and level, and by horizon."""
    check = forecast_check(model_id=model_id, level=level, date_from=date_from, date_to=date_to)
    by_model = summarise_errors(check.errors, ["model_id", "model_version", "level"])
    by_horizon = summarise_errors(check.errors, ["model_id", "model_version", "level", "horizon"])
    return {
        "date_from": check.date_from,
        "date_to": check.date_to,
        "last_data_date": check.last_data_date,
        "n_days": int(len(check.errors)),
        "models": _records(by_model),
        "by_horizon": _records(by_horizon),
    }


def forecast_vs_actual(*, level: str = "total", series_id: str | None = None, days: int = 90) -> pd.DataFrame:
    """For the chart: per day, the latest stored forecast made before it, its band, and what was sold."""
    check = forecast_check(level=level, date_from=date.today() - timedelta(days=days))
    errors = check.errors
    if series_id is not None and not errors.empty:
        errors = errors[errors["series_id"] == series_id]
    if errors.empty:
        return pd.DataFrame(columns=["date", "predicted", "lower", "upper", "actual"])
    latest = errors.sort_values("start_date").groupby("date", sort=True).tail(1)
    return latest[["date", "predicted", "lower", "upper", "actual"]].sort_values("date").reset_index(drop=True)


def _recommendation_responses(date_from: date, date_to: date) -> pd.DataFrame:
    rows = Prediction.objects.filter(
        kind=ModelType.PRODUCT_RECOMMENDATION, created_at__date__gte=date_from, created_at__date__lte=date_to
    ).values_list("id", "target", "input", "output", "created_at")
    records = [
        (str(pk), (inp or {}).get("endpoint", "product"), canonical_id(target),
         created, (out or {}).get("strategy") or (inp or {}).get("method") or "unknown",
         [canonical_id(item[0]) for item in (out or {}).get("recommendations", [])])
        for pk, target, inp, out, created in rows.iterator(chunk_size=1000)
    ]
    frame = pd.DataFrame(records, columns=["response_id", "endpoint", "subject_id", "created_at", "method", "recommended"])
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame


def recommendation_outcome_summary(
    *, window_days: int | None = None, date_from: date | None = None, date_to: date | None = None
) -> dict[str, Any]:
    """Share of recorded lists followed by a purchase from them, per endpoint and method, beside best-sellers."""
    window_days = int(window_days or ml_settings.RECOMMENDATION_OUTCOME_DAYS)
    date_to = date_to or date.today()
    date_from = date_from or date_to - timedelta(days=180)
    if date_from > date_to:
        raise InvalidParameterError("date_from must not be after date_to.", field="date_from")
    responses = _recommendation_responses(date_from, date_to)
    summary: dict[str, Any] = {"window_days": window_days, "date_from": date_from, "date_to": date_to,
                               "n_responses": int(len(responses)), "groups": []}
    if responses.empty:
        summary["n_evaluated"] = 0
        return summary
    start = responses["created_at"].min() - pd.Timedelta(days=90)
    end = responses["created_at"].max() + pd.Timedelta(days=window_days + 1)
    lines = get_data_source().order_lines(start=start, end=end)
    outcomes = recommendation_outcomes(responses, lines, window_days=window_days)
    summary["n_evaluated"] = int(len(outcomes))
    if outcomes.empty:
        return summary
    grouped = outcomes.groupby(["endpoint", "method"], sort=True).agg(
        n_responses=("followed", "size"), followed_share=("followed", "mean"),
        popular_followed_share=("popular_followed", "mean"),
    ).reset_index()
    grouped["lift"] = grouped["followed_share"] / grouped["popular_followed_share"].where(grouped["popular_followed_share"] > 0)
    summary["groups"] = _records(grouped)
    return summary
