"""CLV diagnostics: JSON twins with checked numbers, and PNG charts that decode."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from matplotlib import image as mpimg

from ml_predictions.capabilities.segmentation.trainer import net_purchase_lines
from ml_predictions.data import get_data_source
from tests.helpers import PNG_MAGIC, assert_error
from tests.shared import SegmentedSmallShop

pytestmark = pytest.mark.django_db
BASE = "/api/ml/segments/diagnostics/"


def _purchase_days() -> pd.DataFrame:
    lines = net_purchase_lines(get_data_source())[0].lines  # what the trainer counts: refunds netted
    value = lines["quantity"] * lines["unit_price"]
    day = pd.to_datetime(lines["ordered_at"], utc=True).dt.floor("D")
    daily = pd.DataFrame({"c": lines["customer_id"], "d": day, "v": value}).groupby(["c", "d"])["v"].sum()
    return daily[daily > 0].reset_index()


def test_diagnostics_errors(small_shop, staff_client):
    assert_error(staff_client.get(BASE + "calibration/"), 409, "segmentation")
    assert_error(staff_client.get(BASE + "cumulative/?calc_date=soon"), 400, "calc_date")


class TestTrainedSegmentation(SegmentedSmallShop):
    """Read-only tests of one k=6 segmentation of the small shop, trained once."""

    def test_calibration_vs_holdout_counts_the_calibration_cohort(self, trained, staff_client):
        body = staff_client.get(BASE + "calibration/").json()
        assert body["success"] is True and body["model_id"] == trained["model_id"]
        holdout = trained["clv_selection"]["holdout_days"]
        cal_end = pd.Timestamp("2026-07-01", tz="UTC") - pd.Timedelta(days=holdout)
        days = _purchase_days()
        before = days[days["d"] < cal_end]
        cohort = before.groupby("c").size() - 1  # repeat purchase days in the calibration period
        after = days[days["d"] >= cal_end].groupby("c").size().reindex(cohort.index, fill_value=0)
        assert sum(b["customers"] for b in body["buckets"]) == len(cohort)
        zero = next(b for b in body["buckets"] if b["frequency"] == "0")
        assert zero["customers"] == int((cohort == 0).sum())
        assert zero["actual"] == pytest.approx(after[cohort == 0].mean())
        expected = [b["expected"] for b in body["buckets"]]
        assert expected[-1] > expected[1]  # the heaviest buyers are expected to buy most
        total_actual = sum(b["customers"] * b["actual"] for b in body["buckets"])
        total_expected = sum(b["customers"] * b["expected"] for b in body["buckets"])
        assert total_expected == pytest.approx(total_actual, rel=0.3)


    def test_probability_alive_matrix_shape_and_monotonicity(self, trained, staff_client):
        body = staff_client.get(BASE + "p-alive/").json()
        alive = np.array(body["p_alive"])
        assert alive.shape == (len(body["frequency"]), len(body["recency_days"])) and alive.shape[1] == 20
        assert ((alive >= 0) & (alive <= 1)).all()
        # a repeat buyer whose last purchase is recent is more likely alive; so is a frequent one at the same recency
        assert (np.diff(alive[1:], axis=1) >= -1e-9).all()
        assert alive[-1, -1] > 0.9 and alive[-1, 0] < alive[1, 0]


    def test_cumulative_purchases_follow_the_data(self, trained, staff_client):
        body = staff_client.get(BASE + "cumulative/").json()
        actual, expected = np.array(body["actual"]), np.array(body["expected"])
        assert (np.diff(actual) >= 0).all() and (np.diff(expected) >= -1e-6).all() and body["day"][0] == 0
        days = _purchase_days()
        holdout = trained["clv_selection"]["holdout_days"]
        cal_end = pd.Timestamp("2026-07-01", tz="UTC") - pd.Timedelta(days=holdout)
        cohort = days.groupby("c")["d"].min()
        cohort = cohort[cohort < cal_end].index
        assert body["customers"] == len(cohort)
        assert actual[-1] == len(days[days["c"].isin(cohort)]) - len(cohort)  # every purchase day after the first
        assert expected[-1] == pytest.approx(actual[-1], rel=0.35)  # the model tracks the shop's repeat buying


    @pytest.mark.parametrize("kind", ["calibration", "p-alive", "cumulative"])
    def test_diagnostic_charts_are_pngs(self, trained, staff_client, kind):
        res = staff_client.get(f"{BASE}{kind}/plot/")
        assert res.status_code == 200 and res["Content-Type"] == "image/png" and res.content.startswith(PNG_MAGIC)
        pixels = mpimg.imread(io.BytesIO(res.content), format="png")
        assert pixels.shape[0] > 400 and pixels.shape[1] > 600 and pixels.std() > 0.05  # a drawn chart, not blank
