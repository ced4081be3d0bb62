"""The ML tables in the admin: capitalised labels, few columns, no hand-made ML output rows."""
from __future__ import annotations

import pytest
from django.contrib import admin

from ml_predictions.models import (
    CustomerSegmentAssignment,
    InventoryAlert,
    MLModel,
    MLTrainingLog,
    Prediction,
)

OUTPUTS = [MLModel, Prediction, InventoryAlert, MLTrainingLog, CustomerSegmentAssignment]


@pytest.mark.django_db
def test_admin_index_shows_capitalised_labels(client, superuser):
    client.force_login(superuser)
    html = client.get("/admin/").content.decode()
    for label in ("ML models", "ML training logs", "Predictions", "Inventory alerts", "Customer segment assignments"):
        assert f">{label}<" in html, label
    assert "Ml models" not in html and "Ml training logs" not in html


@pytest.mark.django_db
@pytest.mark.parametrize("model", OUTPUTS, ids=lambda m: m.__name__)
def test_ml_output_rows_cannot_be_added_by_hand(client, superuser, model, rf):
    request = rf.get("/")
    request.user = superuser
    assert admin.site._registry[model].has_add_permission(request) is False
    client.force_login(superuser)
    url = f"/admin/ml_predictions/{model._meta.model_name}/"
    listing = client.get(url)
    assert listing.status_code == 200
    assert f"{url}add/" not in listing.content.decode()
    assert client.get(f"{url}add/").status_code == 403


@pytest.mark.parametrize("model", OUTPUTS, ids=lambda m: m.__name__)
def test_change_lists_have_few_columns(model):
    assert len(admin.site._registry[model].list_display) <= 6


def test_algorithm_column_breaks_after_each_plus_and_escapes_the_rest():
    """Composite names ("kmeans_rfm+rank_ensemble_clv") may wrap in the change list; text stays escaped."""
    from ml_predictions.admin import _breakable

    assert _breakable("kmeans_rfm+rank_ensemble_clv") == "kmeans_rfm+<wbr>rank_ensemble_clv"
    assert _breakable("a<b>+c") == "a&lt;b&gt;+<wbr>c" and _breakable("") == ""
