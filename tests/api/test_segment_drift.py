"""Segment and CLV drift per retrain, on a shop whose future is known (train, later orders, retrain)."""
from __future__ import annotations

import copy
import logging
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from backend_django.shop.generator import write_shop
from backend_django.shop.models import Customer, Order, OrderItem, Product
from ml_predictions.capabilities.segmentation.trainer import net_purchase_lines
from ml_predictions.data import get_data_source
from ml_predictions.models import CustomerSegmentHistory, MLModel, MLTrainingLog
from tests.conftest import small_shop_data
from tests.helpers import assert_error
from tests.shared import build_shared, use_shared_artifacts

pytestmark = pytest.mark.django_db
URL = "/api/ml/segment-drift/"


def _train(client, **body):
    res = client.post("/api/ml/train-customer-segmentation/", {"n_clusters": 6, **body}, format="json")
    assert res.status_code == 200, res.content[:500]
    return res.json()


def _history(run_id: str) -> pd.DataFrame:
    rows = CustomerSegmentHistory.objects.filter(run_id=run_id).values("customer_id", "segment_type", "cluster_name",
                                                                         "clv", "monetary")
    return pd.DataFrame(list(rows)).set_index("customer_id")


def _expected_clv(run: dict, start: str, stop: str) -> dict:
    """The check recomputed here: the run's CLV at its own average monthly rate against the revenue spent."""
    clv = run["metrics"]["clv"]
    months, rate = clv["horizon_months"], clv["monthly_discount_rate"]
    factor = clv["selection"]["holdout_days"] / 30.4375 / sum(1 / (1 + rate) ** m for m in range(1, months + 1))
    rows = _history(run["model_id"])
    rows = rows[(rows["clv"] > 0) | (rows["monetary"] > 0)]
    lines = net_purchase_lines(get_data_source())[0].lines  # what the trainer counts: refunds netted
    when = pd.to_datetime(lines["ordered_at"], utc=True)
    inside = lines[(when >= pd.Timestamp(start, tz="UTC")) & (when < pd.Timestamp(stop, tz="UTC"))]
    spent = (inside["quantity"].astype(float) * inside["unit_price"].astype(float)).groupby(
        inside["customer_id"].astype(str)).sum()
    predicted = rows["clv"].to_numpy() * factor
    actual = spent.reindex(rows.index).fillna(0).to_numpy()
    return {"n_customers": len(rows), "spearman": spearmanr(predicted, actual)[0],
            "mae": np.abs(predicted - actual).mean(), "total_predicted": predicted.sum(), "total_actual": actual.sum()}


@pytest.fixture(scope="class")
def shop_with_march_run(django_db_setup, django_db_blocker, tmp_path_factory):
    """The small shop written and segmented as of 2026-03-01 (a run whose 90-day CLV window is over by the
    shop's last day), once for the class below; each test makes its own second run."""
    def build(client):
        write_shop(small_shop_data())
        return None, _train(client, calc_date="2026-03-01")

    with build_shared(django_db_blocker, tmp_path_factory.mktemp("segment_drift"), build) as shared:
        yield shared


def test_a_recent_run_is_pending_until_its_window_is_over(small_shop, staff_client):
    _train(staff_client, calc_date="2026-06-01")
    second = _train(staff_client)
    clv = second["metrics"]["drift"]["clv"]
    window = clv["window_days"]
    assert clv["status"] == "pending" and clv["calc_date"] == "2026-06-01"
    assert clv["available_from"] == str(pd.Timestamp("2026-06-01").date() + pd.Timedelta(days=window))
    assert second["metrics"]["drift"]["segments"]["n_common"] > 0


def test_drift_errors(db, staff_client):
    assert_error(staff_client.get(URL), 404, "train")
    assert_error(staff_client.get(URL, {"model_id": "nope"}), 400, "model_id")
    MLModel.objects.all().delete()
    assert_error(staff_client.get(URL, {"model_id": "6f1c2c1e-8a5e-4f8e-9d52-2b1f8d0f7a10"}), 404, "model_id")


