"""An id is accepted in any spelling the host may hand out: dashed UUID, 32 hex digits, upper case."""
from __future__ import annotations

import pytest

from ml_predictions.data import canonical_id
from ml_predictions.training.runner import train_now


def test_canonical_id_spellings():
    dashed = "726f28ed-8783-483a-852d-e4491422bf4f"
    assert canonical_id("726f28ed8783483a852de4491422bf4f") == dashed
    assert canonical_id(dashed.upper()) == dashed
    assert canonical_id(dashed) == dashed
    assert canonical_id(12) == "12"
    assert canonical_id(" C001 ") == "C001"
    assert canonical_id(None) is None


@pytest.mark.django_db
def test_endpoints_accept_undashed_and_upper_case_ids(small_shop, staff_client):
    assert train_now("customer_segmentation", {"n_clusters": 4}).status == "succeeded"
    assert train_now("product_recommendation", {}).status == "succeeded"
    customer = small_shop.orders["customer_id"].iloc[-1]  # stored as 32 hex digits by the generator
    product = small_shop.order_items["product_id"].iloc[-1]
    for spelling in (customer, canonical_id(customer).upper()):
        res = staff_client.get(f"/api/ml/customer-segment/{spelling}/")
        assert res.status_code == 200, res.json()
        assert res.json()["customer_id"] == canonical_id(customer)
    res = staff_client.post("/api/ml/segments/predict/", {"customer_ids": [customer]}, format="json")
    assert res.status_code == 200 and len(res.json()["results"]) == 1
    for spelling in (product, canonical_id(product).upper()):
        res = staff_client.get(f"/api/ml/product-recommendations/{spelling}/?top_n=3")
        assert res.status_code == 200, res.json()
        assert res.json()["source_product_id"] == canonical_id(product)
        assert len(res.json()["recommendations"]) == 3
