"""Realised-error and recommendation-outcome arithmetic on hand-made frames with known answers."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml_predictions.estimators.monitoring import (
    daily_actuals,
    naive_scales,
    realised_errors,
    recommendation_outcomes,
    summarise_errors,
)


def _lines(rows):
    frame = pd.DataFrame(rows, columns=["order_id", "customer_id", "product_id", "ordered_at", "quantity", "unit_price"])
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"], utc=True)
    return frame


def test_daily_actuals_fill_zero_days_and_split_levels():
    lines = _lines([("o1", "c1", "p1", "2026-01-01 10:00", 2, 5.0), ("o2", "c2", "p2", "2026-01-03 23:59", 1, 7.0)])
    keys = pd.DataFrame({"level": ["total", "category", "product"], "series_id": [None, "A", "p2"]})
    cats = pd.Series({"p1": "A", "p2": "B"})
    out = daily_actuals(lines, cats, keys, pd.Timestamp("2026-01-01"), pd.Timestamp("2026-01-03"))
    total = out[out.level == "total"].set_index("date")["actual"]
    assert total.tolist() == [10.0, 0.0, 7.0]
    assert out[out.level == "category"]["actual"].tolist() == [10.0, 0.0, 0.0]
    assert out[out.level == "product"]["actual"].tolist() == [0.0, 0.0, 7.0]


def test_realised_errors_mase_bias_coverage_by_horizon():
    days = pd.date_range("2026-01-01", periods=21, freq="D")
    history = pd.DataFrame({"level": "total", "series_id": None, "date": days[:14],
                            "actual": [10.0, 20.0] * 7})  # lag-7 change alternates 10 -> scale 10
    scales = naive_scales(history)
    assert scales["scale"].iloc[0] == pytest.approx(10.0)
    future = pd.DataFrame({"level": "total", "series_id": None, "date": days[14:], "actual": [10.0] * 7})
    points = pd.DataFrame({
        "model_id": "m", "model_version": 1, "level": "total", "series_id": None, "start_date": days[14],
        "date": days[14:], "predicted": [12.0, 8.0, 10.0, 15.0, 10.0, 10.0, 10.0],
        "lower": [11.0, 5.0, 9.0, 9.0, 9.0, 9.0, 9.0], "upper": [13.0, 11.0, 11.0, 11.0, 11.0, 11.0, 11.0],
    })
    duplicated = pd.concat([points, points])  # the same forecast asked twice counts once
    errors = realised_errors(duplicated, future, scales)
    assert len(errors) == 7 and errors["step"].tolist() == list(range(1, 8))
    summary = summarise_errors(errors, ["level"]).iloc[0]
    assert summary["mae"] == pytest.approx((2 + 2 + 0 + 5) / 7)
    assert summary["mase"] == pytest.approx((2 + 2 + 0 + 5) / 7 / 10.0)
    assert summary["bias"] == pytest.approx((2 - 2 + 5) / 7)
    assert summary["coverage"] == pytest.approx(6 / 7)  # only day 1 misses: 10 is below its band 11..13
    by_h = summarise_errors(errors, ["level", "horizon"])
    assert by_h["horizon"].tolist() == ["1-7"]


def test_recommendation_outcomes_customer_and_basket_with_popular_bar():
    lines = _lines([
        # before the lists: p9 is the best-seller
        ("h1", "x", "p9", "2026-01-01", 5, 1.0), ("h2", "y", "p9", "2026-01-02", 5, 1.0),
        ("h3", "y", "p8", "2026-01-02", 1, 1.0),
        # after: c1 buys p2 (recommended) ; an order holds p1 (source) and p3 (recommended)
        ("f1", "c1", "p2", "2026-01-12", 1, 1.0),
        ("f2", "c3", "p1", "2026-01-15", 1, 1.0), ("f2", "c3", "p3", "2026-01-15", 1, 1.0),
        ("f3", "c2", "p9", "2026-01-20", 1, 1.0),
        ("late", "c4", "p5", "2026-03-30", 1, 1.0),
    ])
    responses = pd.DataFrame({
        "response_id": ["r1", "r2", "r3", "r4"],
        "endpoint": ["customer", "customer", "product", "product"],
        "subject_id": ["c1", "c2", "p1", "p7"],
        "created_at": pd.to_datetime(["2026-01-10"] * 3 + ["2026-03-25"], utc=True),
        "method": ["history", "history", "hybrid", "hybrid"],
        "recommended": [["p2", "p4"], ["p5"], ["p3"], ["p1"]],
    })
    out = recommendation_outcomes(responses, lines, window_days=30).set_index("response_id")
    assert list(out.index) == ["r1", "r2", "r3"]  # r4's window ends after the last order: not judged yet
    assert out["followed"].tolist() == [True, False, True]
    # best-sellers of the 90 days before: p9 then p8; c2 bought p9 -> the bar is followed there
    assert out["popular_followed"].tolist() == [False, True, False]
    assert np.issubdtype(out["n_items"].dtype, np.integer)
