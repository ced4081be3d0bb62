"""Reconciliation: sums hold at every level, nothing is negative, MinT moves the noisiest nodes most."""
from __future__ import annotations

import numpy as np
import pytest

from ml_predictions.errors import InvalidParameterError
from ml_predictions.estimators.forecasting.reconcile import reconcile, shrunk_covariance, summing_matrix

GROUPS = ["a", "a", "b", "b", "b"]


def _coherent(y: np.ndarray, groups=GROUPS) -> None:
    S, names = summing_matrix(groups)
    g = np.asarray(groups)
    bottom = y[1 + len(names):]
    np.testing.assert_allclose(y[0], bottom.sum(0), atol=1e-8)
    for i, name in enumerate(names):
        np.testing.assert_allclose(y[1 + i], bottom[g == name].sum(0), atol=1e-8)


def test_summing_matrix_rows():
    S, names = summing_matrix(GROUPS)
    assert names == ["a", "b"] and S.shape == (8, 5)
    np.testing.assert_array_equal(S.toarray()[:3], [[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [0, 0, 1, 1, 1]])
    np.testing.assert_array_equal(S.toarray()[3:], np.eye(5))


def test_bottom_up_sums_the_products():
    S, _ = summing_matrix(GROUPS)
    base = np.array([[100.0], [9], [9], [1], [2], [3], [4], [5]])
    out, report = reconcile(base, S, method="bottom_up")
    assert report["method"] == "bottom_up"
    np.testing.assert_allclose(out[:, 0], [15, 3, 12, 1, 2, 3, 4, 5])


def test_mint_is_coherent_non_negative_and_trusts_the_precise_nodes():
    rng = np.random.default_rng(0)
    S, _ = summing_matrix(GROUPS)
    T = 200
    bottom_err = rng.normal(0, 3.0, (5, T))           # noisy products
    resid = np.asarray(S @ bottom_err)
    resid[0] = rng.normal(0, 0.5, T)                  # a precise total model
    base = np.array([[60.0] * 3, [20] * 3, [30] * 3, [5] * 3, [5] * 3, [10] * 3, [10] * 3, [-4] * 3])
    out, report = reconcile(base, S, method="mint_shrink", residuals=resid)
    _coherent(out)
    assert (out >= 0).all() and 0 <= report["shrinkage"] <= 1
    # the total barely moves (its errors are small), the products absorb the difference
    assert abs(out[0, 0] - 60) < abs(out[0, 0] - base[3:, 0].sum())


def test_mint_clips_negatives_and_stays_coherent():
    S, _ = summing_matrix(GROUPS)
    rng = np.random.default_rng(2)
    resid = rng.normal(0, 1, (8, 100))
    base = np.array([[0.0], [0], [0], [-5], [1], [0], [0], [-3]])
    out, report = reconcile(base, S, method="mint_shrink", residuals=resid)
    _coherent(out)
    assert (out >= 0).all() and report["negatives_clipped"] >= 1


def test_shrinkage_goes_to_diagonal_for_independent_noise():
    rng = np.random.default_rng(3)
    noise = rng.normal(0, 2, (10, 60))
    W, lam = shrunk_covariance(noise)
    assert lam > 0.5
    np.testing.assert_allclose(np.diag(W), noise.var(1))
    same = rng.normal(0, 1, 300)
    W2, lam2 = shrunk_covariance(np.vstack([same, same + rng.normal(0, 0.01, 300)]))
    assert lam2 < 0.05 and W2[0, 1] > 0.9


def test_bad_input_names_the_field():
    S, _ = summing_matrix(GROUPS)
    with pytest.raises(InvalidParameterError) as err:
        reconcile(np.zeros((3, 2)), S, method="bottom_up")
    assert err.value.field == "base"
    with pytest.raises(InvalidParameterError) as err:
        reconcile(np.zeros((8, 2)), S, method="mint_shrink")
    assert err.value.field == "residuals"
    with pytest.raises(InvalidParameterError):
        reconcile(np.zeros((8, 2)), S, method="ols")


def test_projection_form_equals_the_classic_mint_and_can_keep_the_total():
    from ml_predictions.estimators.forecasting.reconcile import mint_adjust, mint_projection

    rng = np.random.default_rng(7)
    groups = ["a"] * 4 + ["b"] * 3 + ["c"] * 5
    S, _ = summing_matrix(groups)
    resid = np.asarray(S @ rng.normal(0, rng.uniform(0.2, 3, (12, 1)), (12, 40))) + rng.normal(0, 0.5, (16, 40))
    base = np.asarray(S @ rng.uniform(1, 5, (12, 6))) + rng.normal(0, 2, (16, 6))
    G, lam = mint_projection(S, resid)
    adjusted, lam2 = mint_adjust(base, S, resid)
    assert lam == pytest.approx(lam2)
    np.testing.assert_allclose(adjusted, np.asarray(S @ (G @ base)), rtol=1e-6, atol=1e-6)
    kept, _ = mint_adjust(base, S, resid, keep=(0,))
    np.testing.assert_allclose(kept[0], base[0], atol=1e-9)           # the total is not moved
    _coherent(kept, groups)                                           # and the rest adds up to it
    out, report = reconcile(base, S, residuals=resid, keep=(0,))
    assert (out >= 0).all()
    _coherent(out, groups)
