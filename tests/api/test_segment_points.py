"""GET /api/ml/dashboard/segment-points/: the active run's customers as points, evenly sampled past
`limit`, with every customer counted in `segments`."""
from __future__ import annotations

import pytest

from backend_django.shop.generator import write_shop
from ml_predictions.models import CustomerSegmentAssignment, MLModel
from ml_predictions.training.runner import train_now
from tests.conftest import small_shop_data
from tests.helpers import assert_error, assert_staff_only
from tests.shared import build_shared, use_shared_artifacts

URL = "/api/ml/dashboard/segment-points/"


@pytest.fixture(scope="class")
def segmentation_run(django_db_setup, django_db_blocker, tmp_path_factory):
    """The small shop written and segmented with k=4, once for the class below."""
    def build(client):
        write_shop(small_shop_data())
        assert train_now("customer_segmentation", {"n_clusters": 4}).status == "succeeded"
        return None, MLModel.objects.get(model_type="customer_segmentation", is_active=True).pk

    with build_shared(django_db_blocker, tmp_path_factory.mktemp("segment_points"), build) as shared:
        yield shared


def test_bad_limit_and_untrained(db, staff_client, anon_client, user_client):
    assert_error(staff_client.get(URL + "?limit=0"), 400, "limit")
    assert_error(staff_client.get(URL + "?limit=999999"), 400, "limit")
    assert staff_client.get(URL).status_code == 409
    assert_staff_only(anon_client, user_client, "get", URL)


class TestSegmentedShop:
    """Read-only tests of one k=4 segmentation of the small shop, trained once."""

    @pytest.fixture
    def segmented(self, segmentation_run, db, settings):
        use_shared_artifacts(segmentation_run, settings)
        return MLModel.objects.get(pk=segmentation_run.value[1])

    def test_points_of_the_active_run(self, segmented, staff_client):
        res = staff_client.get(URL)
        assert res.status_code == 200
        body = res.json()
        rows = CustomerSegmentAssignment.objects.filter(model=segmented)
        assert body["model_id"] == str(segmented.pk) and body["n_customers"] == rows.count() and not body["sampled"]
        assert len(body["points"]) == rows.count()
        assert sum(s["size"] for s in body["segments"]) == rows.count() and len(body["segments"]) == 4
        sizes = [s["size"] for s in body["segments"]]
        assert sizes == sorted(sizes, reverse=True)
        stored = rows.get(customer_id=body["points"][0]["customer_id"])
        point = body["points"][0]
        assert point["cluster_name"] == stored.cluster_name and point["frequency"] == stored.frequency
        assert point["monetary"] == pytest.approx(stored.monetary) and point["recency_days"] == pytest.approx(stored.recency_days)


    def test_large_runs_are_sampled_evenly(self, segmented, staff_client):
        total = CustomerSegmentAssignment.objects.filter(model=segmented).count()
        body = staff_client.get(URL + "?limit=50").json()
        assert body["sampled"] is True and body["n_customers"] == total
        assert 25 <= len(body["points"]) <= 50
        assert sum(s["size"] for s in body["segments"]) == total
        assert len({p["cluster_name"] for p in body["points"]}) >= 2  # a sample across the table, not one segment


    def test_dashboard_degrades_to_pngs_without_javascript(self, segmented, client, staff_user):
        """The interactive panels carry <noscript> PNGs of the same data, served to the logged-in user."""
        import re

        client.force_login(staff_user)
        html = client.get("/api/ml/dashboard/").content.decode()
        fallbacks = re.findall(r'<noscript><div class="ml-noscript"><img src="([^"]+)"', html)
        assert fallbacks == ["/api/ml/segments/plot/?type=recency_monetary", "/api/ml/segments/plot/?type=pca"]
        for url in fallbacks:
            res = client.get(url)
            assert res.status_code == 200 and res["Content-Type"] == "image/png"
        assert '/static/ml_predictions/rfm_views.js' in html


    def test_interactive_panels_speak_spanish(self, segmented, client, staff_user):
        client.force_login(staff_user)
        html = client.get("/api/ml/dashboard/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
        assert "Segmentos en 3-D" in html and "Días desde el último pedido" in html
