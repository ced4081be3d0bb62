"""The per-page-view lookups from the answer cache (recommendations, a customer's segment): the same
answer as computed, still sampled into Prediction rows per call, live-catalogue answers never cached,
and a new active model in the very next answer."""
from __future__ import annotations

import copy

import pytest
from django.core.cache import cache

from ml_predictions.answer_cache import KEY_PREFIX
from ml_predictions.capabilities.recommendations.services import reset_call_counter
from ml_predictions.capabilities.segmentation.services import reset_lookup_counter
from ml_predictions.models import MLModel, Prediction
from ml_predictions.training.registry import get_active_artifact, register_model
from tests.api.test_recommendations import customer_url, product_url, recommendation_model  # noqa: F401
from tests.shared import SegmentedSmallShop, use_shared_artifacts


def _keys(namespace: str) -> list[str]:
    return [k for k in cache._cache if f"{KEY_PREFIX}{namespace}:" in k]


def _three_ways(client, settings, urls):
    """Each URL cold, warm (from the cache) and with the cache off: (status, JSON) triples."""
    cold = [client.get(u) for u in urls]
    warm = [client.get(u) for u in urls]
    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "ANSWER_CACHE_SECONDS": 0}
    plain = [client.get(u) for u in urls]
    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "ANSWER_CACHE_SECONDS": 300}
    return [[(r.status_code, r.content) for r in rs] for rs in (cold, warm, plain)]


@pytest.mark.django_db
class TestCachedRecommendations:
    @pytest.fixture
    def shop(self, recommendation_model, db, settings):  # noqa: F811
        use_shared_artifacts(recommendation_model, settings)
        reset_call_counter()  # RECOMMENDATION_LOG_EVERY=1 here: every call is recorded
        return copy.deepcopy(recommendation_model.value[0])

    def test_cached_equals_computed_and_each_call_is_recorded(self, shop, staff_client, settings):
        pid, cid = shop.products["id"].iloc[0], shop.customers["id"].iloc[0]
        urls = [product_url(pid), product_url(pid, "?top_n=3&method=similar"),
                product_url(pid, "?include_unavailable=true"), customer_url(cid), customer_url(cid, "?include_purchased=true")]
        before = Prediction.objects.filter(kind="product_recommendation").count()
        cold, warm, plain = _three_ways(staff_client, settings, urls)
        assert cold == warm == plain and all(code == 200 for code, _ in cold)
        assert len(_keys("reco_product")) == 3 and len(_keys("reco_customer")) == 2
        assert Prediction.objects.filter(kind="product_recommendation").count() == before + 3 * len(urls)

    def test_errors_and_live_catalogue_answers_are_not_cached(self, shop, staff_client):
        pid = shop.products["id"].iloc[0]
        for url in (product_url(pid, "?method=nope"), product_url("no-such-product"), customer_url("no-such-customer")):
            first, again = staff_client.get(url), staff_client.get(url)
            assert first.status_code in (400, 404) and (again.status_code, again.content) == (first.status_code, first.content)
        assert not _keys("reco_product") and not _keys("reco_customer")

    def test_a_new_active_model_shows_in_the_next_answer(self, shop, staff_client):
        pid = shop.products["id"].iloc[0]
        first = staff_client.get(product_url(pid)).json()
        old, artifact = get_active_artifact("product_recommendation")
        newer = register_model(model_type="product_recommendation", artifact=artifact, algorithm="hybrid")
        assert staff_client.get(product_url(pid)).json()["model_id"] == str(newer.pk)
        MLModel.objects.filter(pk=newer.pk).update(is_active=False)  # a rollback by another process
        MLModel.objects.filter(pk=old.pk).update(is_active=True)
        assert staff_client.get(product_url(pid)).json() == first


class TestCachedCustomerSegment(SegmentedSmallShop):
    def test_cached_equals_computed_and_is_sampled(self, trained, small_shop, staff_client, settings):
        settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "SEGMENTATION_LOG_EVERY": 1}
        reset_lookup_counter()
        ids = list(small_shop.customers["id"].iloc[:3])
        urls = [f"/api/ml/customer-segment/{cid}/" for cid in ids]
        calc_date = MLModel.objects.get(model_type="customer_segmentation", is_active=True).metrics["calc_date"]
        urls.append(f"/api/ml/customer-segment/{ids[0]}/?calc_date={calc_date}")
        before = Prediction.objects.filter(kind="customer_segmentation").count()
        cold, warm, plain = _three_ways(staff_client, settings, urls)
        assert cold == warm == plain and all(code == 200 for code, _ in cold)
        assert len(_keys("segment_customer")) == len(urls)
        assert Prediction.objects.filter(kind="customer_segmentation").count() == before + 3 * len(urls)

    def test_language_and_errors(self, trained, small_shop, staff_client):
        url = f"/api/ml/customer-segment/{small_shop.customers['id'].iloc[0]}/"
        english = staff_client.get(url).json()["recommendations"]
        spanish = staff_client.get(url, HTTP_ACCEPT_LANGUAGE="es").json()["recommendations"]
        assert english != spanish  # one cached answer per language
        assert staff_client.get(url).json()["recommendations"] == english
        for _ in range(2):
            assert staff_client.get("/api/ml/customer-segment/no-such-customer/").status_code == 404
