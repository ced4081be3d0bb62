"""Segmentation's prediction-type endpoints write Prediction rows like forecasting and recommendations."""
from __future__ import annotations

import pytest

from backend_django.shop.generator import write_shop
from ml_predictions.capabilities.segmentation import services as workflow
from ml_predictions.models import CustomerSegmentAssignment, MLModel, Prediction
from tests.conftest import small_shop_data
from tests.helpers import assert_error
from tests.shared import build_shared, use_shared_artifacts

pytestmark = pytest.mark.django_db

RFM_ROWS = [{"customer_id": str(100 + i), "recency_days": r, "frequency": f, "monetary": m}
            for i, (r, f, m) in enumerate([(3, 20, 5000), (5, 18, 4500), (4, 22, 5200), (300, 1, 20), (320, 1, 25),
                                           (310, 2, 30), (60, 5, 600), (70, 6, 650), (65, 4, 580)])]


@pytest.fixture(scope="class")
def segmentation_run(django_db_setup, django_db_blocker, tmp_path_factory):
    """The small shop written and segmented with k=6, once for the class below."""
    def build(client):
        write_shop(small_shop_data())
        res = client.post("/api/ml/train-customer-segmentation/", {"n_clusters": 6}, format="json")
        assert res.status_code == 200, res.content[:500]
        return None, res.json()["model_id"]

    with build_shared(django_db_blocker, tmp_path_factory.mktemp("segmentation"), build) as shared:
        yield shared


@pytest.fixture
def log_every(settings):
    def set_every(n: int) -> None:
        settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "SEGMENTATION_LOG_EVERY": n}
        workflow.reset_lookup_counter()
    set_every(1)
    return set_every


def test_apply_records_a_prediction_without_a_model(staff_client, staff_user, small_shop):
    res = staff_client.post("/api/ml/segments/apply/", {"rfm": RFM_ROWS, "selection_metric": "silhouette"},
                            format="json")
    assert res.status_code == 200, res.content
    body = res.json()
    prediction = Prediction.objects.get()
    assert str(prediction.pk) == body["prediction_id"]
    assert prediction.model is None and prediction.kind == "customer_segmentation"
    assert prediction.target == "9 customers" and prediction.created_by == staff_user
    assert prediction.input == {"endpoint": "apply", "source": "rfm", "rows": 9, "customers": 9,
                                "selection_metric": "silhouette", "n_clusters": "auto", "calc_date": None,
                                "window_days": 36500, "output_mode": "per_customer"}
    out = prediction.output
    assert out["best_k"] == body["best_k"] == 3
    assert out["cluster_summary"] == body["cluster_summary"] and out["k_selection"] == body["k_selection"]
    assert out["columns"] == ["customer_id", "cluster", "segment_type"]
    assert {r[0]: r[1] for r in out["results"]} == {a["customer_id"]: a["cluster"] for a in body["assignments"]}
    # still stateless as far as models go
    assert not MLModel.objects.exists() and not CustomerSegmentAssignment.objects.exists()


def test_apply_per_transaction_records_per_customer_results(staff_client, small_shop):
    sales = [{"sale_id": i, "customer_id": c, "date": d, "amount": a}
             for i, (c, d, a) in enumerate([(1, "2025-01-05", 120), (1, "2025-02-10", 80), (2, "2024-03-01", 10),
                                            (3, "2025-02-01", 500), (3, "2025-02-05", 700), (4, "2024-02-01", 15),
                                            (5, "2025-01-20", 60)])]
    res = staff_client.post("/api/ml/segments/apply/", {"sales": sales, "output_mode": "per_transaction",
                                                        "calc_date": "2025-03-01"}, format="json")
    assert res.status_code == 200, res.content
    prediction = Prediction.objects.get()
    assert prediction.input["source"] == "sales" and prediction.input["rows"] == 7
    assert prediction.input["customers"] == 5 and prediction.input["calc_date"] == "2025-03-01"
    assert sorted(r[0] for r in prediction.output["results"]) == ["1", "2", "3", "4", "5"]


def test_apply_error_records_nothing(staff_client):
    assert_error(staff_client.post("/api/ml/segments/apply/", {"rfm": RFM_ROWS[:2]}, format="json"), 422)
    assert not Prediction.objects.exists()


