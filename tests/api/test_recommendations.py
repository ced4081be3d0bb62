"""Recommendation endpoints: training, lookups, cold start, errors, sampling of Prediction rows, auth."""
from __future__ import annotations

import copy
import uuid

import pytest

from backend_django.shop.generator import write_shop
from ml_predictions.capabilities.recommendations.services import reset_call_counter
from ml_predictions.models import MLModel, Prediction
from tests.conftest import small_shop_data
from tests.helpers import assert_error, assert_staff_only
from tests.shared import build_shared, use_shared_artifacts

TRAIN_URL = "/api/ml/train-product-recommendation/"


def canon(value: str) -> str:
    """The API answers with the data source's canonical (dashed) UUIDs."""
    return str(uuid.UUID(str(value)))


def product_url(pid: str, query: str = "") -> str:
    return f"/api/ml/product-recommendations/{pid}/{query}"


def customer_url(cid: str, query: str = "") -> str:
    return f"/api/ml/customer-recommendations/{cid}/{query}"


@pytest.fixture(scope="class")
def recommendation_model(django_db_setup, django_db_blocker, tmp_path_factory):
    """The small shop written and the recommender trained (every lookup logged), once for the class below."""
    def build(client):
        shop = small_shop_data()
        write_shop(shop)
        res = client.post(TRAIN_URL, {}, format="json")
        assert res.status_code == 200, res.content[:500]
        return shop, res.json()

    with build_shared(django_db_blocker, tmp_path_factory.mktemp("recommendations"), build,
                      RECOMMENDATION_LOG_EVERY=1) as shared:
        yield shared


@pytest.mark.django_db
def test_authorization_matrix(anon_client, user_client):
    pid = str(uuid.uuid4())
    assert_staff_only(anon_client, user_client, "post", TRAIN_URL, {})
    assert_staff_only(anon_client, user_client, "get", product_url(pid))
    assert_staff_only(anon_client, user_client, "get", customer_url(pid))


@pytest.mark.django_db
def test_no_active_model_is_409(staff_client):
    assert_error(staff_client.get(product_url(str(uuid.uuid4()))), 409, "no active")
    assert_error(staff_client.get(customer_url(str(uuid.uuid4()))), 409, "no active")


@pytest.mark.django_db
def test_training_without_orders_is_422(staff_client):
    assert_error(staff_client.post(TRAIN_URL, {}, format="json"), 422, "orders")


def test_fixed_parameters_skip_tuning(small_shop, staff_client):
    res = staff_client.post(TRAIN_URL, {"normalization": "bm25", "content_weight": 0.3, "popularity_weight": 0,
                                        "evaluate": False}, format="json")
    assert res.status_code == 200, res.content[:300]
    metrics = res.json()["metrics"]
    assert metrics["normalization"] == "bm25"
    assert metrics["weights"]["similar"] == 0.3 and metrics["weights"]["popularity"] == 0.0
    assert "offline_evaluation" not in metrics


def test_openapi_documents_the_endpoints(staff_client):
    schema = staff_client.get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/api/ml/train-product-recommendation/", "/api/ml/product-recommendations/{product_id}/",
                 "/api/ml/customer-recommendations/{customer_id}/"):
        assert path in paths
        for operation in paths[path].values():
            assert "examples" in str(operation), path


def test_management_command_trains_and_serves(small_shop, staff_client):
    from django.core.management import call_command

    call_command("train", "product_recommendation", "--params", '{"normalization": "cosine", "evaluate": false}',
                 "--no-progress")
    model = MLModel.objects.get(model_type="product_recommendation", is_active=True)
    assert model.algorithm == "hybrid_cosine" and model.metrics["total_products"] == len(small_shop.products)
    pid = small_shop.products["id"].iloc[3]
    res = staff_client.get(product_url(pid, "?top_n=3&method=similar"))
    assert res.status_code == 200 and len(res.json()["recommendations"]) == 3


@pytest.mark.django_db
def test_raw_bad_parameters_fail_cleanly():
    from ml_predictions.training.runner import train_now

    log = train_now("product_recommendation", {"customer_weight": "lots"})
    assert log.status == "failed" and log.result["error"]["status"] == 400
    assert "customer_weight" in log.error or "lots" in log.error


