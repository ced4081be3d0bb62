"""Segmentation endpoints: authorization matrix, seed-004 shapes, stored rows, errors."""
from __future__ import annotations

import csv
import io
from datetime import date

import pandas as pd
import pytest

from backend_django.shop.generator import GeneratorConfig, synthesize, write_shop
from ml_predictions.capabilities.segmentation.trainer import lifetime_value, net_purchase_lines
from ml_predictions.data import get_data_source
from ml_predictions.models import CustomerSegmentAssignment, MLModel
from tests.helpers import PNG_MAGIC, assert_error, assert_staff_only
from tests.shared import SegmentedSmallShop

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    ("post", "/api/ml/train-customer-segmentation/", {"n_clusters": 4}),
    ("get", "/api/ml/customer-segment/some-id/", None),
    ("get", "/api/ml/segments/", None),
    ("get", "/api/ml/segments/vip/customers/", None),
    ("get", "/api/ml/segments/vip/export/", None),
    ("post", "/api/ml/segments/predict/", {"customer_ids": ["x"]}),
    ("post", "/api/ml/segments/apply/", {"rfm": [{"customer_id": "1", "recency_days": 1, "frequency": 1,
                                                   "monetary": 1}]}),
    ("get", "/api/ml/segments/plot/?type=pca", None),
    ("get", "/api/ml/rfm/", None),
    ("get", "/api/ml/rfm/standardized/", None),
]


@pytest.mark.parametrize(("method", "url", "data"), ENDPOINTS)
def test_authorization_matrix(method, url, data, anon_client, user_client, staff_client):
    assert_staff_only(anon_client, user_client, method, url, data)
    call = getattr(staff_client, method)
    res = call(url, data, format="json") if data is not None else call(url)
    assert res.status_code not in (401, 403)


def test_train_rejects_a_bad_clv_holdout(small_shop, staff_client):
    res = staff_client.post("/api/ml/train-customer-segmentation/", {"clv_holdout_days": 0}, format="json")
    assert_error(res, 400, "clv_holdout_days")


def test_train_auto_k_reports_every_k(small_shop, staff_client):
    res = staff_client.post("/api/ml/train-customer-segmentation/",
                            {"n_clusters": "auto", "selection_metric": "davies_bouldin", "window_days": 540},
                            format="json")
    assert res.status_code == 200, res.content[:500]
    m = res.json()["metrics"]
    assert [row["k"] for row in m["k_selection"]] == list(range(4, 9))  # the business range by default
    best = min(m["k_selection"], key=lambda r: r["davies_bouldin"])
    # the best Davies-Bouldin decides, or a k within 5 % of it that is more stable across seeds
    chosen = next(r for r in m["k_selection"] if r["k"] == m["n_clusters"])
    assert chosen["davies_bouldin"] <= best["davies_bouldin"] * 1.05 + 1e-9
    assert chosen["stability"] >= best["stability"] - 1e-9
    assert m["k_choice"]["best_by_metric"] == best["k"] and m["k_choice"]["chosen"] == m["n_clusters"]
    assert m["selection_metric"] == "davies_bouldin" and m["window_days"] == 540
    assert len(set(m["cluster_names"].values())) == m["n_clusters"]
    assert 0 < m["seed_stability"] <= 1


def test_train_auto_k_range_from_the_request(small_shop, staff_client):
    res = staff_client.post("/api/ml/train-customer-segmentation/",
                            {"n_clusters": "auto", "min_clusters": 2, "max_clusters": 3}, format="json")
    assert res.status_code == 200, res.content[:500]
    assert [row["k"] for row in res.json()["metrics"]["k_selection"]] == [2, 3]
    res = staff_client.post("/api/ml/train-customer-segmentation/", {"min_clusters": 7, "max_clusters": 5},
                            format="json")
    assert_error(res, 400, "max_clusters")


@pytest.mark.parametrize(("body", "status", "word"), [
    ({"n_clusters": 1}, 400, "n_clusters"),
    ({"n_clusters": "many"}, 400, "n_clusters"),
    ({"selection_metric": "elbow"}, 400, "selection_metric"),
    ({"window_days": 0}, 400, "window_days"),
    ({"calc_date": "yesterday"}, 400, "calc_date"),
    ({"features": ["recency_days", "height"]}, 400, "features"),
])
def test_train_bad_input(staff_client, body, status, word):
    res = staff_client.post("/api/ml/train-customer-segmentation/", body, format="json")
    assert_error(res, status, word)
    assert not MLModel.objects.filter(model_type="customer_segmentation").exists()


