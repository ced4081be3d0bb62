"""`auto` against exponential smoothing chosen the way statsforecast's AutoETS chooses it, on the real
series where it used to lose (CDNOW's revenue, Bread Basket's items), over rolling 30-day windows.

The bar is computed here, with statsmodels, on the raw series: ETS with additive or multiplicative
error and season (weekly), no trend, estimated initial states, the lowest AICc. That is AutoETS's
search without the trend branch, which AutoETS never took on these windows (benchmark
forecasting_auto_bench.py prints its choice: ETS(M,N,M) on every CDNOW window, ETS(A,N,A) on every
Bread Basket one), and it reproduces its MASE to the third decimal.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from ml_predictions.estimators.forecasting.calendar import detect_calendar
from ml_predictions.estimators.forecasting.selection import (
    AUTO_STATISTICAL,
    COMBINATIONS,
    AutoSeriesForecaster,
)
from tests.helpers import SHARED_DATA

CDNOW = SHARED_DATA / "cdnow" / "CDNOW_master.txt"
BREAD = SHARED_DATA / "bread_basket" / "BreadBasket_DMS.csv"
H = 30

pytestmark = [pytest.mark.slow, pytest.mark.eval]


def _daily(values: pd.Series) -> pd.Series:
    return values.astype(float).reindex(pd.date_range(values.index.min(), values.index.max(), freq="D"),
                                        fill_value=0.0)


def _cdnow() -> pd.Series:
    if not CDNOW.exists():
        pytest.skip(f"{CDNOW} not found")
    cd = pd.read_csv(CDNOW, sep=r"\s+", dtype={"date": str})
    return _daily(cd.groupby(pd.to_datetime(cd["date"], format="%Y%m%d"))["dollar_value"].sum())


def _bread() -> pd.Series:
    if not BREAD.exists():
        pytest.skip(f"{BREAD} not found")
    bread = pd.read_csv(BREAD)
    bread = bread[bread["Item"] != "NONE"]
    return _daily(bread.groupby(pd.to_datetime(bread["Date"])).size())


def _auto_ets_mase(y: np.ndarray, test: np.ndarray, scale: float) -> float:
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    best, best_aicc = None, np.inf
    kinds = ("add", "mul") if y.min() > 0 else ("add",)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for error in kinds:
            for season in kinds:
                fit = ETSModel(y, error=error, seasonal=season, seasonal_periods=7).fit(disp=False)
                if np.isfinite(fit.aicc) and fit.aicc < best_aicc:
                    best, best_aicc = fit, fit.aicc
    return float(np.abs(np.maximum(best.forecast(H), 0) - test).mean() / scale)


def _rolling(s: pd.Series, windows: int, spacing: int, min_history: int) -> tuple[list[float], list[float]]:
    """(ours, the AutoETS-style bar): MASE per window, the last window ending on the last day."""
    ours, bar = [], []
    for w in range(windows):
        start = len(s) - spacing * w - H
        assert start >= min_history
        hist, test = s.iloc[:start], s.iloc[start:start + H].to_numpy()
        y = hist.to_numpy()
        scale = float(np.abs(y[7:] - y[:-7]).mean())
        model = AutoSeriesForecaster((*AUTO_STATISTICAL, "random_forest", *COMBINATIONS), horizon=H, max_horizon=H,
                                     min_history_days=min_history).fit(hist.to_frame("x"))
        assert model.forecast_.shape == (1, H) and (model.forecast_ >= 0).all()
        ours.append(float(np.abs(model.forecast_[0] - test).mean() / scale))
        bar.append(_auto_ets_mase(y, test, scale))
    return ours, bar


def test_auto_is_at_or_below_auto_ets_on_cdnow_revenue():
    """CDNOW: a launch spike ten times the later level, then a slow decay; `auto` kept seasonal-naive,
    random forest or a weighted combination here and lost 0.74 vs 0.60."""
    ours, bar = _rolling(_cdnow(), windows=6, spacing=14, min_history=120)
    assert np.mean(ours) <= np.mean(bar), (ours, bar)


def test_auto_is_at_or_below_auto_ets_on_bread_basket():
    """Bread Basket: 162 days, so 6 windows 7 days apart on 97-132 days of history, closed over
    Christmas (and open for one sale on New Year's Day). It lost 0.664 vs 0.645 while its closures
    were refilled by week-earlier copies and the backtest picked among ETS variants it could not
    rank on such short fits; now the closures are refilled by a one-step forecast and the median
    of the three best stands in for the family (benchmarks/results/forecasting_auto.md)."""
    ours, bar = _rolling(_bread(), windows=6, spacing=7, min_history=90)
    assert np.mean(ours) <= np.mean(bar), (ours, bar)


def test_bread_basket_calendar_closes_christmas_and_the_one_sale_new_year():
    s = _bread()
    cal = detect_calendar(s.to_numpy(), np.datetime64(s.index[0].date(), "D"))
    assert cal.closed_weekdays == ()
    past = sorted(str(d) for d in cal.closed_dates if d <= np.datetime64(s.index[-1].date(), "D"))
    assert past == ["2016-12-25", "2016-12-26", "2017-01-01", "2017-01-02"]
    assert s.loc["2017-01-01"] == 1.0  # one sale: near-empty, not empty
