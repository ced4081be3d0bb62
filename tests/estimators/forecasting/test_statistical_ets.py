"""ETS with multiplicative errors and the near-empty closure rule of the shop's calendar."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ml_predictions.estimators.forecasting.calendar import detect_calendar
from ml_predictions.estimators.forecasting.selection import (
    ETS_FAMILY,
    FAMILY_MARGIN,
    SHORT_FAMILY,
    AutoSeriesForecaster,
    choose,
)
from ml_predictions.estimators.forecasting.statistical import STATISTICAL_MODELS, ets_mul_error

WEEK = np.array([1.0, 1.1, 1.0, 1.2, 1.6, 0.7, 0.5])


def _multiplicative(days: int, *, level: float = 200.0, seed: int = 0) -> np.ndarray:
    """A positive daily series whose weekly season and noise scale with the level (a decaying level,
    as CDNOW's after its launch)."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    base = level * (1 + 4 * np.exp(-t / 40))
    return base * WEEK[t % 7] * rng.lognormal(0, 0.08, days)


def test_ets_mul_error_keeps_the_weekly_ratios_and_the_recent_level():
    z = _multiplicative(300)
    out = ets_mul_error(z, 14, 7)
    assert out.shape == (14,)
    assert (out > 0).all()
    # the day after the history is day 300 (weekday 300 % 7 = 6); the ratios of the forecast follow WEEK
    phase = (300 + np.arange(14)) % 7
    ratios = out / out.mean()
    expected = WEEK[phase] / WEEK[phase].mean()
    assert np.abs(ratios - expected).max() < 0.08
    # the level is today's (about 200), not the launch's average
    assert 170 < out.mean() / WEEK[phase].mean() < 230


def test_ets_mul_error_refuses_a_history_with_a_zero_and_a_short_one():
    z = _multiplicative(200)
    z[50] = 0.0
    assert ets_mul_error(z, 7, 7) is None
    assert ets_mul_error(_multiplicative(20), 7, 7) is None
    assert np.array_equal(ets_mul_error(np.full(60, 3.0), 5, 7), np.full(5, 3.0))
    assert STATISTICAL_MODELS["ets_mul_error"] is ets_mul_error


def test_ets_mul_error_fits_only_the_recent_window():
    """Eight months: a level from two years ago must not move the forecast."""
    recent = _multiplicative(240, seed=1)
    old = np.concatenate([np.full(400, 5000.0) * WEEK[np.arange(400) % 7], recent])
    old = old[-(400 + 240):]
    assert np.allclose(ets_mul_error(old, 7, 7), ets_mul_error(recent, 7, 7))


def test_a_near_empty_day_in_a_busy_shop_is_a_closure_a_slow_day_is_not():
    rng = np.random.default_rng(3)
    y = rng.poisson(130, 150).astype(float)
    y[60] = 1.0  # New Year's Day: one item against ~130
    y[90] = 20.0  # a slow day (15 % of the median): demand, not a closure
    y[100] = 0.0
    first = np.datetime64("2024-01-01")
    closed = detect_calendar(y, first).closed_dates
    assert first + 60 in closed and first + 100 in closed
    assert first + 90 not in closed
    assert np.datetime64("2025-03-01") in closed  # day 60 of 2024 expected again a year later
    # in a quiet shop (a third of the days empty) a near-empty day is just slow
    quiet = np.where(np.arange(150) % 3 == 0, 0.0, 130.0)
    quiet[61] = 1.0
    assert detect_calendar(quiet, first).closed_dates == frozenset()


def test_choose_keeps_exponential_smoothing_unless_another_is_ten_percent_better():
    order = ["ets", "ets_mul_error", "theta", "random_forest", "combination_weighted"]
    table = np.array([
        # series: ETS within 10 % | another 12 % better | no ETS fit | ties within the family
        [0.80, 1.00, np.inf, 0.70],
        [0.75, 0.99, np.inf, 0.70],
        [0.70, 0.93, 0.90, 0.80],
        [0.68, 0.95, 0.85, 0.80],
        [0.749, 0.87, 0.95, 0.69],
    ])
    assert [order[j] for j in choose(order, table)] == ["ets_mul_error", "combination_weighted",
                                                         "random_forest", "ets"]
    # without any exponential smoothing candidate, the lowest backtest MASE wins
    assert [order[2:][j] for j in choose(order[2:], table[2:])] == ["random_forest", "combination_weighted",
                                                               "random_forest", "combination_weighted"]


def test_on_a_short_history_the_median_combination_stands_in_for_exponential_smoothing():
    order = ["ets", "ets_mul_error", "theta", "combination_median", "combination_weighted"]
    table = np.array([
        # series: family within 10 % | another 12 % better | the median unavailable
        [0.80, 0.90, 0.80],
        [0.78, 0.95, 0.78],
        [0.74, 0.85, 0.72],
        [0.76, 0.90, np.inf],
        [0.75, 0.79, 0.75],
    ])
    assert [order[j] for j in choose(order, table, family=SHORT_FAMILY)] == [
        "combination_median", "combination_weighted", "theta"]
    assert [order[j] for j in choose(order, table)] == ["ets_mul_error", "combination_weighted", "ets_mul_error"]


def test_auto_switches_family_below_twenty_weeks_of_open_days():
    """The switch reads the history's open weekdays: 130 days fall under it, 150 do not."""
    for days, family in ((130, SHORT_FAMILY), (150, ETS_FAMILY)):
        y = pd.DataFrame({"x": _multiplicative(days, seed=4)},
                         index=pd.date_range("2024-01-01", periods=days, freq="D"))
        model = AutoSeriesForecaster(("ets", "ets_mul_error", "theta", "seasonal_naive", "combination_median"),
                                     horizon=14, max_horizon=14, min_history_days=90).fit(y)
        scores = {c: float(v[0]) for c, v in model.scores_.items()}
        best_family = min(scores[c] for c in family)
        chosen = model.chosen_[0]
        assert chosen in family or scores[chosen] < (1 - FAMILY_MARGIN) * best_family, (days, chosen, scores)
        assert SHORT_FAMILY[0] in scores
    # without the median among the candidates, a short history keeps the exponential-smoothing family
    y = pd.DataFrame({"x": _multiplicative(130, seed=4)}, index=pd.date_range("2024-01-01", periods=130, freq="D"))
    model = AutoSeriesForecaster(("ets", "ets_mul_error", "theta", "seasonal_naive"), horizon=14, max_horizon=14,
                                 min_history_days=90).fit(y)
    scores = {c: float(v[0]) for c, v in model.scores_.items()}
    chosen = model.chosen_[0]
    assert chosen in ETS_FAMILY or scores[chosen] < (1 - FAMILY_MARGIN) * min(scores[c] for c in ETS_FAMILY)


def test_ets_estimates_initial_states_only_below_twenty_weeks(monkeypatch):
    """Short histories (Bread Basket's 93-128 open days) fit estimated initial states; longer ones keep
    the cheap heuristic ones."""
    import ml_predictions.estimators.forecasting.statistical as statistical

    def with_threshold(z: np.ndarray, below: int) -> np.ndarray:
        monkeypatch.setattr(statistical, "_ESTIMATED_STATES_BELOW", below)
        return statistical.ets(z, 14, 7)

    assert statistical._ESTIMATED_STATES_BELOW == 140
    short, long_ = _multiplicative(100, seed=2), _multiplicative(200, seed=2)
    default_short, default_long = statistical.ets(short, 14, 7), statistical.ets(long_, 14, 7)
    assert default_short.shape == (14,) and (default_short > 0).all()
    np.testing.assert_allclose(default_short, with_threshold(short, 10_000))
    assert np.abs(default_short - with_threshold(short, 0)).max() > 1e-3
    np.testing.assert_allclose(default_long, with_threshold(long_, 0))
    assert np.abs(default_long - with_threshold(long_, 10_000)).max() > 1e-3