def test_train_without_orders_in_window(small_shop, staff_client):
    res = staff_client.post("/api/ml/train-customer-segmentation/", {"calc_date": "2020-01-01"}, format="json")
    assert_error(res, 422, "no orders")
    assert not MLModel.objects.filter(model_type="customer_segmentation").exists()


def test_train_fewer_customers_than_clusters(staff_client):
    write_shop(synthesize(GeneratorConfig(customers=8, products=10, orders=30, years=1, seed=1,
                                          end_date=date(2026, 6, 30))))
    res = staff_client.post("/api/ml/train-customer-segmentation/", {"n_clusters": 12}, format="json")
    assert_error(res, 422, "fewer than n_clusters")


def test_no_active_model_is_409(staff_client, small_shop):
    for url in ("/api/ml/customer-segment/x/", "/api/ml/segments/", "/api/ml/rfm/", "/api/ml/segments/plot/"):
        assert_error(staff_client.get(url), 409, "train")
    assert_error(staff_client.post("/api/ml/segments/predict/", {"customer_ids": ["x"]}, format="json"), 409)


RFM_ROWS = [{"customer_id": str(100 + i), "recency_days": r, "frequency": f, "monetary": m}
            for i, (r, f, m) in enumerate([(3, 20, 5000), (5, 18, 4500), (4, 22, 5200), (300, 1, 20), (320, 1, 25),
                                           (310, 2, 30), (60, 5, 600), (70, 6, 650), (65, 4, 580)])]


def test_apply_is_stateless_with_rfm_and_sales(staff_client, small_shop):
    res = staff_client.post("/api/ml/segments/apply/", {"rfm": RFM_ROWS, "selection_metric": "silhouette"},
                            format="json")
    assert res.status_code == 200, res.content
    body = res.json()
    assert body["best_k"] == 3 and [r["k"] for r in body["k_selection"]] == list(range(2, 9))
    by_id = {a["customer_id"]: a for a in body["assignments"]}
    assert by_id["100"]["cluster"] == by_id["102"]["cluster"] != by_id["103"]["cluster"]
    assert sum(c["size"] for c in body["cluster_summary"]) == 9 and "explanation" in body
    sales = [{"sale_id": i, "customer_id": c, "date": d, "amount": a, "product": "X", "channel": "Online"}
             for i, (c, d, a) in enumerate([(1, "2025-01-05", 120), (1, "2025-02-10", 80), (2, "2024-03-01", 10),
                                            (3, "2025-02-01", 500), (3, "2025-02-05", 700), (4, "2024-02-01", 15),
                                            (5, "2025-01-20", 60)])]
    res = staff_client.post("/api/ml/segments/apply/", {"sales": sales, "output_mode": "per_transaction",
                                                        "selection_metric": "calinski_harabasz"}, format="json")
    assert res.status_code == 200, res.content
    body = res.json()
    assert len(body["assignments"]) == 7 and all("cluster" in a and "sale_id" in a for a in body["assignments"])
    assert body["assignments"][0]["cluster"] == body["assignments"][1]["cluster"]  # same customer, same cluster
    assert not MLModel.objects.exists() and not CustomerSegmentAssignment.objects.exists()


@pytest.mark.parametrize(("body", "status", "word"), [
    ({}, 400, "sales"),
    ({"rfm": RFM_ROWS, "sales": [{"customer_id": 1, "date": "2025-01-01", "amount": 1}]}, 400, "sales"),
    ({"rfm": RFM_ROWS, "selection_metric": "gap"}, 400, "selection_metric"),
    ({"rfm": RFM_ROWS, "output_mode": "per_transaction"}, 400, "output_mode"),
    ({"rfm": RFM_ROWS[:2]}, 422, "too few"),
    ({"rfm": RFM_ROWS, "n_clusters": 20}, 422, "fewer than n_clusters"),
    ({"sales": [{"customer_id": 1, "date": "not a date", "amount": 1}]}, 400, "date"),
    ({"sales": [{"customer_id": 1, "date": "0101-07-15T10:40:07-21:46", "amount": 1}]}, 400, "between"),
    ({"sales": [{"customer_id": 1, "date": "7353-04-19T16:11:03Z", "amount": 1}]}, 400, "between"),
])
def test_apply_errors(staff_client, body, status, word):
    assert_error(staff_client.post("/api/ml/segments/apply/", body, format="json"), status, word)


