"""Rendered inventory answers are reused only while nothing they show changed: same bytes without running
the report again, and a fresh answer after an alert is resolved, a sync wrote, another language or filter."""
from __future__ import annotations

import pytest
from django.core.cache import cache

from backend_django.shop.models import Product
from ml_predictions.capabilities.inventory import answers
from ml_predictions.data import reset_data_source_cache
from ml_predictions.models import InventoryAlert

AS_OF = "2026-07-01"
URLS = {"analysis": "/api/ml/inventory-analysis/", "reorder": "/api/ml/reorder-recommendations/",
        "health": "/api/ml/inventory-health/"}


@pytest.fixture(autouse=True)
def _fresh():
    reset_data_source_cache()
    cache.clear()
    yield
    reset_data_source_cache()


@pytest.fixture
def reports(monkeypatch):
    """The report runs behind the rendered answers, by kind."""
    calls: list[str] = []
    for kind, real in list(answers.REPORTS.items()):
        def spy(filters, _real=real, _kind=kind, **kwargs):
            calls.append(_kind)
            return _real(filters, **kwargs)
        monkeypatch.setitem(answers.REPORTS, kind, spy)
    return calls


@pytest.mark.django_db
@pytest.mark.parametrize("kind", list(URLS))
def test_a_repeated_get_sends_the_same_bytes_without_running_the_report(staff_client, small_shop, reports, kind):
    first = staff_client.get(URLS[kind], {"as_of": AS_OF})
    second = staff_client.get(URLS[kind], {"as_of": AS_OF})
    assert first.status_code == second.status_code == 200
    assert first["Content-Type"] == "application/json"
    assert second.content == first.content
    assert reports == [kind]
    # another filter is another answer, cut from the same cached analysis
    category = Product.objects.values_list("category__name", flat=True).first()
    cut = staff_client.get(URLS[kind], {"as_of": AS_OF, "category": category})
    assert cut.status_code == 200 and cut.content != first.content
    assert reports == [kind, kind]


@pytest.mark.django_db
def test_resolving_an_alert_shows_at_once(staff_client, small_shop, reports):
    body = staff_client.get(URLS["analysis"], {"as_of": AS_OF}).json()
    first = body["alerts"][0]
    assert first["alert_status"] == "open"
    response = staff_client.post(f"/api/ml/inventory-alerts/{first['alert_id']}/resolve/", {}, format="json")
    assert response.status_code == 200
    after = staff_client.get(URLS["analysis"], {"as_of": AS_OF}).json()
    row = next(a for a in after["alerts"] if (a["product_id"], a["alert_type"]) ==
               (first["product_id"], first["alert_type"]))
    assert (row["alert_id"], row["alert_status"]) == (None, "snoozed")
    assert reports == ["analysis", "analysis"]


@pytest.mark.django_db
def test_a_sync_that_writes_retires_the_answers(staff_client, small_shop, reports):
    """A stock change through the ORM: the analysis, the stored alerts and the answer all follow."""
    body = staff_client.get(URLS["analysis"], {"as_of": AS_OF}).json()
    reorder = next(a for a in body["alerts"] if a["alert_type"] == "reorder_now")
    product = Product.objects.get(pk=reorder["product_id"])
    product.stock_quantity = reorder["recommended_stock"] + 1
    product.save()
    after = staff_client.get(URLS["analysis"], {"as_of": AS_OF}).json()
    assert (reorder["product_id"], "reorder_now") not in {(a["product_id"], a["alert_type"]) for a in after["alerts"]}
    assert InventoryAlert.objects.get(pk=reorder["alert_id"]).status == "auto_resolved"
    # the answer is stored under the stamp after the sync's writes: it holds from the next request on
    staff_client.get(URLS["analysis"], {"as_of": AS_OF})
    assert reports == ["analysis"] * 2


@pytest.mark.django_db
def test_each_language_has_its_own_answer(staff_client, small_shop, reports):
    english = staff_client.get(URLS["health"], {"as_of": AS_OF}, HTTP_ACCEPT_LANGUAGE="en").json()
    spanish = staff_client.get(URLS["health"], {"as_of": AS_OF}, HTTP_ACCEPT_LANGUAGE="es").json()
    assert english["health_score"] == spanish["health_score"]
    assert english["recommendations"] and english["recommendations"] != spanish["recommendations"]
    assert reports == ["health", "health"]


@pytest.mark.django_db
def test_errors_are_not_cached(staff_client, small_shop, reports):
    for _ in range(2):
        response = staff_client.get(URLS["analysis"], {"as_of": AS_OF, "category": "No such category"})
        assert response.status_code == 400 and "category" in response.json()["error"]["message"]
    assert reports == ["analysis", "analysis"]


@pytest.mark.django_db
def test_the_browsable_api_still_renders(staff_client, small_shop):
    response = staff_client.get(URLS["health"], {"as_of": AS_OF}, HTTP_ACCEPT="text/html")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert b"health_score" in response.content
