"""Segment changes and realised CLV between two runs, on numbers worked out by hand."""
from __future__ import annotations

import pandas as pd
import pytest

from ml_predictions.estimators.segmentation.drift import (
    clv_realised,
    discount_sum,
    is_drifting,
    segment_changes,
    window_factor,
)


def _runs() -> tuple[pd.DataFrame, pd.DataFrame]:
    before = pd.DataFrame({"segment_type": ["vip", "vip", "frequent", "at_risk"],
                           "cluster_name": ["vip", "vip", "frequent", "at_risk"]}, index=["a", "b", "c", "d"])
    after = pd.DataFrame({"segment_type": ["vip", "at_risk", "frequent", "new"],
                          "cluster_name": ["vip", "at_risk", "frequent_2", "new"]}, index=["a", "b", "c", "e"])
    return before, after


def test_segment_changes_count_movers_new_and_gone():
    out = segment_changes(*_runs())
    assert (out["n_previous"], out["n_current"], out["n_common"], out["n_new"], out["n_gone"]) == (4, 4, 3, 1, 1)
    assert out["n_changed_segment_type"] == 1  # b: vip -> at_risk
    assert out["n_changed_cluster_name"] == 2  # b, and c's cluster renamed within the same type
    assert out["changed_share"] == pytest.approx(1 / 3, abs=1e-4)
    cells = {(t["from"], t["to"]): t["customers"] for t in out["transitions"]}
    assert cells == {("vip", "vip"): 1, ("vip", "at_risk"): 1, ("frequent", "frequent"): 1}


def test_window_factor_brings_a_horizon_clv_to_the_window():
    assert discount_sum(2, 0.0) == 2.0
    assert discount_sum(2, 0.1) == pytest.approx(1 / 1.1 + 1 / 1.21)
    # 12 undiscounted months at a flat rate: 30.4375 days are one twelfth of the CLV
    assert window_factor(30.4375, 12, 0.0) == pytest.approx(1 / 12)


def test_clv_realised_against_known_revenue():
    clv = pd.Series([1200.0, 600.0, 0.0, 2400.0], index=["a", "b", "c", "d"])
    revenue = pd.Series([50.0, 150.0, 999.0], index=["a", "b", "zz"])  # zz was not in the run: ignored
    out = clv_realised(clv, revenue, window_days=30.4375, horizon_months=12, monthly_discount=0.0)
    # predicted window revenue 100, 50, 0, 200 against actual 50, 150, 0, 0
    assert out["n_customers"] == 4 and out["n_buyers"] == 2
    assert out["total_predicted"] == 350.0 and out["total_actual"] == 200.0
    assert out["mae"] == pytest.approx((50 + 100 + 0 + 200) / 4)
    # ranks: predicted (3, 2, 1, 4), actual (3, 4, 1.5, 1.5) -> Pearson of the ranks
    assert out["spearman"] == pytest.approx(pd.Series([3, 2, 1, 4]).corr(pd.Series([3, 4, 1.5, 1.5])), abs=1e-4)


def test_drift_rule():
    assert is_drifting(126.0, 100.0, 0.25) and not is_drifting(125.0, 100.0, 0.25)
    assert not is_drifting(None, 100.0, 0.25) and not is_drifting(500.0, None, 0.25) and not is_drifting(5.0, 0.0, 0.25)
