"""The "inventory" training: policy artifact, alerts persisted without duplicates, closed, resolved history."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend_django.shop.models import Product
from ml_predictions.capabilities.inventory.selectors import run_inventory_analysis
from ml_predictions.capabilities.inventory.services import inventory_alerts_sync
from ml_predictions.models import InventoryAlert, MLModel, MLTrainingLog
from ml_predictions.training.registry import get_active_artifact
from ml_predictions.training.runner import train_now

AS_OF = "2026-07-01"


def open_alerts() -> dict[tuple[str, str], InventoryAlert]:
    return {(a.product_id, a.alert_type): a for a in InventoryAlert.objects.filter(status="open")}


@pytest.mark.django_db
def test_train_stores_policy_and_persists_alerts(small_shop):
    log = train_now("inventory", {"as_of": AS_OF})
    assert log.status == MLTrainingLog.Status.SUCCEEDED, log.error
    model, artifact = get_active_artifact("inventory")
    assert model.n_samples == int(small_shop.products["is_active"].sum())
    assert artifact["as_of"] == date(2026, 7, 1) and artifact["demand_source"] == "history"
    optimizer = artifact["optimizer"]
    assert len(optimizer.policy_) == model.n_samples
    assert model.metrics["demand_source"] == "history"
    assert model.metrics["total_alerts"] == len(optimizer.alerts())
    assert model.data_end == date(2026, 6, 30)
    assert log.result["alerts_sync"]["created"] == len(optimizer.alerts())
    assert log.result["demand_source"] == "history"
    stored = open_alerts()
    expected = {(r.product_id, r.alert_type): r for r in optimizer.alerts().itertuples()}
    assert set(stored) == set(expected)
    key = next(iter(expected))
    assert stored[key].urgency_level == expected[key].urgency_level
    assert stored[key].current_stock == expected[key].current_stock
    assert stored[key].message


@pytest.mark.django_db
def test_rerun_updates_closes_and_keeps_resolved_history(small_shop, staff_user):
    assert train_now("inventory", {"as_of": AS_OF}).status == "succeeded"
    first = open_alerts()
    # the same run again: no duplicates, same rows updated in place
    log = train_now("inventory", {"as_of": AS_OF})
    assert log.result["alerts_sync"] == {"created": 0, "updated": 0, "unchanged": len(first), "auto_resolved": 0,
                                         "snoozed": 0, "skipped": None}
    again = open_alerts()
    assert {k: a.pk for k, a in again.items()} == {k: a.pk for k, a in first.items()}
    assert InventoryAlert.objects.count() == len(first)

    # restock a reorder_now product far above its needs: that alert is closed, not deleted
    (pid, _), reorder = next((k, a) for k, a in first.items() if k[1] == "reorder_now")
    Product.objects.filter(pk=pid).update(stock_quantity=reorder.recommended_stock + 2)
    # a user resolves some other alert: it stays resolved (history) and is not re-opened within the snooze
    resolved_key, resolved = next((k, a) for k, a in first.items() if k[1] == "slow_moving")
    resolved.status = "resolved"
    resolved.resolved_by = staff_user
    resolved.resolved_at = timezone.now()
    resolved.save()

    log = train_now("inventory", {"as_of": AS_OF})
    sync = log.result["alerts_sync"]
    assert sync["auto_resolved"] >= 1 and sync["snoozed"] == 1
    closed = InventoryAlert.objects.get(pk=reorder.pk)
    assert closed.status == "auto_resolved" and closed.resolved_at is not None and closed.resolved_by is None
    assert (pid, "reorder_now") not in open_alerts()
    kept = InventoryAlert.objects.get(pk=resolved.pk)
    assert kept.status == "resolved" and kept.resolved_by == staff_user
    assert resolved_key not in open_alerts()

    # after the snooze a still-true condition opens a new alert; the resolved row stays as history
    InventoryAlert.objects.filter(pk=resolved.pk).update(resolved_at=timezone.now() - timedelta(days=30))
    train_now("inventory", {"as_of": AS_OF})
    reopened = open_alerts()[resolved_key]
    assert reopened.pk != resolved.pk
    assert InventoryAlert.objects.filter(product_id=resolved_key[0], alert_type=resolved_key[1]).count() == 2


@pytest.mark.django_db
def test_sync_is_set_based(small_shop):
    analysis = run_inventory_analysis(as_of=AS_OF)
    assert len(analysis.optimizer.alerts()) > 10
    with CaptureQueriesContext(connection) as first:
        inventory_alerts_sync(analysis=analysis)
    with CaptureQueriesContext(connection) as second:
        inventory_alerts_sync(analysis=analysis)
    # a constant handful of statements, whatever the number of alerts (no query per row)
    assert len(first.captured_queries) <= 8
    assert len(second.captured_queries) <= 8


@pytest.mark.django_db
def test_train_rejects_unknown_and_invalid_parameters(small_shop):
    log = train_now("inventory", {"as_of": AS_OF, "colour": "red"})
    assert log.status == "failed" and "colour" in log.error
    assert log.result["error"]["status"] == 400
    log = train_now("inventory", {"as_of": AS_OF, "service_level": 1.5})
    assert log.status == "failed" and "service_level" in log.error
    assert not MLModel.objects.filter(model_type="inventory").exists()
    assert not InventoryAlert.objects.exists()


@pytest.mark.django_db
def test_train_without_sales_is_insufficient_data(small_shop):
    log = train_now("inventory", {"as_of": "2020-01-01"})
    assert log.status == "failed"
    assert log.result["error"]["code"] == "insufficient_data"
    assert log.result["error"]["status"] == 422


@pytest.mark.django_db
def test_management_command_trains_inventory(small_shop, settings):
    from django.core.management import call_command

    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "INVENTORY_ORDER_POLICY": "eoq"}
    call_command("train", "inventory", "--params", '{"as_of": "2026-07-01"}', "--no-progress")
    model = MLModel.objects.get(model_type="inventory", is_active=True)
    assert model.algorithm == "service_level_eoq"
    assert model.parameters["order_policy"] == "eoq" and model.parameters["as_of"] == AS_OF
    optimizer = get_active_artifact("inventory")[1]["optimizer"]
    ordered = optimizer.policy_[optimizer.policy_["recommended_order_quantity"] > 0]
    assert len(ordered) and (ordered["recommended_order_quantity"] >= ordered["eoq"].fillna(0) - 1e-9).all()


@pytest.mark.django_db
def test_settings_drive_the_policy(small_shop, settings):
    base_run = run_inventory_analysis(as_of=AS_OF).optimizer
    base = base_run.policy_.set_index("product_id")
    category = base["category"].iloc[0]
    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "INVENTORY_CATEGORY_SERVICE_LEVELS": {category: 0.99},
                               "DEFAULT_LEAD_TIME_DAYS": 11, "INVENTORY_SEASONAL_ADJUSTMENT": False}
    tuned = run_inventory_analysis(as_of=AS_OF).optimizer.policy_.set_index("product_id")
    in_cat = tuned["category"] == category
    assert (tuned.loc[in_cat, "service_level"] == 0.99).all()
    # the others keep their ABC-XYZ class's level (the default table), the category level wins over it
    from ml_predictions.estimators.inventory import DEFAULT_CLASS_SERVICE_LEVELS

    others = tuned.loc[~in_cat]
    assert (others["service_level"] == others["abc_xyz"].map(DEFAULT_CLASS_SERVICE_LEVELS)).all()
    assert others["abc_xyz"].nunique() > 1
    moved = in_cat & (tuned["demand_std"] > 0)
    assert moved.any()
    # safety stock scales with z: 2.326 / z(the class level it had), times the seasonal index that was switched off
    from scipy.stats import norm

    ratio = tuned.loc[moved, "safety_stock"] / base.loc[moved.index[moved], "safety_stock"]
    expected = norm.ppf(0.99) / norm.ppf(base.loc[moved.index[moved], "service_level"]) / base_run.seasonal_index_
    assert ratio.to_numpy() == pytest.approx(expected, rel=1e-9)
    # every generated product has a lead time, so the default is not used
    assert (tuned["lead_time_source"] == "product").all()
    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "INVENTORY_ORDER_POLICY": "magic"}
    from ml_predictions.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError) as exc:
        run_inventory_analysis(as_of=AS_OF)
    assert exc.value.field == "order_policy"
