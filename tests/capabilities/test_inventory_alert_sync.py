"""Stored alerts follow every analysis: GET (cached or not), refresh_inventory, its task, the training."""
from __future__ import annotations

import threading
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, connections

from backend_django.shop.models import Product
from ml_predictions.capabilities.inventory import services
from ml_predictions.capabilities.inventory.selectors import run_inventory_analysis
from ml_predictions.capabilities.inventory.services import inventory_alerts_sync
from ml_predictions.data import mark_changed
from ml_predictions.models import InventoryAlert
from tests.helpers import assert_error

AS_OF = "2026-07-01"
URLS = ["/api/ml/inventory-analysis/", "/api/ml/reorder-recommendations/", "/api/ml/inventory-health/"]


def stored_open() -> dict[tuple[str, str], InventoryAlert]:
    return {(a.product_id, a.alert_type): a for a in InventoryAlert.objects.filter(status="open")}


def listed(client) -> list[dict]:
    rows, url = [], "/api/ml/inventory-alerts/?status=open&page_size=500"
    while url:
        body = client.get(url).json()
        rows += body["results"]
        url = body.get("next")
    return rows


@pytest.mark.django_db
def test_after_the_analysis_the_alert_list_is_the_analysis(staff_client, small_shop):
    body = staff_client.get(URLS[0], {"as_of": AS_OF}).json()
    assert body["summary"]["total_alerts"] == len(body["alerts"]) > 10
    rows = {(r["product_id"], r["alert_type"]): r for r in listed(staff_client)}
    assert set(rows) == {(a["product_id"], a["alert_type"]) for a in body["alerts"]}
    for alert in body["alerts"]:
        row = rows[(alert["product_id"], alert["alert_type"])]
        assert row["id"] == alert["alert_id"]
        for name in ("current_stock", "recommended_stock", "urgency_level", "estimated_stockout_date",
                     "predicted_demand_7days", "predicted_demand_30days"):
            assert row[name] == alert[name], name
        assert row["message"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", URLS[1:])
def test_the_other_get_endpoints_sync_too(staff_client, small_shop, url):
    assert staff_client.get(url, {"as_of": AS_OF}).status_code == 200
    expected = run_inventory_analysis(as_of=AS_OF).optimizer.alerts()
    assert set(stored_open()) == set(zip(expected["product_id"], expected["alert_type"], strict=True))


@pytest.mark.django_db
def test_rerunning_changes_nothing(staff_client, small_shop, settings):
    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "INVENTORY_CACHE_SECONDS": 0}  # recompute each time
    staff_client.get(URLS[0], {"as_of": AS_OF})
    before = {k: (a.pk, a.updated_at) for k, a in stored_open().items()}
    analysis = run_inventory_analysis(as_of=AS_OF)
    sync = inventory_alerts_sync(analysis=analysis)
    assert (sync.created, sync.updated, sync.auto_resolved) == (0, 0, 0)
    assert sync.unchanged == len(before)
    staff_client.get(URLS[0], {"as_of": AS_OF})
    assert {k: (a.pk, a.updated_at) for k, a in stored_open().items()} == before
    assert InventoryAlert.objects.count() == len(before)


@pytest.mark.django_db
def test_a_cache_hit_does_not_sync_again_but_a_training_in_between_does(staff_client, small_shop, monkeypatch):
    from ml_predictions.training.runner import train_now

    calls = []
    real = services.inventory_alerts_sync
    monkeypatch.setattr(services, "inventory_alerts_sync", lambda **kw: (calls.append(1), real(**kw))[1])
    staff_client.get(URLS[0], {"as_of": AS_OF})
    staff_client.get(URLS[0], {"as_of": AS_OF})
    assert len(calls) == 1
    # a training with its own service level rewrites the alerts; the next GET puts the settings' ones back
    assert train_now("inventory", {"as_of": AS_OF, "service_level": 0.6}).status == "succeeded"
    staff_client.get(URLS[0], {"as_of": AS_OF})
    expected = run_inventory_analysis(as_of=AS_OF).optimizer.alerts()
    assert set(stored_open()) == set(zip(expected["product_id"], expected["alert_type"], strict=True))


@pytest.mark.django_db
def test_figures_update_in_place_and_gone_conditions_auto_resolve(staff_client, small_shop):
    body = staff_client.get(URLS[0], {"as_of": AS_OF}).json()
    reorder = next(a for a in body["alerts"] if a["alert_type"] == "reorder_now")
    Product.objects.filter(pk=reorder["product_id"]).update(stock_quantity=reorder["recommended_stock"] + 1)
    mark_changed()  # a bulk write's contract: QuerySet.update() sends no signal
    staff_client.get(URLS[0], {"as_of": AS_OF})
    row = InventoryAlert.objects.get(pk=reorder["alert_id"])
    assert row.status == "auto_resolved" and row.resolved_at is not None and row.resolved_by is None
    assert (reorder["product_id"], "reorder_now") not in stored_open()
    # another product's stock moves a little: same row, new figures
    other = next(a for a in body["alerts"] if a["alert_type"] == "reorder_now" and a["current_stock"] > 0
                 and a["product_id"] != reorder["product_id"])
    Product.objects.filter(pk=other["product_id"]).update(stock_quantity=other["current_stock"] - 1)
    mark_changed()
    after = staff_client.get(URLS[0], {"as_of": AS_OF}).json()
    moved = InventoryAlert.objects.get(pk=other["alert_id"])
    assert moved.status == "open" and moved.current_stock == other["current_stock"] - 1
    assert next(a for a in after["alerts"] if a["alert_id"] == other["alert_id"])["current_stock"] == moved.current_stock