def test_past_runs_stay_queryable_by_calc_date(small_shop, staff_client):
    first = staff_client.post("/api/ml/train-customer-segmentation/",
                              {"n_clusters": 3, "calc_date": "2026-01-01"}, format="json").json()
    second = staff_client.post("/api/ml/train-customer-segmentation/", {"n_clusters": 4}, format="json").json()
    assert first["metrics"]["calc_date"] == "2026-01-01" and second["metrics"]["n_clusters"] == 4
    assert first["metrics"]["warm_started"] is False and second["metrics"]["warm_started"] is False  # k 3 -> 4
    third = staff_client.post("/api/ml/train-customer-segmentation/", {"n_clusters": 4}, format="json").json()
    assert third["metrics"]["warm_started"] is True  # same k: starts from the active run's centroids
    assert third["metrics"]["cluster_sizes"] == second["metrics"]["cluster_sizes"]
    cold = staff_client.post("/api/ml/train-customer-segmentation/", {"n_clusters": 4, "warm_start": False},
                             format="json").json()
    assert cold["metrics"]["warm_started"] is False
    old = staff_client.get("/api/ml/segments/?calc_date=2026-01-01").json()
    assert old["model_id"] == first["model_id"] and len(old["segments"]) == 3
    assert staff_client.get("/api/ml/segments/").json()["model_id"] == cold["model_id"]
    cid = CustomerSegmentAssignment.objects.filter(model_id=first["model_id"]).first().customer_id
    assert staff_client.get(f"/api/ml/customer-segment/{cid}/?calc_date=2026-01-01").json()["calc_date"] == \
        "2026-01-01"
    assert_error(staff_client.get("/api/ml/segments/?calc_date=1999-01-01"), 409, "1999-01-01")


def test_openapi_lists_every_endpoint(staff_client):
    schema = staff_client.get("/api/schema/?format=json")
    if schema.status_code == 404:
        pytest.skip("schema view not routed")
    paths = schema.json()["paths"]
    for suffix in ("train-customer-segmentation/", "customer-segment/{customer_id}/", "segments/",
                   "segments/{segment}/customers/", "segments/{segment}/export/", "segments/predict/",
                   "segments/apply/", "segments/plot/", "rfm/", "rfm/standardized/"):
        assert f"/api/ml/{suffix}" in paths, suffix


