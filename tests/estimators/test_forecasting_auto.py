"""`auto`: rolling-origin selection, statistical candidates, the shop's calendar, conformal band."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from ml_predictions.errors import InsufficientDataError, InvalidParameterError, NotFittedError
from ml_predictions.estimators.forecasting import AutoSeriesForecaster, OpenCalendar, detect_calendar
from ml_predictions.estimators.forecasting.calendar import weekdays
from ml_predictions.estimators.forecasting.statistical import calendar_forecast, ets, open_days_series
from tests.estimators.contract import check_estimator_contract
from tests.helpers import SHARED_DATA

STAT = ("ets", "theta", "seasonal_naive", "combination_median", "combination_weighted")
PHARMA = SHARED_DATA / "pharma_sales" / "salesdaily_clean.csv"


def _series(days: int = 300, *, closed_saturday: bool = False, rise: float = 0.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    index = pd.date_range("2024-01-01", periods=days, freq="D")
    week = np.array([1.0, 1.1, 1.0, 1.2, 1.4, 0.8, 0.6])[index.day_of_week]
    level = 100 * (1 + rise * np.clip((np.arange(days) - (days - 60)) / 60, 0, None))
    y = rng.poisson(level * week).astype(float)
    if closed_saturday:
        y[index.day_of_week == 5] = 0.0
    return pd.DataFrame({"total": y}, index=index)


def test_detect_calendar_finds_a_closed_weekday_and_busy_day_closures():
    y = _series(200, closed_saturday=True)["total"].to_numpy().copy()
    y[100] = 0.0  # an empty Wednesday in a busy shop: a closure
    first = np.datetime64("2024-01-01")
    cal = detect_calendar(y, first, holidays=("2024-12-25",))
    assert cal.closed_weekdays == (5,)
    assert cal.period == 6
    closure = first + 100
    assert closure in cal.closed_dates
    assert np.datetime64("2025-04-10") in cal.closed_dates  # expected again a year later
    assert np.datetime64("2024-12-25") in cal.closed_dates
    # a quiet shop's empty days are slow days, not closures
    quiet = np.where(np.arange(200) % 3 == 0, 0.0, 5.0)
    assert detect_calendar(quiet, first).closed_dates == frozenset()


def test_calendar_forecast_is_zero_on_closed_days_and_fits_open_days_only():
    frame = _series(210, closed_saturday=True)
    y = frame["total"].to_numpy()
    cal = OpenCalendar((5,), frozenset({np.datetime64("2024-07-31")}))
    z = open_days_series(y, frame.index.to_numpy().astype("datetime64[D]"), cal)
    assert len(z) == int((frame.index.day_of_week != 5).sum())
    assert z.min() > 0  # no Saturday zero reaches the model
    out = calendar_forecast(ets, y, np.datetime64("2024-01-01"), cal, 14)
    future = np.datetime64("2024-07-29") + np.arange(14)
    assert out.shape == (14,)
    assert (out[weekdays(future) == 5] == 0).all()
    assert out[future == np.datetime64("2024-07-31")][0] == 0.0
    assert (out[(weekdays(future) != 5) & (future != np.datetime64("2024-07-31"))] > 50).all()


def test_a_closure_is_filled_from_its_neighbours_not_copied_from_a_spike_a_week_before():
    """Bread Basket's shape: a closure a week after an exceptional day. The cheap fill copies the
    spike; the refined fill (what the models see) is the one-step forecast, near the usual day."""
    frame = _series(120)
    y = frame["total"].to_numpy().copy()
    days = frame.index.to_numpy().astype("datetime64[D]")
    y[100] = 400.0  # a one-off rush (a Wednesday: usual ~100)
    cal = OpenCalendar((), frozenset({days[107]}))
    cheap = open_days_series(y, days, cal)
    refined = open_days_series(y, days, cal, refine=True)
    assert cheap[107] == 400.0
    assert 60 < refined[107] < 160
    assert np.array_equal(np.delete(refined, 107), np.delete(y, 107))  # open days untouched
    # twenty weeks and more: the copy stays (four copied days weigh little in a long fit)
    long_y = np.concatenate([_series(20)["total"].to_numpy(), y])
    long_days = pd.date_range("2023-12-12", periods=140, freq="D").to_numpy().astype("datetime64[D]")
    assert open_days_series(long_y, long_days, OpenCalendar((), frozenset({long_days[127]})), refine=True)[127] == 400.0


@pytest.fixture(scope="module")
def fitted() -> AutoSeriesForecaster:
    return AutoSeriesForecaster(STAT, horizon=28, max_horizon=60).fit(_series(300, closed_saturday=True, rise=0.8))


def test_auto_reports_backtest_scores_origins_and_coverage(fitted):
    m = fitted.metrics_
    assert len(m["backtest"]["origins"]) == 5  # at least 4 rolling origins
    assert m["backtest"]["origins"][-1] == str(np.datetime64("2024-01-01") + 300 - 28)
    assert set(m["candidates"]) == set(STAT)
    assert m["model"] in STAT
    best_ets = m["candidates"]["ets"]
    if m["model"] == "ets":  # exponential smoothing keeps the choice unless another is 10 % better
        assert min(m["candidates"].values()) >= 0.9 * best_ets
    else:
        assert m["candidates"][m["model"]] == min(m["candidates"].values()) < 0.9 * best_ets
    assert m["calendar"]["closed_weekdays"] == ["saturday"]
    assert len(m["interval_coverage_by_window"]) == 5
    assert 0.0 <= m["interval_coverage"] <= 1.0
    assert m["beats_baseline"] == (m["backtest"]["relative_mae"] < 1)
    assert m["backtest"]["mase"] < m["backtest"]["seasonal_naive_mase"]
    below = round(100 * (1 - m["backtest"]["relative_mae"]))
    assert m["summary"].startswith(f"28-day error {below} % below repeating last week (over 5 recent windows)")


def test_auto_forecast_follows_the_rise_is_zero_when_closed_and_never_negative(fitted):
    frame = fitted.predict(60)
    assert len(frame) == 60
    days = pd.to_datetime(frame["date"])
    assert (frame.loc[days.dt.day_of_week == 5, ["prediction", "lower", "upper"]] == 0).all().all()
    assert (frame[["prediction", "lower", "upper"]] >= 0).all().all()
    assert (frame["lower"] <= frame["prediction"] + 1e-6).all() and (frame["prediction"] <= frame["upper"] + 1e-6).all()
    history_mean = fitted.history_["total"].iloc[:200].mean()
    assert frame["prediction"].iloc[:7].mean() > 1.3 * history_mean  # level ~1.8x the early history


def test_auto_errors_are_named():
    with pytest.raises(InsufficientDataError):
        AutoSeriesForecaster(STAT).fit(_series(60))
    with pytest.raises(InvalidParameterError) as exc:
        AutoSeriesForecaster(("prophet",)).fit(_series(200))
    assert exc.value.field == "model_type"
    with pytest.raises(NotFittedError):
        AutoSeriesForecaster(STAT).predict(7)


def test_auto_estimator_contract():
    frame = _series(200)
    check_estimator_contract(
        lambda: AutoSeriesForecaster(("ets", "seasonal_naive", "combination_median"), horizon=14, max_horizon=30),
        lambda est: est.fit(frame),
        lambda est: est.forecast_,
        lambda est: est.predict(7),
    )


def _hard_cases() -> dict[str, pd.Series]:
    """Real pharmacy series cut to 344 days of history ending in their strongest 30-day rise (the
    failure's signature: under a year, last month ~1.6-2x the history's mean), and the same with the
    shop closed on Saturdays and over Christmas."""
    df = pd.read_csv(PHARMA, parse_dates=["date"]).set_index("date")
    df["total"] = df.sum(axis=1)
    cases = {}
    for col, end in (("N02BE", "2018-02-18"), ("total", "2019-02-07")):
        s = df[col].loc[:end].iloc[-374:].astype(float)
        cases[col] = s
        shut = s.copy()
        idx = shut.index
        shut[(idx.day_of_week == 5) | ((idx.month == 12) & (idx.day >= 24)) | ((idx.month == 1) & (idx.day <= 2))] = 0
        cases[f"{col}_closed"] = shut
    return cases


@pytest.mark.slow
@pytest.mark.eval
def test_auto_is_at_or_below_an_ets_baseline_on_real_rising_cuts():
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    if not PHARMA.exists():
        pytest.skip(f"pharmacy data not found at {PHARMA}")
    for name, s in _hard_cases().items():
        hist, test = s.iloc[:344], s.iloc[344:].to_numpy()
        y = hist.to_numpy()
        scale = np.abs(y[7:] - y[:-7]).mean()
        model = AutoSeriesForecaster(horizon=30, max_horizon=60).fit(hist.to_frame("x"))
        ours = np.abs(model.forecast_[0, :30] - test).mean() / scale
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            baseline = ExponentialSmoothing(y, trend="add", damped_trend=True, seasonal="add", seasonal_periods=7,
                                            initialization_method="estimated").fit().forecast(30)
        theirs = np.abs(np.maximum(baseline, 0) - test).mean() / scale
        assert ours <= theirs, (name, ours, theirs)


# -- conformal band (intervals.py) ------------------------------------------------------------


def test_conformal_quantile_is_the_finite_sample_order_statistic():
    from ml_predictions.estimators.forecasting.intervals import conformal_quantile

    scores = np.array([5.0, 1.0, np.nan, 3.0, 2.0, 4.0, 9.0, 7.0, 6.0, 8.0, 10.0])  # 10 finite scores, shuffled
    # rank ceil((n + 1)(1 - alpha)): alpha 0.2 -> ceil(8.8) = 9th smallest; 0.5 -> ceil(5.5) = 6th
    assert conformal_quantile(scores, 0.2) == 9.0
    assert conformal_quantile(scores, 0.5) == 6.0
    # 0.05 -> ceil(10.45) = 11 > n: the largest score (a plain 95 % quantile would interpolate 9.55)
    assert conformal_quantile(scores, 0.05) == 10.0
    assert np.isnan(conformal_quantile(np.array([np.nan]), 0.05))


def test_half_width_follows_the_horizon_profile_and_the_reference_floor():
    from ml_predictions.estimators.forecasting.intervals import conformal_band, half_width, horizon_profile

    # errors grow with the step: row r, step h -> (h + 1) * (r + 1) / 10; one NaN (a closed day)
    own = np.array([[(h + 1) * (r + 1) / 10 for h in range(10)] for r in range(19)])
    own[0, 0] = np.nan
    prof = horizon_profile(own)
    assert (np.diff(prof) >= 0).all() and prof[-1] > prof[0]
    # normalised by the profile every row is a constant multiple; 18 finite rows of 10 steps -> 189 scores,
    # rank ceil(190 * 0.9) = 171 of the sorted normalised scores; the band is that quantile times the profile
    half = half_width(own, 0.1)
    ratio = (own / prof[None, :]).ravel()
    expected = np.sort(ratio[np.isfinite(ratio)])[170]
    assert half == pytest.approx(expected * prof)
    # a wider reference band (times rho) takes over; beyond the backtested steps the band grows with sqrt
    ref = own * 3
    band = conformal_band(own, ref, 1.0, 0.1, 40)
    assert band[:10] == pytest.approx(half_width(ref, 0.1))
    assert band[39] == pytest.approx(band[9] * 2.0)
    assert conformal_band(own, ref, 0.1, 0.1, 10) == pytest.approx(half)  # 0.3x is narrower: own wins


def test_band_coverage_pools_and_reports_each_window():
    from ml_predictions.estimators.forecasting.intervals import band_coverage

    pred = np.full((2, 1, 4), 10.0)
    actual = np.array([[[10.0, 11.0, 15.0, 0.0]], [[10.0, 10.0, 10.0, 30.0]]])
    open_days = np.array([[[True, True, True, False]], [[True, True, True, True]]])
    level = np.full((2, 1), 10.0)
    pooled, per_window = band_coverage(pred, actual, level, open_days, lambda i: np.full(4, 0.2))
    # window 0: 10, 11 inside [8, 12], 15 outside, the closed day not scored -> 2/3; window 1: 3/4
    assert per_window == pytest.approx([2 / 3, 3 / 4])
    assert pooled == pytest.approx(5 / 7)


def test_auto_reports_pooled_and_per_window_coverage_at_95_and_80(fitted):
    m = fitted.metrics_
    assert m["interval_method"] == "conformal_rolling_origin"
    assert len(m["interval_coverage_80_by_window"]) == len(m["interval_coverage_by_window"]) == 5
    assert m["interval_coverage_80"] <= m["interval_coverage"]
    assert m["interval_width"] > 0
    assert m["interval_reference_ratio"] >= 1.0
    # the band in the metrics is the band served: width relative to the recent open-day level
    open_ = fitted.upper_[0, :28] > 0
    assert ((fitted.upper_ - fitted.lower_)[0, :28][open_] > 0).all()


def test_recent_level_leaves_closed_days_out():
    from ml_predictions.estimators.forecasting.backtest import recent_level

    values = np.array([[10.0, 0.0, 10.0, 0.0, 10.0, 10.0]])
    open_days = np.array([True, False, True, False, True, True])
    assert recent_level(values, [6], window=6)[0, 0] == pytest.approx(40 / 6)
    assert recent_level(values, [6], window=6, open_days=open_days)[0, 0] == pytest.approx(10.0)


@pytest.mark.slow
@pytest.mark.eval
def test_95_band_covers_real_rolling_windows():
    """Out of sample: fit on the history before each of 4 rolling 30-day windows of the pharmacy's
    total (14 days apart, the last ending on the last day), score the served band on the window."""
    if not PHARMA.exists():
        pytest.skip(f"pharmacy data not found at {PHARMA}")
    s = pd.read_csv(PHARMA, parse_dates=["date"]).set_index("date").sum(axis=1).astype(float).iloc[-730:]
    inside95, inside80 = [], []
    for w in range(4):
        end = len(s) - 14 * w
        hist, test = s.iloc[:end - 30], s.iloc[end - 30:end].to_numpy()
        m = AutoSeriesForecaster(STAT, horizon=30, max_horizon=30).fit(hist.to_frame("total"))
        inside95 += ((test >= m.lower_[0]) & (test <= m.upper_[0])).tolist()
        narrow = AutoSeriesForecaster(STAT, horizon=30, max_horizon=30, interval_level=0.8).fit(hist.to_frame("total"))
        inside80 += ((test >= narrow.lower_[0]) & (test <= narrow.upper_[0])).tolist()
    assert 0.90 <= np.mean(inside95) <= 0.99
    assert 0.65 <= np.mean(inside80) < np.mean(inside95)


def test_auto_fits_with_blas_on_one_thread_and_restores_it(monkeypatch):
    """statsmodels' small matrices only make OpenBLAS's extra threads spin (CPU time doubled under load)."""
    from threadpoolctl import threadpool_info

    import ml_predictions.estimators.forecasting.statistical as statistical

    def blas_threads() -> list[int]:
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    seen: list[list[int]] = []
    naive = statistical.seasonal_naive

    def recording_naive(z: np.ndarray, steps: int, period: int) -> np.ndarray:
        seen.append(blas_threads())
        return naive(z, steps, period)

    monkeypatch.setitem(statistical.STATISTICAL_MODELS, "seasonal_naive", recording_naive)
    before = blas_threads()
    model = AutoSeriesForecaster(("ets", "seasonal_naive"), horizon=14, max_horizon=14).fit(_series(200))
    assert model.forecast_.shape == (1, 14)
    assert seen and all(t and set(t) == {1} for t in seen)
    assert blas_threads() == before
