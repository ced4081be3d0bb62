"""dashboard-summary in the spec's compact shape: counts, the 5 newest models and the 10 newest
trainings in a few fields each, with their headline metric, well under 5 KB even when the stored
metrics and errors are large."""
from __future__ import annotations

import json

import pytest

from ml_predictions.dashboard.summary import key_metric
from ml_predictions.models import MLTrainingLog
from ml_predictions.training.registry import register_model

MODEL_FIELDS = {"id", "model_type", "version", "algorithm", "is_active", "key_metric", "trained_at",
                "training_duration_seconds"}
TRAINING_FIELDS = {"id", "model_type", "status", "progress", "version", "error", "created_at", "finished_at",
                   "duration_seconds"}
# what real trainings store: nested evaluations, per-k tables, hundreds of keys
BULKY = {f"detail_{i}": {"per_k": list(range(40)), "note": "x" * 80} for i in range(30)}


@pytest.mark.django_db
def test_summary_is_compact_with_key_metrics(staff_client):
    forecast = register_model(model_type="sales_forecast", artifact={}, algorithm="random_forest",
                              metrics={**BULKY, "mase": 0.8123456, "test_mae": 12.0})
    segments = register_model(model_type="customer_segmentation", artifact={}, algorithm="kmeans",
                              metrics={**BULKY, "silhouette_score": 0.41})
    for _ in range(12):
        MLTrainingLog.objects.create(model_type="sales_forecast", status="succeeded", progress=100,
                                     ml_model=forecast, metrics=BULKY, result={"big": BULKY})
    MLTrainingLog.objects.create(model_type="customer_segmentation", status="failed", progress=40,
                                 error="ValueError: boom\n" + "Traceback line\n" * 500, parameters=BULKY)

    res = staff_client.get("/api/ml/dashboard-summary/")
    assert res.status_code == 200
    assert len(res.content) < 4000, len(res.content)
    body = res.json()
    assert set(body) == {"success", "summary", "recent_models", "recent_trainings"}
    assert [m["id"] for m in body["recent_models"]] == [str(segments.pk), str(forecast.pk)]
    assert all(set(m) == MODEL_FIELDS for m in body["recent_models"])
    assert body["recent_models"][1]["key_metric"] == {"name": "mase", "value": 0.8123}
    assert body["recent_models"][0]["key_metric"] == {"name": "silhouette_score", "value": 0.41}

    trainings = body["recent_trainings"]
    assert len(trainings) == 10 and all(set(t) == TRAINING_FIELDS for t in trainings)
    failed = trainings[0]
    assert failed["status"] == "failed" and failed["error"] == "ValueError: boom"
    assert failed["version"] is None
    ok = trainings[1]
    assert ok["version"] == forecast.version and ok["created_at"].endswith("Z") and "." not in ok["created_at"]
    assert "detail_0" not in json.dumps(body)


@pytest.mark.django_db
def test_summary_stays_under_5_kb_in_the_worst_case(staff_client):
    """5 models with the longest names, 10 failed trainings with long errors."""
    for _ in range(5):
        register_model(model_type="product_recommendation", artifact={}, algorithm="service_level_order_up_to_x",
                       metrics={"recall_at_10": 0.123456789, **BULKY}, training_duration_seconds=123.456789)
    for _ in range(10):
        MLTrainingLog.objects.create(model_type="product_recommendation", status="failed", progress=95,
                                     error="E" * 5000, duration_seconds=1234.56789)
    res = staff_client.get("/api/ml/dashboard-summary/")
    body = res.json()
    assert len(body["recent_models"]) == 5 and len(body["recent_trainings"]) == 10
    assert len(res.content) < 5000, len(res.content)


def test_key_metric_falls_back_in_order_and_ignores_non_numbers():
    assert key_metric("sales_forecast", {"test_mae": 3, "test_rmse": 4}) == {"name": "test_mae", "value": 3.0}
    assert key_metric("sales_forecast", {"mase": "n/a", "test_rmse": 4.5}) == {"name": "test_rmse", "value": 4.5}
    assert key_metric("inventory", {"health_score": 47.0}) == {"name": "health_score", "value": 47.0}
    assert key_metric("product_recommendation", {"recall_at_10": True}) is None
    assert key_metric("unknown_type", {"mase": 1}) is None
    assert key_metric("customer_segmentation", None) is None
