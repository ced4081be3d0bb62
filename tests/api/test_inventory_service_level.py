"""`?service_level=` on the three inventory GETs: a what-if with its own cache entry that never touches the
stored alerts, a 400 naming the field for anything outside (0.5, 1), and a typed query parameter."""
from __future__ import annotations

import math

import pytest
from drf_spectacular.generators import SchemaGenerator

from ml_predictions.capabilities.inventory import selectors as workflow
from ml_predictions.estimators.inventory import z_value
from ml_predictions.models import InventoryAlert

AS_OF = "2026-07-01"
URLS = ["/api/ml/inventory-analysis/", "/api/ml/reorder-recommendations/", "/api/ml/inventory-health/"]


@pytest.fixture
def computations(monkeypatch):
    """(as_of, overrides) of every real analysis run behind the endpoints."""
    calls: list[tuple[str, dict | None]] = []
    real = workflow.run_inventory_analysis

    def spy(*, as_of=None, overrides=None):
        calls.append((str(as_of), overrides))
        return real(as_of=as_of, overrides=overrides)

    monkeypatch.setattr(workflow, "run_inventory_analysis", spy)
    return calls


def _alert_rows() -> list[tuple]:
    return sorted(InventoryAlert.objects.values_list(
        "product_id", "alert_type", "status", "current_stock", "recommended_stock", "urgency_level", "updated_at"))


@pytest.mark.django_db
def test_the_override_sets_every_products_level_and_its_safety_stock(staff_client, small_shop):
    """Each reorder line's safety stock is z(level) x sqrt(L sd^2 + d^2 sL^2), computed by hand from the
    line's own figures (rounded in the answer, hence the tolerance of one unit)."""
    configured = staff_client.get(URLS[1], {"as_of": AS_OF}).json()
    assert configured["service_level_override"] is None
    assert {r["service_level"] for r in configured["recommendations"]} != {0.99}  # the class levels
    body = staff_client.get(URLS[1], {"as_of": AS_OF, "service_level": "0.99"}).json()
    rows = body["recommendations"]
    assert body["service_level_override"] == 0.99 and rows
    assert {r["service_level"] for r in rows} == {0.99}
    z = z_value(0.99)
    for r in rows:
        spread = math.sqrt(r["lead_time_days"] * r["demand_std"] ** 2
                           + r["daily_demand"] ** 2 * (r["lead_time_std_days"] or 0) ** 2)
        assert abs(r["safety_stock"] - math.ceil(z * spread)) <= 1, r
    # a lower level holds less safety stock for the same products
    low = {r["product_id"]: r for r in staff_client.get(
        URLS[1], {"as_of": AS_OF, "service_level": "0.6"}).json()["recommendations"]}
    common = [r for r in rows if r["product_id"] in low]
    assert common
    assert all(low[r["product_id"]]["safety_stock"] <= r["safety_stock"] for r in common)
    assert sum(low[r["product_id"]]["safety_stock"] for r in common) < sum(r["safety_stock"] for r in common)


@pytest.mark.django_db
def test_every_endpoint_answers_the_what_if_and_says_so(staff_client, small_shop):
    for url in URLS:
        response = staff_client.get(url, {"as_of": AS_OF, "service_level": "0.97"})
        assert response.status_code == 200, response.content[:300]
        assert response.json()["service_level_override"] == 0.97
    classes = staff_client.get(URLS[0], {"as_of": AS_OF, "service_level": "0.97"}).json()["classes"]
    assert classes and {c["service_level"] for c in classes} == {0.97}


@pytest.mark.django_db
def test_a_what_if_has_its_own_cache_entry(staff_client, small_shop, computations):
    staff_client.get(URLS[0], {"as_of": AS_OF})
    staff_client.get(URLS[0], {"as_of": AS_OF, "service_level": "0.99"})
    assert computations == [(AS_OF, None), (AS_OF, {"service_level": 0.99})]
    # repeated, and on the other endpoints: served from the same two entries
    for url in URLS:
        staff_client.get(url, {"as_of": AS_OF, "service_level": "0.99"})
        staff_client.get(url, {"as_of": AS_OF})
    assert len(computations) == 2
    staff_client.get(URLS[2], {"as_of": AS_OF, "service_level": "0.9"})
    assert computations[2:] == [(AS_OF, {"service_level": 0.9})]


@pytest.mark.django_db
def test_a_what_if_never_syncs_the_stored_alerts(staff_client, small_shop):
    # nothing stored yet: a what-if stores nothing
    what_if = staff_client.get(URLS[0], {"as_of": AS_OF, "service_level": "0.99"}).json()
    assert what_if["summary"]["total_alerts"] > 0
    assert InventoryAlert.objects.count() == 0
    assert {a["alert_id"] for a in what_if["alerts"]} == {None}
    configured = staff_client.get(URLS[0], {"as_of": AS_OF}).json()
    stored = _alert_rows()
    assert len([r for r in stored if r[2] == "open"]) == configured["summary"]["total_alerts"]
    # a what-if with other alerts (a much lower level) leaves every stored row as it was
    low = staff_client.get(URLS[0], {"as_of": AS_OF, "service_level": "0.51"}).json()
    low_keys = {(a["product_id"], a["alert_type"]) for a in low["alerts"]}
    assert low_keys != {(a["product_id"], a["alert_type"]) for a in configured["alerts"]}
    for url in URLS:
        staff_client.get(url, {"as_of": AS_OF, "service_level": "0.51"})
    assert _alert_rows() == stored
    # its rows still point at the stored open alert where the configured analysis has the same one
    open_ids = dict(((p, t), str(i)) for i, p, t in InventoryAlert.objects.filter(status="open").values_list(
        "id", "product_id", "alert_type"))
    for a in low["alerts"]:
        assert a["alert_id"] == open_ids.get((a["product_id"], a["alert_type"]))


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["0.5", "1", "1.0", "0", "-0.2", "1.5", "95", "abc", "nan", "inf"])
@pytest.mark.parametrize("url", URLS)
def test_a_bad_service_level_is_a_400_naming_the_field(staff_client, small_shop, url, value):
    response = staff_client.get(url, {"as_of": AS_OF, "service_level": value})
    assert response.status_code == 400, (value, response.content[:300])
    error = response.json()["error"]
    assert "service_level" in error["fields"]
    assert "service_level" in error["message"]
    assert InventoryAlert.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["0.501", "0.999"])
def test_the_bounds_are_exclusive_only(staff_client, small_shop, value):
    body = staff_client.get(URLS[2], {"as_of": AS_OF, "service_level": value}).json()
    assert body["service_level_override"] == float(value)


@pytest.mark.django_db
def test_an_empty_value_means_not_given(staff_client, small_shop):
    """As DRF treats every optional query parameter: `?service_level=` is the configured analysis."""
    body = staff_client.get(URLS[0], {"as_of": AS_OF, "service_level": ""}).json()
    assert body["service_level_override"] is None
    assert InventoryAlert.objects.filter(status="open").count() == body["summary"]["total_alerts"]


def test_the_parameter_is_typed_in_the_schema():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for url in URLS:
        params = {p["name"]: p for p in schema["paths"][url]["get"]["parameters"]}
        assert params["service_level"]["in"] == "query"
        assert params["service_level"]["schema"]["type"] == "number"
        assert params["service_level"].get("required", False) is False
