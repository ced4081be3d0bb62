"""BG/NBD + Gamma-Gamma by maximum likelihood: published CDNOW estimates, predictions, fallback."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml_predictions.errors import NotFittedError
from ml_predictions.estimators.segmentation.clv_candidates import ModifiedBetaGeoModel
from ml_predictions.estimators.segmentation.lifetime_value import BetaGeoModel, GammaGammaModel
from tests.estimators.contract import check_estimator_contract
from tests.helpers import SHARED_DATA

CDNOW_SUMMARY = SHARED_DATA / "cdnow" / "cdnow_sample_summary.csv"


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    if not CDNOW_SUMMARY.exists():
        pytest.skip(f"CDNOW sample summary not found at {CDNOW_SUMMARY}")
    return pd.read_csv(CDNOW_SUMMARY)


def test_bgnbd_reproduces_fader_hardie_lee_2005(cdnow):
    model = BetaGeoModel().fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert model.converged_
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():
        assert model.params_[name] == pytest.approx(value, rel=0.02), name
    assert model.log_likelihood_ == pytest.approx(-9582.4, abs=1.0)
    assert model.n_customers_ == len(cdnow)


def test_gamma_gamma_reproduces_fader_hardie_cdnow_spend(cdnow):
    model = GammaGammaModel().fit(cdnow["x"], cdnow["zbar"])
    assert model.converged_ and model.n_customers_ == 946
    for name, value in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items():
        assert model.params_[name] == pytest.approx(value, rel=0.02), name
    # the conditional expectation shrinks a customer's mean spend toward the population mean
    pop = model.params_["p"] * model.params_["gamma"] / (model.params_["q"] - 1)
    value = model.expected_average_value([1, 20, 0], [100.0, 100.0, 0.0])
    assert pop < value[0] < value[1] < 100.0 and value[2] == pytest.approx(pop)


def test_predictions_behave(cdnow):
    model = BetaGeoModel().fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    # no repeat purchase -> alive by construction; a long silence after many purchases -> likely gone
    p = model.probability_alive([0, 5, 5], [0, 38, 5], [39, 39, 39])
    assert p[0] == 1.0 and p[1] > 0.85 and p[2] < 0.3 and p[1] > 3 * p[2]
    e = model.expected_purchases(52, [2, 2], [30.43, 30.43], [38.86, 38.86])
    assert e[0] == e[1] and 0 < e[0] < 3
    assert (model.expected_purchases(104, [2], [30.43], [38.86]) > e[0]).all()
    # population check: 2,357 customers made 2,457 repeat purchases in the 39 calibration weeks; the
    # next 39 weeks must forecast fewer (dropout) but of the same order
    assert cdnow["x"].sum() == 2457
    total = model.expected_purchases(39, cdnow["x"], cdnow["t_x"], cdnow["T"]).sum()
    assert 1300 < total < 2200
    with pytest.raises(NotFittedError):
        BetaGeoModel().probability_alive([1], [1], [2])


def test_identical_rows_are_merged_with_weights():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, 400).astype(float)
    T = np.full(400, 50.0)
    t_x = np.where(x > 0, np.round(rng.uniform(1, 50, 400)), 0.0)
    once = BetaGeoModel().fit(x, t_x, T)
    twice = BetaGeoModel().fit(np.tile(x, 2), np.tile(t_x, 2), np.tile(T, 2))
    for name in once.params_:
        assert twice.params_[name] == pytest.approx(once.params_[name], rel=1e-4)


@pytest.mark.parametrize("make", [BetaGeoModel, ModifiedBetaGeoModel])
def test_purchase_models_follow_the_estimator_contract(cdnow, make):
    check_estimator_contract(
        lambda: make(penalizer=1e-6),
        lambda est: est.fit(cdnow["x"], cdnow["t_x"], cdnow["T"]),
        lambda est: est.probability_alive(cdnow["x"], cdnow["t_x"], cdnow["T"]),
        lambda est: est.expected_purchases(10, [1], [1], [2]),
    )


def test_gamma_gamma_follows_the_estimator_contract(cdnow):
    check_estimator_contract(
        lambda: GammaGammaModel(penalizer=1e-6),
        lambda est: est.fit(cdnow["x"], cdnow["zbar"]),
        lambda est: est.expected_average_value(cdnow["x"], cdnow["zbar"]),
        lambda est: est.expected_average_value([1], [10.0]),
    )


def test_analytic_gradients_match_finite_differences(cdnow):
    from scipy.optimize import approx_fprime

    from ml_predictions.estimators.segmentation.lifetime_value import _bgnbd_ll, _bgnbd_ll_grad

    x, t_x, T = (cdnow[c].to_numpy(float) for c in ("x", "t_x", "T"))
    for point in ([0.3, 5.0, 0.7, 2.0], [1.5, 60.0, 0.2, 3.0]):
        p0 = np.array(point)
        _, grad = _bgnbd_ll_grad(p0, x, t_x, T)
        numeric = approx_fprime(p0, lambda p: _bgnbd_ll(p, x, t_x, T).sum(), 1e-7)
        assert grad.sum(axis=1) == pytest.approx(numeric, rel=1e-3, abs=1e-2)