@pytest.mark.django_db
def test_resolved_alerts_stay_resolved(staff_client, small_shop, staff_user):
    body = staff_client.get(URLS[0], {"as_of": AS_OF}).json()
    first = body["alerts"][0]
    assert staff_client.post(f"/api/ml/inventory-alerts/{first['alert_id']}/resolve/", {}, format="json").status_code == 200
    for _ in range(2):
        staff_client.get(URLS[0], {"as_of": AS_OF})
        call_command("refresh_inventory", "--as-of", AS_OF, stdout=StringIO())
    row = InventoryAlert.objects.get(pk=first["alert_id"])
    assert row.status == "resolved" and row.resolved_by == staff_user
    assert (first["product_id"], first["alert_type"]) not in stored_open()


@pytest.mark.django_db
def test_a_look_back_does_not_rewrite_todays_list(staff_client, small_shop):
    staff_client.get(URLS[0], {"as_of": AS_OF})
    before = {k: (a.pk, a.updated_at) for k, a in stored_open().items()}
    old = staff_client.get(URLS[0], {"as_of": "2026-05-01"})
    assert old.status_code == 200
    assert {k: (a.pk, a.updated_at) for k, a in stored_open().items()} == before
    assert {a["alert_status"] for a in old.json()["alerts"]} <= {"open", "snoozed", None}
    sync = inventory_alerts_sync(analysis=run_inventory_analysis(as_of="2026-05-01"))
    assert sync.skipped and "2026-05-01" in sync.skipped


@pytest.mark.django_db
def test_refresh_inventory_command_and_task(small_shop):
    from ml_predictions.capabilities.inventory.tasks import refresh_inventory_task

    out = StringIO()
    call_command("refresh_inventory", "--as-of", AS_OF, "--json", stdout=out)
    import json

    result = json.loads(out.getvalue())
    assert result["as_of"] == AS_OF and result["alerts_sync"]["created"] == result["total_alerts"] > 0
    assert len(stored_open()) == result["total_alerts"]
    again = refresh_inventory_task.call(AS_OF)
    assert again["alerts_sync"]["created"] == 0
    assert again["alerts_sync"]["skipped"] == "already synced" or again["alerts_sync"]["unchanged"] == len(stored_open())


@pytest.mark.django_db
def test_without_as_of_an_ended_history_is_analysed_at_its_last_order(staff_client, small_shop):
    # the test shop ends 2026-06-30, long before the test machine's today
    body = staff_client.get(URLS[0]).json()
    assert body["as_of"] == "2026-07-01" and body["as_of_source"] == "last_order"
    assert body["total_products_analyzed"] > 0
    out = StringIO()
    call_command("refresh_inventory", stdout=out)
    assert "2026-07-01" in out.getvalue() and "last_order" in out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("value", ["0001-01-01", "1969-12-31", "9999-12-31", "2026-13-01", "soon"])
def test_out_of_range_or_malformed_as_of_is_400_naming_it(staff_client, small_shop, url, value):
    body = assert_error(staff_client.get(url, {"as_of": value}), 400, "as_of")
    assert "as_of" in body["error"]["fields"]


@pytest.mark.django_db
def test_refresh_command_refuses_a_bad_date(small_shop):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="as_of"):
        call_command("refresh_inventory", "--as-of", "0001-01-01", stdout=StringIO())


@pytest.mark.django_db
def test_a_concurrent_sync_that_created_the_same_alerts_first_makes_no_duplicates(small_shop, monkeypatch):
    """The race on any database: our read of the open rows predates another sync's inserts."""
    analysis = run_inventory_analysis(as_of=AS_OF)
    inventory_alerts_sync(analysis=analysis)  # "the other" sync, already committed
    n = InventoryAlert.objects.count()
    real_filter = InventoryAlert.objects.filter

    class StaleRead:
        """What our transaction saw before the other one committed: no open rows."""

        def __init__(self, *args, **kwargs):
            self.qs = real_filter(*args, **kwargs)
            self.stale = kwargs.get("status") == "open"

        def values(self, *args):
            return [] if self.stale else self.qs.values(*args)

        def __getattr__(self, name):
            return getattr(self.qs, name)

    manager = type(InventoryAlert.objects)
    monkeypatch.setattr(manager, "select_for_update", lambda self: type("M", (), {"filter": StaleRead})())
    sync = inventory_alerts_sync(analysis=analysis)
    assert sync.created == n  # it tried to create them all
    assert InventoryAlert.objects.filter(status="open").count() == n  # the constraint kept them unique


@pytest.mark.django_db(transaction=True)
def test_concurrent_syncs_make_no_duplicates_on_postgresql(small_shop):
    if connection.vendor != "postgresql":
        pytest.skip("needs real concurrent connections: run with DATABASE_URL=postgres://… (CI does)")
    analysis = run_inventory_analysis(as_of=AS_OF)
    barrier, errors, results = threading.Barrier(4), [], []

    def run() -> None:
        try:
            barrier.wait()
            results.append(inventory_alerts_sync(analysis=analysis))
        except Exception as exc:  # noqa: BLE001 — reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    expected = len(analysis.optimizer.alerts())
    assert InventoryAlert.objects.filter(status="open").count() == expected == InventoryAlert.objects.count()
    assert sorted(r.created for r in results) == [0, 0, 0, expected]

