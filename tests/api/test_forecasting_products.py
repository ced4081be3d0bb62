"""Product and category forecasts on a real bakery's history (Bread Basket): mostly intermittent items,
served by Croston-family methods where they backtest better, reconciled so products add up to their
category and categories to the total, never negative; the predict response says how."""
from __future__ import annotations

import csv
from collections import Counter

import pytest
from django.core.management import call_command

from backend_django.shop.models import Product
from ml_predictions.capabilities.forecasting.selectors import active_forecaster
from ml_predictions.data import canonical_id
from ml_predictions.models import MLModel
from tests.helpers import SHARED_DATA, assert_error

TRAIN_URL = "/api/ml/train-sales-forecast/"
PREDICT_URL = "/api/ml/predict-sales/"
BREAD = SHARED_DATA / "bread_basket" / "BreadBasket_DMS.csv"
DRINKS = {"Coffee", "Tea", "Hot chocolate", "Juice", "Mineral water", "Coke", "Smoothies"}
DAYS = 14


@pytest.fixture
def bakery(db, tmp_path, settings):
    """The real item lines, imported with a category column added (drinks / food) and a unit price, so
    the hierarchy has two categories and revenue is not zero."""
    if not BREAD.exists():
        pytest.skip(f"{BREAD} is not available")
    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "FORECAST_MAX_TRAIN_ROWS": 1500,
                               "FORECAST_PRODUCT_TRAIN_ROWS": 3000, "FORECAST_MAX_HORIZON_DAYS": 60}
    path = tmp_path / "bread.csv"
    with BREAD.open(newline="") as src, path.open("w", newline="") as out:
        writer = csv.writer(out)
        for i, row in enumerate(csv.reader(src)):
            writer.writerow([*row, "Category"] if i == 0 else [*row, "drinks" if row[3] in DRINKS else "food"])
    call_command("import_orders", str(path), "--map",
                 "Transaction=order_id,Item=product_id,Date+Time=ordered_at,Category=category",
                 "--date-format", "%Y-%m-%d %H:%M:%S", "--default", "unit_price=2", "--exclude", "product_id=NONE",
                 "--missing-customer", "guest", "--id-prefix", "bread:", "--currency", "GBP")


def _predict(client, level: str, id: str | None = None) -> dict:
    body = {"days_ahead": DAYS, "level": level, **({"id": id} if id else {})}
    res = client.post(PREDICT_URL, body, format="json")
    assert res.status_code == 200, res.content[:300]
    return res.json()


def _sums(body: dict) -> tuple[list[float], list[float]]:
    return ([r["predicted_quantity"] for r in body["predictions"]], [r["predicted_sales"] for r in body["predictions"]])


@pytest.mark.slow
def test_bakery_products_add_up_to_categories_and_total(bakery, staff_client):
    res = staff_client.post(TRAIN_URL, {"model_type": "linear"}, format="json")
    assert res.status_code == 200, res.content[:500]
    assert res.json()["reconciliation"] == "mint_shrink"
    model = MLModel.objects.get(pk=res.json()["model_id"])
    demand = model.metrics["levels"]["product"]["units"]["demand"]
    # a bakery's catalogue is mostly sparse items, and some are served by a Croston-family method
    assert demand["classes"].get("intermittent", 0) + demand["classes"].get("lumpy", 0) > 40
    assert sum(n for m, n in demand["methods"].items() if m in ("croston", "sba", "tsb")) > 10
    report = model.metrics["reconciliation"]
    assert report["units"]["method"] == "mint_shrink" and report["nodes"] == 1 + 2 + 94

    total = _predict(staff_client, "total")
    assert total["reconciliation"] == "mint_shrink" and total["demand_class"] is None
    ids = active_forecaster()[1].ids("product")
    assert len(ids) == 94
    products = [_predict(staff_client, "product", pid) for pid in ids]
    classes = Counter(p["demand_class"] for p in products)
    assert set(classes) <= {"smooth", "erratic", "intermittent", "lumpy"} and classes["intermittent"] > 20
    for body in products:
        assert body["method"] and body["reconciliation"] == "mint_shrink"
        for row in body["predictions"]:
            assert min(row["predicted_sales"], row["predicted_quantity"], row["confidence_lower"]) >= 0
            assert row["confidence_lower"] <= row["predicted_sales"] + 0.011
            assert row["predicted_sales"] <= row["confidence_upper"] + 0.011
    sparse = [p for p in products if p["method"] in ("croston", "sba", "tsb")]
    assert sparse and all(r["confidence_upper"] < 40 for p in sparse for r in p["predictions"])  # a few units x 2
    categories = {name: _predict(staff_client, "category", name) for name in ("drinks", "food")}
    assert {c["demand_class"] for c in categories.values()} == {"smooth"}
    by_category: dict[str, list[dict]] = {"drinks": [], "food": []}
    category_of = {canonical_id(pk): name for pk, name in Product.objects.values_list("id", "category__name")}
    for pid, body in zip(ids, products, strict=True):
        by_category[category_of[pid]].append(body)
    # rounding to cents per product and day is the only slack
    tol = 0.006 * len(ids)
    for day in range(DAYS):
        q_total, s_total = (_sums(total)[k][day] for k in range(2))
        assert sum(_sums(p)[0][day] for p in products) == pytest.approx(q_total, abs=tol)
        assert sum(_sums(p)[1][day] for p in products) == pytest.approx(s_total, abs=tol)
        for name, members in by_category.items():
            assert sum(_sums(p)[0][day] for p in members) == pytest.approx(_sums(categories[name])[0][day], abs=tol)
        assert sum(_sums(c)[1][day] for c in categories.values()) == pytest.approx(s_total, abs=0.02)


@pytest.mark.slow
def test_bakery_bottom_up_on_request_and_bad_method_named(bakery, staff_client):
    bad = staff_client.post(TRAIN_URL, {"model_type": "linear", "reconciliation": "top_down"}, format="json")
    assert_error(bad, 400, "reconciliation")
    res = staff_client.post(TRAIN_URL, {"model_type": "linear", "reconciliation": "bottom_up"}, format="json")
    assert res.status_code == 200, res.content[:300]
    assert res.json()["reconciliation"] == "bottom_up"
    assert _predict(staff_client, "total")["reconciliation"] == "bottom_up"
    # one level retrained alone is not reconciled with the carried ones, and says so
    res = staff_client.post(TRAIN_URL, {"model_type": "linear", "level": "product"}, format="json")
    assert res.status_code == 200 and res.json()["reconciliation"] == "none"
    assert _predict(staff_client, "total")["reconciliation"] == "none"
