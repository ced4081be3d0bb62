"""Intermittent demand kernels checked against hand-computed values, and on a real mostly-zero series."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml_predictions.errors import InvalidParameterError
from ml_predictions.estimators.forecasting import intermittent as im
from tests.helpers import SHARED_DATA

Y = np.array([0, 0, 3, 0, 5, 0, 0, 0], dtype=float)


def test_croston_and_sba_by_hand():
    # first demand day 2: size 3, interval 3; day 4: size 3 + .5 * 2 = 4, interval 3 + .5 * (2 - 3) = 2.5
    assert im.rate(Y, method="croston", alpha=0.5)[0] == pytest.approx(4 / 2.5)
    assert im.rate(Y, method="sba", alpha=0.5)[0] == pytest.approx(0.75 * 4 / 2.5)


def test_tsb_by_hand_decays_after_the_last_sale():
    # p = 1/3 at the first sale; then .5-smoothed each day: 1/6, 7/12, 7/24, 7/48, 7/96; size 4
    assert im.rate(Y, method="tsb", alpha=0.5, beta=0.5)[0] == pytest.approx(7 / 96 * 4)
    longer = np.concatenate([Y, np.zeros(20)])
    assert im.rate(longer, method="tsb", alpha=0.5, beta=0.5)[0] < 1e-6
    assert im.rate(longer, method="croston", alpha=0.5)[0] == pytest.approx(1.6)  # Croston never decays


def test_rates_at_cuts_equal_refits_on_the_prefix():
    rng = np.random.default_rng(0)
    y = rng.poisson(0.3, size=(5, 120)) * rng.integers(1, 6, size=(5, 120))
    cuts = [30, 60, 119, 120]
    for method in im.METHODS:
        at = im.rates_at(y, cuts, method=method)
        for i, cut in enumerate(cuts):
            np.testing.assert_allclose(at[i], im.rate(y[:, :cut], method=method))


def test_syntetos_boylan_classes():
    smooth = np.array([5, 6, 5, 4, 5, 6, 5, 5.0])           # ADI 1, CV² small
    erratic = np.array([1, 20, 1, 30, 2, 1, 25, 1.0])        # ADI 1, CV² large
    intermittent = Y                                          # ADI 4, CV² 1/16
    lumpy = np.array([0, 0, 1, 0, 0, 40, 0, 0.0])            # ADI 4, CV² large
    never = np.zeros(8)
    adi, cv2 = im.adi_cv2(np.vstack([intermittent]))
    assert adi[0] == 4 and cv2[0] == pytest.approx(1 / 16)
    classes = im.classify(np.vstack([smooth, erratic, intermittent, lumpy, never]))
    assert list(classes) == ["smooth", "erratic", "intermittent", "lumpy", "none"]
    # ADI exactly 1.32 (25 sales in 33 days) is on the sparse side of the cut; 25 in 32 days (1.28) is not
    at_cut = np.array([1.0] * 25 + [0.0] * 8)
    below = np.array([1.0] * 25 + [0.0] * 7)
    assert im.adi_cv2(at_cut)[0][0] == pytest.approx(1.32)
    assert list(im.classify(np.vstack([at_cut]))) == ["intermittent"]
    assert list(im.classify(np.vstack([below]))) == ["smooth"]


def test_never_negative_and_zero_without_demand():
    y = np.array([[0, 0, 0, 0.0], [-3, 2, 0, 1]])  # a return (negative) is not demand
    for method in im.METHODS:
        r = im.rate(y, method=method)
        assert r[0] == 0 and (r >= 0).all()


def test_choose_keeps_the_incumbent_where_it_wins():
    rng = np.random.default_rng(1)
    y = (rng.random((3, 200)) < 0.2) * 4.0
    origins = [120, 140, 160]
    scores = im.backtest_mae(y, origins, 30)
    best = np.min(np.vstack(list(scores.values())), axis=0)
    chosen, final = im.choose(y, origins, 30, other_mae=np.array([0.0, best[1] + 1, best[2] + 1]))
    assert chosen[0] == "model" and np.isnan(final[0])
    assert chosen[1] in im.METHODS and final[1] == pytest.approx(im.rate(y[1:2], method=chosen[1])[0])


def test_bad_parameters_name_the_field():
    with pytest.raises(InvalidParameterError) as err:
        im.rate(Y, method="holt")
    assert err.value.field == "method"
    with pytest.raises(InvalidParameterError):
        im.rate(Y, alpha=0.0)
    with pytest.raises(InvalidParameterError):
        im.backtest_mae(Y, [7], 30)


BREAD = SHARED_DATA / "bread_basket"


@pytest.mark.slow
@pytest.mark.eval
def test_bread_basket_items_are_intermittent_and_the_croston_family_beats_a_flat_mean():
    """Real data: the bakery's daily item counts; the rarer items are intermittent/lumpy and the
    chosen Croston-family method errs less than the 28-day mean over rolling origins."""
    files = sorted(BREAD.glob("*.csv"))
    if not files:
        pytest.skip("Bread Basket data not present")
    raw = pd.read_csv(files[0])
    cols = {c.lower(): c for c in raw.columns}
    item = cols.get("item")
    stamp = cols.get("date_time") or cols.get("datetime") or cols.get("date")
    if item is None or stamp is None:
        pytest.skip(f"unexpected columns {list(raw.columns)}")
    day = pd.to_datetime(raw[stamp], errors="coerce").dt.normalize()
    counts = raw.assign(day=day).groupby([item, "day"]).size().unstack(fill_value=0)
    counts = counts.reindex(columns=pd.date_range(counts.columns.min(), counts.columns.max()), fill_value=0)
    y = counts.to_numpy(dtype=float)
    classes = im.classify(y)
    sparse = np.isin(classes, ["intermittent", "lumpy"])
    assert sparse.sum() >= 20, dict(zip(*np.unique(classes, return_counts=True), strict=True))
    T = y.shape[1]
    origins = [T - 28 - 14 * k for k in range(4)]
    actual = np.stack([y[sparse, o:o + 28] for o in origins])
    mean28 = np.stack([y[sparse, o - 28:o].mean(1) for o in origins])
    naive_mae = np.abs(actual - mean28[:, :, None]).mean()
    scores = im.backtest_mae(y[sparse], origins, 28)
    best = min(float(v.mean()) for v in scores.values())
    assert best < naive_mae
