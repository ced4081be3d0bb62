"""Per-series demand class and method (demand.py) and the level reconciliation (hierarchy.py), on
hand-built series whose right answer is known."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats

from ml_predictions.estimators.forecasting import intermittent as im
from ml_predictions.estimators.forecasting.calendar import OpenCalendar
from ml_predictions.estimators.forecasting.demand import assign_methods, backtest_origins, nb_band
from ml_predictions.estimators.forecasting.hierarchy import reconcile_levels
from ml_predictions.estimators.forecasting.reconcile import reconcile, summing_matrix

T, H, MAX_H = 200, 28, 60
FIRST = np.datetime64("2025-01-06")  # a Monday
OPEN = OpenCalendar()


def _fitted(values: np.ndarray, model_error: float | np.ndarray, name: str = "random_forest") -> SimpleNamespace:
    """A stand-in for a fitted level model: a forecast table of 5s, errors of `model_error` per day."""
    n = values.shape[0]
    err = np.broadcast_to(np.asarray(model_error, dtype=float).reshape(-1, 1), (n, H))
    origins = backtest_origins(T, H)
    return SimpleNamespace(
        forecast_=np.full((n, MAX_H), 5.0, np.float32), lower_=np.full((n, MAX_H), 1.0, np.float32),
        upper_=np.full((n, MAX_H), 9.0, np.float32), model_type_=name, metrics_={},
        backtest_errors_={o: err.astype(np.float32).copy() for o in origins})


def _series(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    intermittent = np.where(rng.random(T) < 0.2, 2.0, 0.0)                      # ADI ~5, constant size
    lumpy = np.where(rng.random(T) < 0.2, rng.choice([1.0, 30.0], T), 0.0)      # ADI ~5, sizes vary
    stopped = np.where((np.arange(T) < 100) & (rng.random(T) < 0.3), rng.choice([1.0, 20.0], T), 0.0)
    return {"smooth": rng.poisson(20, T).astype(float), "intermittent": intermittent, "lumpy": lumpy,
            "stopped": stopped, "never": np.zeros(T)}


def test_classes_and_the_method_each_class_gets():
    s = _series()
    values = np.vstack(list(s.values()))
    model = _fitted(values, model_error=50.0)  # the model errs badly everywhere
    assign_methods(model, values, FIRST, OPEN, interval_level=0.95, horizon=H)
    got = dict(zip(s, zip(model.demand_class_, model.method_, strict=True), strict=True))
    # smooth keeps the level's model even where it errs: Croston is not offered to smooth demand
    assert got["smooth"] == ("smooth", "random_forest")
    assert got["intermittent"][0] == "intermittent" and got["intermittent"][1] in im.METHODS
    assert got["lumpy"][0] == "lumpy" and got["lumpy"][1] in im.METHODS
    # demand that stopped 100 days ago: TSB's probability decays, Croston and SBA keep the old rate
    assert got["stopped"] == ("lumpy", "tsb")
    assert got["never"] == ("none", "none")
    i = list(s).index("intermittent")
    rate = im.rate(values[i], method=got["intermittent"][1])[0]
    np.testing.assert_allclose(model.forecast_[i], rate, rtol=1e-5)  # a flat rate, replacing the 5s
    hi = stats.poisson.ppf(0.975, rate)  # sizes of 2 make it over-dispersed: at least Poisson's band
    assert model.lower_[i, 0] == 0 and 1 <= model.upper_[i, 0] <= 8 and hi <= model.upper_[i, 0]
    assert not model.forecast_[list(s).index("never")].any()
    assert model.metrics_["demand"]["classes"] == {"intermittent": 1, "lumpy": 2, "none": 1, "smooth": 1}
    # the replaced series' backtest errors are the Croston-family method's, not the model's
    first = min(model.backtest_errors_)
    assert not np.allclose(model.backtest_errors_[first][i], 50.0)


def test_an_accurate_model_keeps_the_sparse_series():
    s = _series(1)
    values = np.vstack([s["intermittent"], s["lumpy"]])
    model = _fitted(values, model_error=0.0)
    assign_methods(model, values, FIRST, OPEN, interval_level=0.95, horizon=H)
    assert model.method_ == ["random_forest", "random_forest"]
    assert (model.forecast_ == 5.0).all()


def test_closed_weekdays_get_zero_and_the_rate_is_per_open_day():
    days = np.arange(T)
    sunday = (days % 7) == 6
    y = np.where(~sunday & (days % 3 == 0), 3.0, 0.0)[None, :]
    model = _fitted(y, model_error=40.0)
    cal = OpenCalendar(closed_weekdays=(6,))
    assign_methods(model, y, FIRST, cal, interval_level=0.95, horizon=H)
    assert model.demand_class_ == ["intermittent"]
    future_sunday = ((T + np.arange(MAX_H)) % 7) == 6
    assert (model.forecast_[0, future_sunday] == 0).all() and (model.upper_[0, future_sunday] == 0).all()
    rate = im.rate(y[:, ~sunday], method=model.method_[0])[0]
    np.testing.assert_allclose(model.forecast_[0, ~future_sunday], rate, rtol=1e-5)


def test_without_backtest_windows_sparse_series_choose_among_the_croston_family():
    s = _series(2)
    values = s["intermittent"][None, :]
    model = _fitted(values, 0.0)
    model.backtest_errors_ = {}
    assign_methods(model, values, FIRST, OPEN, interval_level=0.95, horizon=H)
    assert model.method_[0] in im.METHODS


def test_negative_binomial_band():
    lo, hi = nb_band(np.array([0.0, 0.5, 0.5, 4.0]), np.array([1.0, 1.0, 3.0, 1.0]), 0.95)
    assert (lo[0], hi[0]) == (0, 0)
    assert hi[1] == stats.poisson.ppf(0.975, 0.5) and hi[3] == stats.poisson.ppf(0.975, 4.0)
    assert hi[2] > hi[1]  # over-dispersed: the same mean, a wider band
    assert (lo <= np.array([0.0, 0.5, 0.5, 4.0])).all()


def test_mint_clipping_keeps_the_category_value():
    S, names = summing_matrix(["a", "a", "a"])
    rng = np.random.default_rng(0)
    resid = np.asarray(S @ rng.normal(0, [[5], [0.1], [0.1]], (3, 60)))
    base = np.array([[10.0], [10.0], [9.0], [0.0], [0.0]])  # the products miss one unit the tops agree on
    out, report = reconcile(base, S, method="mint_shrink", residuals=resid)
    assert (out >= 0).all() and out[0, 0] == pytest.approx(out[2:, 0].sum())
    assert out[1, 0] == pytest.approx(out[2:, 0].sum())


def _level(series: list[str], forecast: np.ndarray, errors: dict[int, np.ndarray] | None = None):
    m = SimpleNamespace(series_=series, series_index_={k: i for i, k in enumerate(series)},
                        forecast_=forecast.astype(np.float32), lower_=(forecast * 0.5).astype(np.float32),
                        upper_=(forecast * 2).astype(np.float32), forecast_start_="2025-08-01",
                        backtest_errors_=errors or {})
    return m


def test_reconcile_levels_falls_back_to_bottom_up_and_adds_up():
    rng = np.random.default_rng(3)
    prods = ["p1", "p2", "p3"]
    levels = {
        "total": {t: _level(["total"], np.full((1, 5), 20.0)) for t in ("units", "revenue")},
        "category": {t: _level(["a", "b"], np.array([[8.0] * 5, [9.0] * 5])) for t in ("units", "revenue")},
        "product": {"units": _level(prods, rng.uniform(1, 5, (3, 5)))},
    }
    report, revenue = reconcile_levels(levels, product_category={"p1": "a", "p2": "a", "p3": "b"},
                                       price={"p1": 2.0, "p2": 1.0, "p3": 3.0})
    assert report["method"] == "bottom_up" and "share no backtest window" in report["units"]["fallback_reason"]
    units = levels["product"]["units"].forecast_
    np.testing.assert_allclose(levels["total"]["units"].forecast_[0], units.sum(0), rtol=1e-6)
    np.testing.assert_allclose(levels["category"]["units"].forecast_[0], units[:2].sum(0), rtol=1e-6)
    np.testing.assert_allclose(revenue["forecast"].sum(0), levels["total"]["revenue"].forecast_[0], rtol=1e-6)
    np.testing.assert_allclose(revenue["forecast"][0], units[0] * 2.0, rtol=1e-6)
    for lvl in levels.values():
        for m in lvl.values():
            assert (m.lower_ <= m.forecast_ + 1e-6).all() and (m.forecast_ <= m.upper_ + 1e-6).all()
    missing = {**levels, "category": {t: _level(["a"], np.ones((1, 5))) for t in ("units", "revenue")}}
    report, _ = reconcile_levels(missing, product_category={"p1": "a", "p2": "a", "p3": "b"}, price={})
    assert report["method"] == "none" and "category" in report["reason"]


def test_reconcile_levels_with_mint_on_shared_windows():
    rng = np.random.default_rng(4)
    def errs(k):
        return {100: rng.normal(0, 1, (k, 10)).astype(np.float32), 110: rng.normal(0, 1, (k, 10)).astype(np.float32)}

    levels = {
        "total": {t: _level(["total"], np.full((1, 5), 20.0), errs(1)) for t in ("units", "revenue")},
        "category": {t: _level(["a", "b"], np.array([[8.0] * 5, [9.0] * 5]), errs(2)) for t in ("units", "revenue")},
        "product": {"units": _level(["p1", "p2", "p3"], np.full((3, 5), 4.0), errs(3))},
    }
    report, revenue = reconcile_levels(levels, product_category={"p1": "a", "p2": "a", "p3": "b"},
                                       price={"p1": 1.0, "p2": 1.0, "p3": 1.0})
    assert report["method"] == "mint_shrink" and 0 <= report["units"]["shrinkage"] <= 1
    assert set(report["units"]["backtest_mae"]) == {"total", "category", "product"}
    units = levels["product"]["units"].forecast_
    np.testing.assert_allclose(levels["total"]["units"].forecast_[0], units.sum(0), rtol=1e-5)
    assert (units >= 0).all() and revenue["forecast"].shape == (3, 5)
    big, _ = reconcile_levels(levels, product_category={"p1": "a", "p2": "a", "p3": "b"}, price={}, max_nodes=3)
    assert big["method"] == "bottom_up" and "limit" in big["units"]["fallback_reason"]
