"""The scikit-learn estimator contract every estimator of ours must pass (issue: real estimators).

Each capability's contract test calls `check_estimator_contract` with a factory, the fit arguments
and a function that turns a fitted estimator into comparable numbers.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError as SklearnNotFittedError

from ml_predictions.errors import NotFittedError


def _as_comparable(value: Any) -> Any:
    if isinstance(value, (pd.DataFrame, pd.Series)):
        return value.to_numpy()
    return np.asarray(value)


def check_estimator_contract(
    make: Callable[[], BaseEstimator],
    fit: Callable[[BaseEstimator], BaseEstimator],
    output: Callable[[BaseEstimator], Any],
    unfitted_call: Callable[[BaseEstimator], Any],
) -> None:
    """clone, get/set_params round trip, fit returns self, same seed -> same output, unfitted -> NotFittedError."""
    est = make()
    assert isinstance(est, BaseEstimator)
    params = est.get_params()
    cloned = clone(est)
    assert cloned.get_params().keys() == params.keys()
    assert cloned is not est
    est.set_params(**params)
    assert est.get_params().keys() == params.keys()
    with pytest.raises(NotFittedError) as info:
        unfitted_call(make())
    assert isinstance(info.value, SklearnNotFittedError)
    first = make()
    assert fit(first) is first
    second = fit(clone(first))
    np.testing.assert_allclose(
        _as_comparable(output(first)).astype(float), _as_comparable(output(second)).astype(float), rtol=1e-9, atol=1e-12
    )