class TestAfterAMarchRun:
    """Tests of a second segmentation run after one stored 2026-03-01 run of the small shop, made once."""

    @pytest.fixture
    def march_run(self, shop_with_march_run, db, settings):
        use_shared_artifacts(shop_with_march_run, settings)
        return copy.deepcopy(shop_with_march_run.value[1])

    def test_retrain_stores_segment_changes_and_the_realised_clv(self, march_run, staff_client):
        first = march_run
        assert first["metrics"]["drift"] == {"segments": None, "clv": {"status": "no_earlier_run"}}
        second = _train(staff_client)  # 2026-07-01: the March run's 90-day window is over
        drift = second["metrics"]["drift"]
        assert second["drift"] == drift  # also in the train response

        before, after = _history(first["model_id"]), _history(second["model_id"])
        common = before.index.intersection(after.index)
        moved = (before.loc[common, "segment_type"] != after.loc[common, "segment_type"]).sum()
        seg = drift["segments"]
        assert seg["previous_model_id"] == first["model_id"] and seg["previous_calc_date"] == "2026-03-01"
        assert (seg["n_common"], seg["n_changed_segment_type"]) == (len(common), moved)
        assert seg["n_new"] == len(after.index.difference(before.index)) > 0  # customers who joined after March
        assert sum(t["customers"] for t in seg["transitions"]) == len(common)
        assert seg["changed_share"] == pytest.approx(moved / len(common), abs=1e-4)

        clv = drift["clv"]
        window = first["metrics"]["clv"]["selection"]["holdout_days"]
        assert clv["status"] in ("ok", "drifting") and clv["model_id"] == first["model_id"]
        assert clv["window_days"] == window and clv["window_end"] == str(pd.Timestamp("2026-03-01").date()
                                                                         + pd.Timedelta(days=window))
        want = _expected_clv(first, "2026-03-01", clv["window_end"])
        assert clv["n_customers"] == want["n_customers"]
        assert clv["spearman"] == pytest.approx(want["spearman"], abs=1e-4) and clv["spearman"] > 0.2
        assert clv["mae"] == pytest.approx(want["mae"], rel=1e-4)
        assert clv["total_actual"] == pytest.approx(want["total_actual"], abs=0.01) and clv["total_actual"] > 0
        assert clv["total_predicted"] == pytest.approx(want["total_predicted"], rel=1e-4)
        chosen = first["metrics"]["clv"]["selection"]["chosen"]
        assert clv["holdout_mae"] == first["metrics"]["clv"]["selection"]["candidates"][chosen]["mae"]

        res = staff_client.get(URL)
        assert res.status_code == 200, res.content[:300]
        body = res.json()
        assert body["model_id"] == second["model_id"] and body["segments"] == seg and body["clv"] == clv
        assert [h["version"] for h in body["history"]] == [2, 1]
        assert body["history"][0]["clv_spearman"] == clv["spearman"] and body["history"][1]["clv_status"] == "no_earlier_run"
        old = staff_client.get(URL, {"model_id": first["model_id"]}).json()
        assert old["version"] == 1 and old["segments"] is None


    def test_clv_drift_alert_fires_when_the_future_departs_from_the_promise(self, march_run, staff_client, caplog):
        first = march_run
        # the known future: the 25 customers the March run valued least each spend 20,000 in April
        rows = _history(first["model_id"])
        low = rows[rows["monetary"] > 0].sort_values("clv").index[:25]
        product = Product.objects.first()
        for i, cid in enumerate(low):
            order = Order.objects.create(customer=Customer.objects.get(pk=cid),
                                         created_at=datetime(2026, 4, 2 + i % 20, 12, tzinfo=UTC))
            OrderItem.objects.create(order=order, product=product, quantity=10, unit_price=Decimal("2000.00"))
        with caplog.at_level(logging.WARNING, logger="ml_predictions.capabilities.segmentation.drift"):
            second = _train(staff_client)
        clv = second["metrics"]["drift"]["clv"]
        assert clv["status"] == "drifting" and clv["drifting"] is True
        assert clv["mae"] > clv["holdout_mae"] * (1 + clv["tolerance"])
        assert clv["total_actual"] >= 25 * 20_000
        log = MLTrainingLog.objects.get(trigger="monitor", model_type="customer_segmentation")
        assert log.ml_model_id is not None and str(log.ml_model_id) == second["model_id"]
        assert log.result["error"]["code"] == "clv_drift" and "CLV drift" in log.message
        assert any("CLV drift" in r.getMessage() for r in caplog.records)
        body = staff_client.get(URL).json()
        assert body["clv"]["drifting"] is True and body["history"][0]["clv_drifting"] is True


    def test_no_alert_within_tolerance(self, march_run, staff_client, settings):
        settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "CLV_DRIFT_TOLERANCE": 100.0}
        second = _train(staff_client)
        assert second["metrics"]["drift"]["clv"]["drifting"] is False
        assert not MLTrainingLog.objects.filter(trigger="monitor").exists()


    def test_a_failing_comparison_never_fails_the_training(self, march_run, staff_client, monkeypatch, caplog):

        def broken(*args, **kwargs):
            raise RuntimeError("history unreadable")

        monkeypatch.setattr("ml_predictions.capabilities.segmentation.drift._clv_part", broken)
        second = _train(staff_client)
        assert second["metrics"]["drift"]["clv"] == {"status": "not_computed"} and "error" in second["metrics"]["drift"]
        assert any("segment drift could not be computed" in r.getMessage() for r in caplog.records)
        assert staff_client.get(URL).json()["clv"]["status"] == "not_computed"