class TestTrainedSegmentation(SegmentedSmallShop):
    """Read-only tests of one k=6 segmentation of the small shop, trained once."""

    def test_train_fixed_k_returns_the_spec_shape_and_stores_rows(self, trained, small_shop):
        m = trained["metrics"]
        assert trained["success"] is True and m["n_clusters"] == 6
        assert m["n_customers"] == len(small_shop.customers) == 300
        assert sum(m["cluster_sizes"].values()) == 300 and set(m["cluster_sizes"]) == {str(i) for i in range(6)}
        assert sorted(m["cluster_names"].values()) == sorted(["vip", "frequent", "occasional", "at_risk", "new",
                                                               "inactive"])
        assert -1 <= m["silhouette_score"] <= 1 and m["davies_bouldin"] > 0 and m["calinski_harabasz"] > 0
        assert [row["k"] for row in m["k_selection"]] == [6]
        assert m["clv_method"] == m["clv"]["selection"]["chosen"] and m["clv"]["bgnbd"]["converged"] is True
        model = MLModel.objects.get(pk=trained["model_id"])
        assert model.is_active and model.model_type == "customer_segmentation"
        rows = CustomerSegmentAssignment.objects.filter(model=model)
        assert rows.count() == 300
        assert rows.filter(calc_date=date(2026, 7, 1)).count() == 300  # day after the last generated order
        assert {str(c): rows.filter(cluster=c).count() for c in range(6)} == m["cluster_sizes"]
        assert rows.filter(frequency=0, recency_days=366).exists()  # registered customers without orders
        assert not rows.filter(confidence__lt=0).exists() and not rows.filter(confidence__gt=1).exists()


    def test_train_reports_every_clv_candidate_and_serves_the_chosen_models_value(self, trained, staff_client):
        """The lifetime value a customer lookup returns is the selected model's prediction, refitted on all history."""
        selection = trained["clv_selection"]
        assert selection == trained["metrics"]["clv"]["selection"]
        assert set(selection["candidates"]) == {"bgnbd_gamma_gamma", "mbgnbd_gamma_gamma", "pnbd_gamma_gamma", "naive_rate_x_spend",
                                                "pnbd_gbm_mean", "gradient_boosting", "rank_ensemble"}
        fitted = {n: c for n, c in selection["candidates"].items() if "skipped" not in c}
        best = max(fitted, key=lambda n: fitted[n]["spearman"])  # or the rank ensemble on a near tie
        assert fitted and selection["chosen"] in {best, "rank_ensemble"}
        if selection["chosen"] != best:
            assert selection["reason"].startswith("rank_ensemble within one standard error")
        for c in fitted.values():
            assert {"spearman", "mae", "total_predicted", "total_actual"} <= set(c) and c["total_actual"] > 0
        assert selection["holdout_days"] == 90 and trained["metrics"]["clv_method"] == selection["chosen"]

        netted, _ = net_purchase_lines(get_data_source())  # the trainer's input: refunds netted off purchases
        lines = netted.lines
        # the generator's "refunded" orders are sales refunded in full: left out, never netted a second time
        assert netted.stats["netted_value"] == 0 and get_data_source().refund_lines().empty
        expected = lifetime_value(lines, pd.Timestamp("2026-07-01", tz="UTC"), {})["predictions"]
        top = expected["clv"].idxmax()
        body = staff_client.get(f"/api/ml/customer-segment/{top}/").json()
        assert body["lifetime_value_prediction"] == pytest.approx(round(expected.loc[top, "clv"], 2))
        assert body["probability_alive"] == pytest.approx(round(expected.loc[top, "p_alive"], 4))
        assert body["lifetime_value_prediction"] == max(
            CustomerSegmentAssignment.objects.filter(model_id=trained["model_id"]).values_list("clv", flat=True))


    def test_customer_segment(self, trained, staff_client):
        row = CustomerSegmentAssignment.objects.filter(frequency__gt=2).first()
        res = staff_client.get(f"/api/ml/customer-segment/{row.customer_id}/")
        assert res.status_code == 200
        body = res.json()
        assert body["customer_id"] == row.customer_id and body["cluster"] == row.cluster
        assert body["segment_type"] == row.segment_type and body["confidence_score"] == row.confidence
        assert body["characteristics"]["total_orders"] == row.frequency
        assert body["characteristics"]["total_spent"] == row.monetary
        assert set(body["characteristics"]) >= {"recency_days", "total_orders", "total_spent", "avg_order_value",
                                                 "purchase_frequency_monthly"}
        assert body["lifetime_value_prediction"] == row.clv and 0 < body["probability_alive"] <= 1
        assert len(body["rfm_segment"]) == 3 and len(body["recommendations"]) == 3
        assert_error(staff_client.get("/api/ml/customer-segment/nobody/"), 404, "nobody")


    def test_segments_summary_customers_and_export(self, trained, staff_client):
        res = staff_client.get("/api/ml/segments/")
        assert res.status_code == 200
        body = res.json()
        segs = body["segments"]
        assert body["n_customers"] == 300 and len(segs) == 6
        assert sum(s["size"] for s in segs) == 300
        assert sum(s["customer_share"] for s in segs) == pytest.approx(1, abs=1e-3)
        assert sum(s["revenue_share"] for s in segs) == pytest.approx(1, abs=1e-3)
        vip = next(s for s in segs if s["name"] == "vip")
        inactive = next(s for s in segs if s["name"] == "inactive")
        assert vip["mean_monetary"] > inactive["mean_monetary"] and vip["mean_recency_days"] < inactive["mean_recency_days"]

        page = staff_client.get("/api/ml/segments/vip/customers/?page=1&page_size=5").json()
        assert page["count"] == vip["size"] and len(page["results"]) == min(5, vip["size"])
        assert all(r["cluster_name"] == "vip" for r in page["results"])
        monetary = [r["monetary"] for r in page["results"]]
        assert monetary == sorted(monetary, reverse=True)
        assert_error(staff_client.get("/api/ml/segments/whales/customers/"), 404, "whales")

        export = staff_client.get("/api/ml/segments/vip/export/")
        assert export.status_code == 200 and export["Content-Type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
        assert rows[0][:3] == ["customer_id", "cluster", "cluster_name"] and len(rows) == vip["size"] + 1
        assert_error(staff_client.get("/api/ml/segments/whales/export/"), 404, "whales")


    def test_predict_by_ids_and_by_raw_rfm(self, trained, staff_client):
        ids = list(CustomerSegmentAssignment.objects.values_list("customer_id", flat=True)[:3])
        res = staff_client.post("/api/ml/segments/predict/", {"customer_ids": [*ids, "ghost"]}, format="json")
        assert res.status_code == 200
        body = res.json()
        assert [r["customer_id"] for r in body["results"]] == ids and body["unknown_customer_ids"] == ["ghost"]
        assert_error(staff_client.post("/api/ml/segments/predict/", {"customer_ids": ["ghost"]}, format="json"), 404,
                     "ghost")
        # the FastAPI segmentation peer's capitalised keys; a big recent spender must land in the vip cluster, a long-gone one not
        res = staff_client.post("/api/ml/segments/predict/", {"customers": [
            {"Recency": 2, "Frequency": 40, "Monetary": 40000, "Unique_Products": 30},
            {"recency_days": 366, "frequency": 0, "monetary": 0}]}, format="json")
        assert res.status_code == 200, res.content
        results = res.json()["results"]
        assert results[0]["segment_type"] == "vip" and results[1]["segment_type"] == "inactive"
        assert 0 <= results[0]["confidence_score"] <= 1
        stored = CustomerSegmentAssignment.objects.filter(frequency__gt=3).first()
        again = staff_client.post("/api/ml/segments/predict/", {"customers": [
            {"recency_days": stored.recency_days, "frequency": stored.frequency, "monetary": stored.monetary}]},
            format="json").json()["results"][0]
        assert again["cluster"] == stored.cluster  # the stored assignment is the model's prediction
        assert_error(staff_client.post("/api/ml/segments/predict/", {}, format="json"), 400, "customer_ids")
        assert_error(staff_client.post("/api/ml/segments/predict/", {"customers": [{"recency_days": 1}]},
                                       format="json"), 400, "frequency")
        assert_error(staff_client.post("/api/ml/segments/predict/", {"customers": [
            {"recency_days": -1, "frequency": 1, "monetary": 1}]}, format="json"), 400, "recency_days")


    def test_rfm_and_standardized(self, trained, staff_client):
        body = staff_client.get("/api/ml/rfm/?page_size=1000").json()
        assert body["count"] == 300 and len(body["results"]) == 300 and "Recency" in body["explanation"]
        assert body["window_days"] == 365
        std = staff_client.get("/api/ml/rfm/standardized/?page_size=1000").json()
        assert std["count"] == 300 and "standardized" in std["explanation"]
        for col in ("recency_z", "frequency_z", "monetary_z"):
            values = [r[col] for r in std["results"]]
            assert sum(values) / len(values) == pytest.approx(0, abs=1e-3)  # z-scores over the training customers


    def test_plots(self, trained, staff_client):
        sizes = set()
        for kind in ("pca", "frequency_monetary", "recency_frequency", "recency_monetary"):
            res = staff_client.get(f"/api/ml/segments/plot/?type={kind}")
            assert res.status_code == 200 and res["Content-Type"] == "image/png", kind
            assert res.content.startswith(PNG_MAGIC) and len(res.content) > 10_000
            sizes.add(len(res.content))
        assert len(sizes) == 4  # four different pictures
        assert_error(staff_client.get("/api/ml/segments/plot/?type=3d"), 400, "type")
        assert_error(staff_client.get("/api/ml/segments/plot/?max_points=5"), 400, "max_points")


    def test_failed_bulk_write_keeps_the_previous_run_active(self, trained, staff_client, monkeypatch):
        from ml_predictions.capabilities.segmentation import trainer as workflow

        def broken(*args, **kwargs):
            raise RuntimeError("disk full")

        monkeypatch.setattr(workflow, "write_assignments", broken)
        res = staff_client.post("/api/ml/train-customer-segmentation/", {"n_clusters": 3}, format="json")
        assert res.status_code == 500 and res.json()["success"] is False
        active = MLModel.objects.get(model_type="customer_segmentation", is_active=True)
        assert str(active.pk) == trained["model_id"] and MLModel.objects.count() == 1
        assert CustomerSegmentAssignment.objects.count() == 300  # only the first run's rows