class TestTrainedSegmentation:
    """Tests of one k=6 segmentation of the small shop, trained once."""

    @pytest.fixture
    def trained(self, segmentation_run, db, settings):
        use_shared_artifacts(segmentation_run, settings)
        return MLModel.objects.get(pk=segmentation_run.value[1])

    def test_customer_lookup_records_a_prediction(self, trained, staff_client, staff_user, log_every):
        row = CustomerSegmentAssignment.objects.filter(model=trained, frequency__gt=2).first()
        body = staff_client.get(f"/api/ml/customer-segment/{row.customer_id}/").json()
        prediction = Prediction.objects.get()
        assert prediction.kind == "customer_segmentation" and prediction.model_id == trained.pk
        assert prediction.target == row.customer_id and prediction.created_by == staff_user
        assert prediction.input == {"endpoint": "customer", "calc_date": None}
        assert prediction.output["cluster"] == row.cluster == body["cluster"]
        assert prediction.output["segment_type"] == row.segment_type
        assert prediction.output["lifetime_value_prediction"] == pytest.approx(row.clv)
        assert prediction.output["probability_alive"] == pytest.approx(row.p_alive)
        assert prediction.output["calc_date"] == row.calc_date.isoformat()
        # a past run asked by calc_date is recorded with it; an unknown customer (404) is not recorded
        staff_client.get(f"/api/ml/customer-segment/{row.customer_id}/?calc_date={row.calc_date.isoformat()}")
        assert Prediction.objects.filter(input__calc_date=row.calc_date.isoformat()).count() == 1
        assert_error(staff_client.get("/api/ml/customer-segment/nobody/"), 404, "nobody")
        assert Prediction.objects.count() == 2
        # the history endpoint lists them
        listed = staff_client.get("/api/ml/predictions/?kind=customer_segmentation").json()
        assert len(listed["results"] if isinstance(listed, dict) else listed) == 2


    def test_customer_lookups_are_sampled(self, trained, staff_client, log_every):
        log_every(3)
        ids = list(CustomerSegmentAssignment.objects.values_list("customer_id", flat=True)[:7])
        for customer_id in ids:
            assert staff_client.get(f"/api/ml/customer-segment/{customer_id}/").status_code == 200
        # calls 1, 4 and 7 of the window
        assert sorted(Prediction.objects.values_list("target", flat=True)) == sorted([ids[0], ids[3], ids[6]])
        log_every(0)
        staff_client.get(f"/api/ml/customer-segment/{ids[0]}/")
        assert Prediction.objects.count() == 3


    def test_predict_by_ids_records_one_row_per_call(self, trained, staff_client, staff_user):
        ids = list(CustomerSegmentAssignment.objects.filter(model=trained).order_by("customer_id")
                   .values_list("customer_id", flat=True)[:3])
        body = staff_client.post("/api/ml/segments/predict/", {"customer_ids": [*ids, "ghost"]}, format="json").json()
        prediction = Prediction.objects.get()
        assert str(prediction.pk) == body["prediction_id"]
        assert prediction.model_id == trained.pk and prediction.target == "3 customers"
        assert prediction.created_by == staff_user
        assert prediction.input == {"endpoint": "predict", "mode": "customer_ids", "n": 4, "unknown_customer_ids": ["ghost"]}
        out = prediction.output
        assert out["columns"] == ["customer_id", "cluster", "segment_type", "confidence_score", "clv", "p_alive"]
        stored = {r.customer_id: r for r in CustomerSegmentAssignment.objects.filter(model=trained, customer_id__in=ids)}
        assert [r[0] for r in out["results"]] == ids
        for customer_id, cluster, segment_type, confidence, clv, _p_alive in out["results"]:
            assert (cluster, segment_type) == (stored[customer_id].cluster, stored[customer_id].segment_type)
            assert confidence == pytest.approx(stored[customer_id].confidence)
            assert clv == pytest.approx(stored[customer_id].clv)
        assert sum(out["segment_counts"].values()) == 3 and out["results_total"] == 3
        assert out["results_truncated"] is False
        # one customer: the target is its id; a 404 records nothing
        staff_client.post("/api/ml/segments/predict/", {"customer_ids": [ids[0]]}, format="json")
        assert Prediction.objects.filter(target=ids[0]).count() == 1
        assert_error(staff_client.post("/api/ml/segments/predict/", {"customer_ids": ["ghost"]}, format="json"), 404)
        assert Prediction.objects.count() == 2


    def test_predict_by_raw_rfm_records_inputs_and_results(self, trained, staff_client):
        res = staff_client.post("/api/ml/segments/predict/", {"customers": [
            {"customer_id": "lead-1", "recency_days": 2, "frequency": 40, "monetary": 40000},
            {"recency_days": 366, "frequency": 0, "monetary": 0}]}, format="json")
        assert res.status_code == 200, res.content
        results = res.json()["results"]
        prediction = Prediction.objects.get(pk=res.json()["prediction_id"])
        assert prediction.model_id == trained.pk and prediction.target == "2 customers"
        assert prediction.input["mode"] == "rfm" and prediction.input["n"] == 2
        assert prediction.input["columns"] == ["customer_id", "recency_days", "frequency", "monetary"]
        assert prediction.input["rows"] == [["lead-1", 2.0, 40.0, 40000.0], [None, 366.0, 0.0, 0.0]]
        assert prediction.output["results"] == [
            ["lead-1", results[0]["cluster"], "vip", results[0]["confidence_score"]],
            [None, results[1]["cluster"], "inactive", results[1]["confidence_score"]]]
        assert prediction.output["segment_counts"] == {"inactive": 1, "vip": 1}


    def test_big_batches_keep_the_summary_and_the_first_rows(self, trained, staff_client, monkeypatch):
        monkeypatch.setattr(workflow, "MAX_RECORDED_RESULTS", 4)
        res = staff_client.post("/api/ml/segments/apply/", {"rfm": RFM_ROWS}, format="json")
        out = Prediction.objects.get(pk=res.json()["prediction_id"]).output
        assert len(out["results"]) == 4 and out["results_total"] == 9 and out["results_truncated"] is True
        assert sum(out["segment_counts"].values()) == 9


    def test_read_endpoints_of_a_stored_run_record_nothing(self, trained, staff_client):
        for url in ("/api/ml/segments/", "/api/ml/segments/vip/customers/", "/api/ml/rfm/",
                    "/api/ml/rfm/standardized/"):
            assert staff_client.get(url).status_code == 200, url
        assert not Prediction.objects.exists()