@pytest.mark.django_db
def test_raw_non_positive_query_cap_fails_cleanly():
    from ml_predictions.training.runner import train_now

    log = train_now("product_recommendation", {"evaluation_queries": 0})
    assert log.status == "failed" and log.result["error"]["status"] == 400
    assert "evaluation_queries" in log.error


def test_evaluation_queries_caps_the_scored_sample(small_shop, staff_client):
    assert_error(staff_client.post(TRAIN_URL, {"evaluation_queries": 0}, format="json"), 400, "evaluation_queries")
    res = staff_client.post(TRAIN_URL, {"evaluation_queries": 5}, format="json")
    assert res.status_code == 200, res.content[:300]
    evaluation = res.json()["metrics"]["offline_evaluation"]
    assert evaluation["sample"]["max_queries"] == 5
    assert evaluation["sample"]["baskets"] == 5 < evaluation["sample"]["baskets_held_out"]
    assert evaluation["sample"]["customers"] == 5 < evaluation["sample"]["customers_held_out"]
    assert 0 < evaluation["item"]["hybrid"]["queries"] <= 5


def test_product_without_purchases_gets_content_neighbours(small_shop, staff_client):
    from backend_django.shop.models import Category, Product

    category = Category.objects.order_by("name").first()
    new = Product.objects.create(sku="COLD-1", name="Never sold", category=category, price=20, cost=8,
                                 stock_quantity=5)
    assert staff_client.post(TRAIN_URL, {"evaluate": False}, format="json").status_code == 200
    body = staff_client.get(product_url(str(new.pk), "?top_n=3")).json()
    assert body["strategy"] == "content_cold_start"
    cat_of = small_shop.categories.set_index("id")["name"]
    product_cat = small_shop.products.assign(id=lambda f: f["id"].map(canon)).set_index("id")["category_id"]
    assert [cat_of[product_cat[r["product_id"]]] for r in body["recommendations"]] == [category.name] * 3
    assert staff_client.get(product_url(str(new.pk), "?method=bought_together")).json()["recommendations"] == []


