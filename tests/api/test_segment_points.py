"""GET /api/ml/dashboard/segment-points/: the active run's customers as points, evenly sampled past
`limit`, with every customer counted in `segments`."""
from __future__ import annotations

import pytest

from ml_predictions.models import CustomerSegmentAssignment, MLModel
from ml_predictions.training.runner import train_now
from tests.helpers import assert_error, assert_staff_only

URL = "/api/ml/dashboard/segment-points/"


@pytest.fixture
def segmented(small_shop):
    assert train_now("customer_segmentation", {"n_clusters": 4}).status == "succeeded"
    return MLModel.objects.get(model_type="customer_segmentation", is_active=True)


def test_points_of_the_active_run(segmented, staff_client):
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


def test_large_runs_are_sampled_evenly(segmented, staff_client):
    total = CustomerSegmentAssignment.objects.filter(model=segmented).count()
    body = staff_client.get(URL + "?limit=50").json()
    assert body["sampled"] is True and body["n_customers"] == total
    assert 25 <= len(body["points"]) <= 50
    assert sum(s["size"] for s in body["segments"]) == total
    assert len({p["cluster_name"] for p in body["points"]}) >= 2  # a sample across the table, not one segment


def test_bad_limit_and_untrained(db, staff_client, anon_client, user_client):
    assert_error(staff_client.get(URL + "?limit=0"), 400, "limit")
    assert_error(staff_client.get(URL + "?limit=999999"), 400, "limit")
    assert staff_client.get(URL).status_code == 409
    assert_staff_only(anon_client, user_client, "get", URL)


def test_dashboard_degrades_to_pngs_without_javascript(segmented, client, staff_user):
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


def test_interactive_panels_speak_spanish(segmented, client, staff_user):
    client.force_login(staff_user)
    html = client.get("/api/ml/dashboard/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Segmentos en 3-D" in html and "Días desde el último pedido" in html
