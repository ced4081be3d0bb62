"""Operations endpoints: dashboard summary, retrain, rollback (activate), sales history chart, dashboard page."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from ml_predictions.models import InventoryAlert, MLModel, MLTrainingLog, Prediction
from ml_predictions.training import runner as training
from ml_predictions.training import trainers
from ml_predictions.training.registry import get_storage, register_model
from tests.helpers import PNG_MAGIC, assert_error, assert_staff_only

SUMMARY = "/api/ml/dashboard-summary/"
RETRAIN = "/api/ml/retrain/"


def activate_url(model) -> str:
    return f"/api/ml/models/{model.pk}/activate/"


@pytest.fixture
def fake_trainers(monkeypatch):
    monkeypatch.setitem(trainers._REGISTERED, "inventory", "tests.operations_fakes.quick_trainer")
    monkeypatch.setitem(trainers._REGISTERED, "customer_segmentation", "tests.operations_fakes.failing_trainer")


def make_alert(product: str, urgency: int, status: str = "open", alert_type: str = "reorder_now") -> InventoryAlert:
    return InventoryAlert.objects.create(product_id=product, product_name=f"Product {product}", alert_type=alert_type,
                                         current_stock=3, recommended_stock=20, urgency_level=urgency, status=status)


# --- dashboard summary -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_dashboard_summary_counts(staff_client, fake_trainers):
    for version in range(7):  # 7 versions, 6 inactive; KEEP_VERSIONS 5 prunes the oldest
        register_model(model_type="sales_forecast", artifact={"v": version}, algorithm="fake")
    register_model(model_type="inventory", artifact={}, algorithm="fake")
    old = Prediction.objects.create(kind="sales_forecast", target="total")
    Prediction.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))
    for _ in range(3):
        Prediction.objects.create(kind="sales_forecast", target="total")
    make_alert("p1", 5)
    make_alert("p2", 4)
    make_alert("p3", 2)
    make_alert("p4", 5, status="resolved")
    for _ in range(12):
        training.train_now("inventory", {})

    res = staff_client.get(SUMMARY)
    assert res.status_code == 200
    body = res.json()
    assert body["success"] is True
    assert body["summary"] == {
        "total_active_models": 2, "total_predictions": 4, "predictions_last_7days": 3,
        "active_inventory_alerts": 3, "critical_inventory_alerts": 2,
    }
    assert len(body["recent_models"]) == 5
    trained_at = [m["trained_at"] for m in body["recent_models"]]
    assert trained_at == sorted(trained_at, reverse=True)
    assert body["recent_models"][0]["model_type"] == "inventory" and body["recent_models"][0]["is_active"]
    assert len(body["recent_trainings"]) == 10
    assert {t["status"] for t in body["recent_trainings"]} == {"succeeded"}
    assert body["recent_trainings"][0]["id"] == str(MLTrainingLog.objects.order_by("-created_at").first().pk)


@pytest.mark.django_db
def test_dashboard_summary_on_empty_install(staff_client):
    body = staff_client.get(SUMMARY).json()
    assert body["summary"]["total_active_models"] == 0
    assert body["recent_models"] == [] and body["recent_trainings"] == []


@pytest.mark.django_db
def test_dashboard_summary_is_staff_only(anon_client, user_client):
    assert_staff_only(anon_client, user_client, "get", SUMMARY)


# --- retrain endpoint ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_retrain_with_immediate_backend_returns_full_response(staff_client, staff_user, fake_trainers):
    res = staff_client.post(RETRAIN, {"model_type": "inventory"}, format="json")
    assert res.status_code == 200, res.content
    body = res.json()
    assert body["success"] is True and body["version"] == 1 and body["extra_key"] == "from trainer"
    log = MLTrainingLog.objects.get(pk=body["training_log_id"])
    assert log.status == "succeeded" and log.trigger == "api" and log.triggered_by == staff_user
    assert MLModel.objects.get(is_active=True).pk.hex == body["model_id"].replace("-", "")


@pytest.mark.django_db
def test_retrain_accepts_command_aliases_and_reports_trainer_errors(staff_client, fake_trainers):
    res = staff_client.post(RETRAIN, {"model_type": "segmentation"}, format="json")
    body = assert_error(res, 422, "60 days")
    assert body["error"]["code"] == "insufficient_data"
    assert MLTrainingLog.objects.get().status == "failed"


@pytest.mark.django_db
def test_retrain_refuses_while_a_training_runs(staff_client, fake_trainers):
    running = training.start_training("inventory", {})
    MLTrainingLog.objects.filter(pk=running.pk).update(status="running")
    res = staff_client.post(RETRAIN, {"model_type": "inventory"}, format="json")
    body = assert_error(res, 409, "inventory", "already")
    assert body["error"]["details"]["training_log_id"] == str(running.pk)


@pytest.mark.django_db
@pytest.mark.parametrize("payload", [{}, {"model_type": "weather"}, {"model_type": ["inventory"]}])
def test_retrain_bad_input_names_the_field(staff_client, payload):
    assert_error(staff_client.post(RETRAIN, payload, format="json"), 400, "model_type")


@pytest.mark.django_db
def test_retrain_of_an_uninstalled_capability_is_400(staff_client, monkeypatch):
    monkeypatch.setitem(trainers._REGISTERED, "inventory", "tests.operations_fakes.no_such_trainer")
    assert_error(staff_client.post(RETRAIN, {"model_type": "inventory"}, format="json"), 400, "not available")
    assert not MLTrainingLog.objects.exists()


@pytest.mark.django_db
def test_retrain_is_staff_only(anon_client, user_client):
    assert_staff_only(anon_client, user_client, "post", RETRAIN, {"model_type": "inventory"})


# --- rollback --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_activate_rolls_back_to_an_earlier_version(staff_client):
    v1 = register_model(model_type="sales_forecast", artifact={"v": 1}, algorithm="fake")
    v2 = register_model(model_type="sales_forecast", artifact={"v": 2}, algorithm="fake")
    other = register_model(model_type="inventory", artifact={}, algorithm="fake")
    res = staff_client.post(activate_url(v1))
    assert res.status_code == 200, res.content
    body = res.json()
    assert body["success"] is True and body["previous_model_id"] == str(v2.pk)
    assert body["model"]["id"] == str(v1.pk) and body["model"]["is_active"] is True
    assert "v1" in body["message"]
    assert set(MLModel.objects.filter(is_active=True).values_list("pk", flat=True)) == {v1.pk, other.pk}
    # and forward again; activating the active one is a no-op
    assert staff_client.post(activate_url(v2)).status_code == 200
    assert staff_client.post(activate_url(v2)).json()["previous_model_id"] == str(v2.pk)
    assert MLModel.objects.get(model_type="sales_forecast", is_active=True).pk == v2.pk


@pytest.mark.django_db
def test_activate_refuses_a_version_whose_artifact_is_gone(staff_client):
    v1 = register_model(model_type="sales_forecast", artifact={"v": 1}, algorithm="fake")
    v2 = register_model(model_type="sales_forecast", artifact={"v": 2}, algorithm="fake")
    get_storage().delete(v1.artifact_path)
    from ml_predictions.training.registry import clear_artifact_cache

    clear_artifact_cache()
    body = assert_error(staff_client.post(activate_url(v1)), 409, "missing")
    assert body["error"]["code"] == "artifact_error"
    assert MLModel.objects.get(is_active=True).pk == v2.pk


@pytest.mark.django_db
def test_activate_refuses_while_that_type_is_training(staff_client, fake_trainers):
    v1 = register_model(model_type="inventory", artifact={"v": 1}, algorithm="fake")
    register_model(model_type="inventory", artifact={"v": 2}, algorithm="fake")
    training.start_training("inventory", {})
    assert_error(staff_client.post(activate_url(v1)), 409, "inventory")
    assert not MLModel.objects.get(pk=v1.pk).is_active


@pytest.mark.django_db
def test_activate_unknown_model_is_404_and_staff_only(staff_client, anon_client, user_client):
    v1 = register_model(model_type="inventory", artifact={"v": 1}, algorithm="fake")
    assert staff_client.post("/api/ml/models/00000000-0000-4000-8000-000000000000/activate/").status_code == 404
    assert_staff_only(anon_client, user_client, "post", activate_url(v1))


# --- sales history chart ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_sales_history_plot_is_a_png(staff_client, small_shop):
    res = staff_client.get("/api/ml/sales-history/plot/?days=90")
    assert res.status_code == 200 and res["Content-Type"] == "image/png"
    assert res.content.startswith(PNG_MAGIC) and len(res.content) > 5000


@pytest.mark.django_db
def test_daily_sales_window_ends_at_the_last_order(small_shop):
    from ml_predictions.dashboard.selectors import daily_sales

    frame = daily_sales(30)
    assert len(frame) == 30
    assert frame["date"].max().date().isoformat() == "2026-06-30"
    from ml_predictions.data import get_data_source

    lines = get_data_source().order_lines(start="2026-06-01", end="2026-07-01")
    assert len(lines) > 0
    assert frame["units"].sum() == lines["quantity"].sum()
    assert frame["revenue"].sum() == pytest.approx((lines["quantity"] * lines["unit_price"]).sum())


@pytest.mark.django_db
@pytest.mark.parametrize("days", ["3", "abc", "5000"])
def test_sales_history_plot_bad_days(staff_client, days):
    assert_error(staff_client.get(f"/api/ml/sales-history/plot/?days={days}"), 400, "days")


@pytest.mark.django_db
def test_sales_history_plot_without_orders_is_422(staff_client):
    assert_error(staff_client.get("/api/ml/sales-history/plot/"), 422, "orders")


@pytest.mark.django_db
def test_sales_history_plot_is_staff_only(anon_client, user_client):
    assert_staff_only(anon_client, user_client, "get", "/api/ml/sales-history/plot/")


# --- the dashboard page and its admin link ------------------------------------------------------------


@pytest.fixture
def staff_browser(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.mark.django_db
def test_dashboard_page_renders_tables_for_staff(staff_browser, fake_trainers):
    training.train_now("inventory", {})
    training.train_now("customer_segmentation", {})
    make_alert("p1", 5)
    res = staff_browser.get("/api/ml/dashboard/")
    assert res.status_code == 200
    html = res.content.decode()
    assert 'id="trainings-table"' in html and 'id="alerts-table"' in html
    assert "Product p1" in html and "5/5" in html
    assert "Succeeded" in html and "Failed" in html
    assert 'data-chart="/api/ml/sales-forecast/plot/?days_ahead=30"' in html
    assert 'data-chart="/api/ml/segments/plot/?type=pca"' in html


@pytest.mark.django_db
def test_dashboard_page_shows_segment_sizes_from_the_active_model(staff_browser):
    register_model(model_type="customer_segmentation", artifact={}, algorithm="kmeans",
                   metrics={"cluster_sizes": {"0": 30, "1": 70}, "cluster_names": {"0": "vip", "1": "occasional"}})
    html = staff_browser.get("/api/ml/dashboard/").content.decode()
    assert html.index("occasional") < html.index("vip")  # biggest first
    assert "width: 70%" in html and "width: 30%" in html


@pytest.mark.django_db
def test_dashboard_page_shows_the_segment_drift_of_the_last_retrain(staff_browser):
    drift = {"segments": {"n_changed_segment_type": 12, "n_common": 80, "changed_share": 0.15},
             "clv": {"status": "drifting", "version": 3, "spearman": 0.41, "mae": 90.5, "holdout_mae": 60.0,
                     "drifting": True}}
    register_model(model_type="customer_segmentation", artifact={}, algorithm="kmeans",
                   metrics={"cluster_sizes": {"0": 80}, "cluster_names": {"0": "vip"}, "drift": drift})
    html = staff_browser.get("/api/ml/dashboard/").content.decode()
    assert "12 of 80 customers (15.0 %) changed segment" in html
    assert "Spearman 0.41, MAE 90.5 (holdout 60.0)" in html and "CLV drift" in html


@pytest.mark.django_db
def test_dashboard_page_is_staff_only(client, plain_user):
    res = client.get("/api/ml/dashboard/")
    assert res.status_code == 302 and "/admin/login/" in res["Location"]
    client.force_login(plain_user)
    res = client.get("/api/ml/dashboard/")
    assert res.status_code == 302 and "/admin/login/" in res["Location"]


@pytest.mark.django_db
def test_admin_index_links_to_the_dashboard(staff_browser):
    html = staff_browser.get("/admin/").content.decode()
    assert 'id="ml-dashboard-link"' in html and 'href="/api/ml/dashboard/"' in html


@pytest.mark.django_db
def test_operations_endpoints_are_in_the_openapi_schema(staff_client):
    schema = staff_client.get("/api/schema/?format=json").json()
    for path in ("/api/ml/dashboard-summary/", "/api/ml/retrain/", "/api/ml/sales-history/plot/",
                 "/api/ml/models/{id}/activate/"):
        assert path in schema["paths"], path
    assert "/api/ml/dashboard/" not in schema["paths"]  # the HTML page is not an API endpoint


@pytest.mark.django_db
def test_dashboard_page_marks_running_trainings_for_refresh(staff_browser, fake_trainers):
    log = training.start_training("inventory", {})
    MLTrainingLog.objects.filter(pk=log.pk).update(status="running", progress=40, message="Fitting")
    html = staff_browser.get("/api/ml/dashboard/").content.decode()
    assert 'class="ml-status-running"' in html and "40% Fitting" in html
    assert "window.location.reload" in html