class TestTrainedRecommender:
    """Read-only tests of one recommender trained on the small shop, built once."""

    @pytest.fixture
    def small_shop(self, recommendation_model, db):
        return recommendation_model.value[0]

    @pytest.fixture
    def trained(self, recommendation_model, db, settings):
        use_shared_artifacts(recommendation_model, settings)
        reset_call_counter()  # every lookup of the test is logged, counted from its first
        return copy.deepcopy(recommendation_model.value[1])

    def test_train_returns_seed_response_with_offline_figures(self, trained, small_shop):
        body = trained
        assert body["success"] is True
        assert body["message"] == "Product recommendation model trained successfully"
        metrics = body["metrics"]
        n = len(small_shop.products)
        assert metrics["total_products"] == n and metrics["matrix_shape"] == [n, n]
        assert metrics["method"] == "hybrid"
        assert 0 < metrics["avg_similarity"] <= 1
        assert metrics["nnz"] > 0 and metrics["training_time_seconds"] > 0
        item = metrics["offline_evaluation"]["item"]
        assert set(item) == {"hybrid", "bought_together", "similar", "popularity"}
        for figures in item.values():
            assert {"precision_at_10", "recall_at_10", "ndcg_at_10", "coverage"} <= set(figures)
            assert 0 <= figures["recall_at_10"] <= 1
        assert metrics["offline_evaluation"]["test_orders"] > 0
        sample = metrics["offline_evaluation"]["sample"]  # the default cap, and what was scored under it
        assert sample["max_queries"] == 5000
        assert sample["baskets"] == min(5000, sample["baskets_held_out"]) == item["hybrid"]["queries"]
        assert metrics["recall_at_10"] == item["hybrid"]["recall_at_10"]
        model = MLModel.objects.get(pk=body["model_id"])
        assert model.is_active and model.model_type == "product_recommendation"
        assert model.metrics["offline_evaluation"]["item"]["popularity"] == item["popularity"]
        assert model.algorithm == f"hybrid_{metrics['normalization']}"
        # the per-customer blend (neighbour lists x popularity weight) is tuned and reported
        tuned = metrics["tuning"]["customer_popularity_recall"]
        assert f"{metrics['customer_neighbours']},{metrics['weights']['customer_popularity']}" in tuned
        assert model.parameters["customer_neighbours"] == metrics["customer_neighbours"]


    def test_product_recommendations_shape_and_bundle_partner(self, trained, small_shop, staff_client):
        truth = small_shop.products_truth.assign(product_id=lambda f: f["product_id"].map(canon))
        products = small_shop.products.assign(id=lambda f: f["id"].map(canon)).set_index("id")
        bundled = truth[truth["bundle"] >= 0]
        # a popular bundled product (most co-purchase evidence)
        counts = small_shop.order_items["product_id"].map(canon).value_counts()
        pid = max(bundled["product_id"], key=lambda p: counts.get(p, 0))
        partners = set(bundled.loc[bundled["bundle"] == bundled.set_index("product_id").loc[pid, "bundle"], "product_id"])
        res = staff_client.get(product_url(pid, "?top_n=5&method=bought_together"))
        assert res.status_code == 200
        body = res.json()
        assert body["success"] is True and body["source_product_id"] == pid
        recs = body["recommendations"]
        assert 1 <= len(recs) <= 5
        assert [r["rank"] for r in recs] == list(range(1, len(recs) + 1))
        assert set(recs[0]) >= {"product_id", "product_name", "similarity_score", "price", "image_url", "rank"}
        assert pid not in {r["product_id"] for r in recs}
        scores = [r["similarity_score"] for r in recs]
        assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
        assert recs[0]["product_name"] == products.loc[recs[0]["product_id"], "name"]
        assert (partners - {pid}) & {r["product_id"] for r in recs[:3]}  # a bundle partner ranks near the top
        # inactive / out of stock are left out by default
        unavailable = set(products.index[(~products["is_active"]) | (products["stock_quantity"] <= 0)])
        for method in ("hybrid", "similar", "bought_together"):
            got = staff_client.get(product_url(pid, f"?top_n=20&method={method}")).json()["recommendations"]
            assert not unavailable & {r["product_id"] for r in got}, method


    def test_prediction_rows_are_sampled(self, trained, small_shop, staff_client, settings):
        pid = small_shop.products["id"].iloc[0]
        before = Prediction.objects.filter(kind="product_recommendation").count()
        staff_client.get(product_url(pid))
        assert Prediction.objects.filter(kind="product_recommendation").count() == before + 1
        row = Prediction.objects.filter(kind="product_recommendation").first()
        assert row.target == canon(pid) and row.model_id is not None and row.input["method"] == "hybrid"
        settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "RECOMMENDATION_LOG_EVERY": 3}
        reset_call_counter()
        for _ in range(9):
            assert staff_client.get(product_url(pid)).status_code == 200
        assert Prediction.objects.filter(kind="product_recommendation").count() == before + 1 + 3


    def test_unknown_product_in_catalogue_gets_popular_in_category(self, trained, small_shop, staff_client):
        from backend_django.shop.models import Category, Product

        category = Category.objects.first()
        new = Product.objects.create(sku="NEW-1", name="Brand new", category=category, price=10, cost=5,
                                     stock_quantity=3)
        res = staff_client.get(product_url(str(new.pk), "?top_n=4"))
        assert res.status_code == 200, res.content
        body = res.json()
        assert body["strategy"] == "popular_in_category"
        names = small_shop.products.assign(id=lambda f: f["id"].map(canon)).set_index("id")
        cat_of = small_shop.categories.set_index("id")["name"]
        got = [cat_of[names.loc[r["product_id"], "category_id"]] for r in body["recommendations"]]
        assert got and got[0] == category.name


    def test_customer_recommendations_exclude_purchased(self, trained, small_shop, staff_client):
        orders = small_shop.orders[~small_shop.orders["status"].isin(["cancelled", "refunded"])]
        lines = small_shop.order_items.merge(orders, left_on="order_id", right_on="id")
        cid = canon(lines["customer_id"].value_counts().index[0])
        bought = {canon(p) for p in lines.loc[lines["customer_id"].map(canon) == cid, "product_id"]}
        res = staff_client.get(customer_url(cid, "?top_n=5"))
        assert res.status_code == 200
        body = res.json()
        assert body["customer_id"] == cid and body["strategy"] == "history" and body["history_size"] > 0
        assert len(body["recommendations"]) == 5
        assert not bought & {r["product_id"] for r in body["recommendations"]}
        res = staff_client.get(customer_url(cid, "?top_n=50&include_purchased=true"))
        assert bought & {r["product_id"] for r in res.json()["recommendations"]}


    def test_customer_without_orders_gets_popular(self, trained, small_shop, staff_client):
        from backend_django.shop.models import Customer

        new = Customer.objects.create(email="new@example.com")
        res = staff_client.get(customer_url(str(new.pk), "?top_n=3"))
        assert res.status_code == 200, res.content
        assert res.json()["strategy"] == "popular" and len(res.json()["recommendations"]) == 3


    def test_errors_name_the_problem(self, trained, small_shop, staff_client):
        pid = small_shop.products["id"].iloc[0]
        assert_error(staff_client.get(product_url(str(uuid.uuid4()))), 404, "product_id")
        assert_error(staff_client.get(product_url("not-a-uuid")), 404, "product_id")
        assert_error(staff_client.get(customer_url(str(uuid.uuid4()))), 404, "customer_id")
        assert_error(staff_client.get(product_url(pid, "?top_n=0")), 400, "top_n")
        assert_error(staff_client.get(product_url(pid, "?top_n=51")), 400, "top_n")
        assert_error(staff_client.get(product_url(pid, "?top_n=abc")), 400, "top_n")
        assert_error(staff_client.get(product_url(pid, "?method=magic")), 400, "method")
        assert_error(staff_client.get(customer_url(pid, "?top_n=-1")), 400, "top_n")
        assert_error(staff_client.post(TRAIN_URL, {"normalization": "weird"}, format="json"), 400, "normalization")
        assert_error(staff_client.post(TRAIN_URL, {"test_fraction": 0.9}, format="json"), 400, "test_fraction")


    def test_artifact_served_after_reload_from_storage(self, trained, small_shop, staff_client):
        from ml_predictions.training.registry import clear_artifact_cache

        pid = small_shop.products["id"].iloc[5]
        before = staff_client.get(product_url(pid, "?top_n=5")).json()["recommendations"]
        clear_artifact_cache()  # next request loads the joblib file (hash and versions checked)
        after = staff_client.get(product_url(pid, "?top_n=5")).json()["recommendations"]
        assert before == after and len(after) == 5


    def test_training_reports_buy_again_beside_the_customers_own_history(self, trained, small_shop, staff_client):
        """Every training evaluates both per-customer lists on the holdout; on the generator the buy-again
        list beats repeating each customer's own 10 most-bought products."""
        figures = trained["metrics"]["customer_evaluation"]
        assert set(figures["discovery"]) == {"hybrid", "popularity"}
        assert set(figures["buy_again"]) == {"buy_again", "own_top10", "popularity"}
        buy_again = figures["buy_again"]
        assert buy_again["buy_again"]["queries"] == buy_again["own_top10"]["queries"] > 20
        assert buy_again["buy_again"]["recall_at_10"] > buy_again["own_top10"]["recall_at_10"]
        assert buy_again["buy_again"]["ndcg_at_10"] > buy_again["popularity"]["ndcg_at_10"]
        tuned = trained["metrics"]["buy_again"]
        trace = trained["metrics"]["tuning"]["buy_again_recall"]
        assert f"buy_again_neighbours={tuned['neighbours']},buy_again_weight={tuned['weight']}" in trace
        assert f"repeat_half_life_days={tuned['repeat_half_life_days']}" in trace
        assert f"buy_again_popularity_weight={tuned['popularity_weight']}" in trace
        # the chosen blend is the validation's best (the greedy search's last stage holds every earlier choice)
        assert trace[f"buy_again_popularity_weight={tuned['popularity_weight']}"] == max(trace.values())
        # the served list follows the tuned blend: the customer's most repeated product comes back first
        lines = small_shop.order_items.merge(small_shop.orders.rename(columns={"id": "order_id"}), on="order_id")
        counts = lines.groupby(["customer_id", "product_id"])["order_id"].nunique()
        (cid, pid), top = counts.idxmax(), counts.max()
        assert top >= 3
        body = staff_client.get(customer_url(cid, "?top_n=10&include_purchased=true")).json()
        assert canon(pid) in {r["product_id"] for r in body["recommendations"][:3]}
