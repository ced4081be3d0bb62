"""A host whose own tables hold what the importer never writes: return lines with a negative quantity
and orders without a customer (guest checkout, a nullable foreign key). Read through a data source as
they are, they must not crash a training: the held-out path is one import away from such a shop."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml_predictions.models import MLTrainingLog
from tests.shapes.retail import retail_shape, write_csv_shop

pytestmark = pytest.mark.django_db


@pytest.fixture
def host_shop(settings, tmp_path) -> pd.DataFrame:
    lines, products, customers = retail_shape(products=60, customers=60, orders=300, max_basket=40,
                                              heavy_customers=2, heavy_orders=30, seed=3)
    returns = lines.sample(frac=0.03, random_state=1).assign(
        quantity=lambda f: -f["quantity"], order_id=lambda f: f["order_id"] + "R")
    lines = pd.concat([lines, returns], ignore_index=True)
    guest = np.random.default_rng(0).random(len(lines)) < 0.2
    lines.loc[guest, "customer_id"] = ""  # read back as missing
    directory = write_csv_shop(tmp_path / "shop", lines, products.assign(stock=20), customers)
    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "CSV_DIRECTORY": str(directory),
                               "DATA_SOURCE": "ml_predictions.data.csv_source.CSVDataSource"}
    return lines


def test_forecast_recommendations_and_inventory_train_on_returns_and_guests(host_shop, staff_client):
    for url, body in (("/api/ml/train-sales-forecast/", {"model_type": "auto"}),
                      ("/api/ml/train-product-recommendation/", {}),
                      ("/api/ml/retrain/", {"model_type": "inventory"})):
        res = staff_client.post(url, body, format="json")
        assert res.status_code == 200, (url, res.content[:500])
    assert set(MLTrainingLog.objects.values_list("status", flat=True)) == {"succeeded"}
    predictions = staff_client.post("/api/ml/predict-sales/", {"days_ahead": 14}, format="json").json()["predictions"]
    assert len(predictions) == 14 and min(p["predicted_sales"] for p in predictions) >= 0
    analysis = staff_client.get("/api/ml/inventory-analysis/")
    assert analysis.status_code == 200 and analysis.json()["total_products_analyzed"] == 60


def test_segmentation_trains_on_returns_and_guests(host_shop, staff_client):
    res = staff_client.post("/api/ml/train-customer-segmentation/", {"n_clusters": 4}, format="json")
    assert res.status_code == 200, res.content[:500]
    known = host_shop.loc[host_shop["customer_id"] != "", "customer_id"].nunique()
    assert res.json()["metrics"]["n_customers_with_orders"] == known
