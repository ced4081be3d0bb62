"""Pareto/NBD on CDNOW's published sample: the parameters and per-customer figures of the reference fits."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml_predictions.errors import InvalidParameterError, NotFittedError
from ml_predictions.estimators.segmentation.clv_candidates import CANDIDATES, predict_candidate
from ml_predictions.estimators.segmentation.clv_data import purchase_history
from ml_predictions.estimators.segmentation.pareto_nbd import ParetoNBDModel
from tests.estimators.contract import check_estimator_contract
from tests.helpers import SHARED_DATA

CDNOW_SUMMARY = SHARED_DATA / "cdnow" / "cdnow_sample_summary.csv"


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    if not CDNOW_SUMMARY.exists():
        pytest.skip(f"CDNOW sample summary not found at {CDNOW_SUMMARY}")
    return pd.read_csv(CDNOW_SUMMARY)


def test_pareto_nbd_reproduces_the_cdnow_estimates(cdnow):
    model = ParetoNBDModel().fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert model.converged_ and model.n_customers_ == len(cdnow)
    # Fader & Hardie's Pareto/NBD note, and lifetimes' ParetoNBDFitter on the same file
    # (r 0.5534, alpha 10.578, s 0.6062, beta 11.667)
    published = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}
    for name, value in published.items():
        assert model.params_[name] == pytest.approx(value, rel=0.02), name
    assert model.log_likelihood_ == pytest.approx(-9595.0, abs=1.0)


def test_pareto_nbd_per_customer_figures_match_lifetimes(cdnow):
    model = ParetoNBDModel().fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    x, t_x, T = [0, 2, 5], [0, 30, 35], [38, 38, 38]
    # lifetimes 0.10.1: conditional_probability_alive / conditional_expected_number_of_purchases_up_to_time(39)
    assert model.probability_alive(x, t_x, T) == pytest.approx([0.30024, 0.87478, 0.95581], rel=0.005)
    assert model.expected_purchases(39, x, t_x, T) == pytest.approx([0.11056, 1.48668, 3.53303], rel=0.005)
    # more recent buyers are likelier alive; zero horizon, zero purchases
    assert np.all(np.diff(model.probability_alive([3, 3, 3], [10, 20, 30], [38, 38, 38])) > 0)
    assert model.expected_purchases(0, x, t_x, T).tolist() == [0, 0, 0]


def test_pareto_nbd_follows_the_estimator_contract(cdnow):
    check_estimator_contract(
        lambda: ParetoNBDModel(penalizer=1e-6),
        lambda est: est.fit(cdnow["x"], cdnow["t_x"], cdnow["T"]),
        lambda est: est.probability_alive(cdnow["x"], cdnow["t_x"], cdnow["T"]),
        lambda est: est.expected_purchases(10, [1], [1], [2]),
    )
    with pytest.raises(NotFittedError):
        ParetoNBDModel().probability_alive([1], [1], [2])
    with pytest.raises(InvalidParameterError):
        ParetoNBDModel().fit([1], [5], [2])  # t_x after T


def test_pareto_nbd_is_a_selection_candidate():
    assert "pnbd_gamma_gamma" in CANDIDATES
    rng = np.random.default_rng(3)
    rows = []
    for c in range(120):
        days = np.sort(rng.choice(300, size=1 + rng.poisson(3), replace=False))
        rows += [(f"c{c}", pd.Timestamp("2025-01-01", tz="UTC") + pd.Timedelta(days=int(d)), 10.0 + c % 7)
                 for d in days]
    tx = pd.DataFrame(rows, columns=["customer_id", "ordered_at", "amount"])
    history = purchase_history(tx, end="2025-11-01", product_col=None)
    pred, details = predict_candidate("pnbd_gamma_gamma", history, history.end - 60, 60)
    assert {"r", "alpha", "s", "beta", "p", "q", "gamma"} <= set(details)
    assert len(pred) > 100 and (pred >= 0).all() and pred.sum() > 0
