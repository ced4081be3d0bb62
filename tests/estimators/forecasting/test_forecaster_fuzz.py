"""Shape fuzz of the sales forecaster: odd but legal shops fit, or raise a named domain error.

One product; one day of orders; all orders on one day; a gap of a year; duplicate lines; products
never ordered; integer / string / UUID / non-ASCII ids and names; products without a category.
Either every served series answers the documented frame (the asked horizon, no NaN, nothing
negative, lower <= forecast <= upper) and reconciled levels add up, or an MLError subclass says why.
"""
from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ml_predictions.errors import MLError
from ml_predictions.estimators.forecasting import SalesForecaster

HORIZON = 21
ID_KINDS = {
    "int": lambda i: i + 1,
    "str": lambda i: f"sku-{i}",
    "uuid": lambda i: str(uuid.UUID(int=i + 7)),
    "non_ascii": lambda i: f"Crème-brûlée-面包-{i}",
}
START = pd.Timestamp("2025-01-01", tz="UTC")


@st.composite
def shops(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame]:
    kind = draw(st.sampled_from(sorted(ID_KINDS)))
    n_products = draw(st.integers(1, 4))
    ids = [ID_KINDS[kind](i) for i in range(n_products)]
    shape = draw(st.sampled_from(["one_day", "short", "medium", "long", "year_gap"]))
    # "medium": just above the 120-day minimum, where the calibration cut once left no training rows
    span = {"one_day": 1, "short": 20, "medium": draw(st.integers(121, 158)), "long": 170, "year_gap": 160}[shape]
    n_lines = draw(st.integers(1, 400))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    days = rng.integers(0, span, n_lines)
    if shape == "year_gap":  # a burst, a year without a sale, then a season of trade
        days = np.where(days < 20, days, days + 365)
    weights = rng.dirichlet(np.ones(n_products) * draw(st.sampled_from([0.2, 1.0])))
    lines = pd.DataFrame({
        "order_id": np.arange(n_lines).astype(str),
        "product_id": np.asarray(ids, dtype=object)[rng.choice(n_products, n_lines, p=weights)],
        "ordered_at": START + pd.to_timedelta(days, unit="D") + pd.to_timedelta(rng.integers(0, 86_400, n_lines),
                                                                                 unit="s"),
        "quantity": rng.integers(1, draw(st.sampled_from([2, 6, 40])), n_lines).astype(float),
        "unit_price": rng.choice(draw(st.sampled_from([[0.0], [2.5, 9.99], [0.0, 120.0]])), n_lines),
    })
    if draw(st.booleans()):  # duplicate lines
        lines = pd.concat([lines, lines.sample(frac=0.3, random_state=1)], ignore_index=True)
    never = ID_KINDS[kind](99)  # in the catalogue, never ordered
    categories = draw(st.lists(st.sampled_from([None, "", "Boulangerie", "Épicerie fine", "饮料", np.nan]),
                               min_size=n_products + 1, max_size=n_products + 1))
    products = pd.DataFrame({"id": [*ids, never], "name": [f"Pâté «{i}»" for i in range(n_products + 1)],
                             "category": categories})
    return lines, products


FUZZ = settings(max_examples=10, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _check_frame(frame: pd.DataFrame) -> None:
    assert len(frame) == HORIZON
    values = frame[["predicted_sales", "predicted_quantity", "confidence_lower", "confidence_upper"]].to_numpy()
    assert np.isfinite(values).all() and (values >= 0).all()
    assert (frame["confidence_lower"] <= frame["predicted_sales"] + 1e-4).all()
    assert (frame["predicted_sales"] <= frame["confidence_upper"] + 1e-4).all()


@FUZZ
@given(shop=shops(), reconciliation=st.sampled_from(["mint_shrink", "bottom_up"]))
def test_forecaster_fits_or_names_what_is_missing(shop, reconciliation):
    lines, products = shop
    model = SalesForecaster("linear", max_train_rows=300, product_train_rows=600, max_horizon=60,
                            reconciliation=reconciliation)
    try:
        model.fit(lines, products)
    except MLError as exc:  # a named domain condition, with a message that says what is wrong
        assert type(exc) is not MLError and exc.message
        event(f"refused: {type(exc).__name__}")
        return
    event("fitted")
    total = model.predict(HORIZON)
    _check_frame(total)
    products_sum = np.zeros(HORIZON)
    for pid in model.ids("product"):
        frame = model.predict(HORIZON, level="product", id=pid)
        _check_frame(frame)
        products_sum += frame["predicted_quantity"].to_numpy()
        info = model.series_info("product", pid)
        assert info["demand_class"] in ("smooth", "erratic", "intermittent", "lumpy", "none") and info["method"]
    for cat in model.ids("category"):
        _check_frame(model.predict(HORIZON, level="category", id=cat))
    assert model.reconciliation_method in ("mint_shrink", "bottom_up")
    np.testing.assert_allclose(products_sum, total["predicted_quantity"].to_numpy(), rtol=1e-3, atol=1e-3)
    demand = model.product_demand(HORIZON)
    assert len(demand) == HORIZON * len(model.ids("product")) and (demand["predicted_quantity"] >= 0).all()


def test_a_history_just_over_the_minimum_fits():
    """133 days once left the calibration refit without a training row (a ValueError, a 500)."""
    from ml_predictions.estimators.forecasting import SeriesForecaster

    index = pd.date_range("2025-01-01", periods=133, freq="D")
    y = pd.DataFrame({"total": np.random.default_rng(0).poisson(30, 133).astype(float)}, index=index)
    model = SeriesForecaster("linear", max_train_rows=300, max_horizon=30).fit(y)
    assert model.forecast_.shape == (1, 30) and np.isfinite(model.forecast_).all()
