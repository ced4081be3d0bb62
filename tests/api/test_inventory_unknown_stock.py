"""A shop imported without stock columns: the inventory endpoints treat its stock as unknown, not zero."""
from __future__ import annotations

import pytest

from backend_django.shop.importer import import_orders
from ml_predictions.data import mark_changed

AS_OF = "2026-07-01"


def _history_without_stock(tmp_path) -> str:
    """60 days of one sale a day for two products, no stock column at all."""
    lines = ["order_id,customer_id,ordered_at,product_id,product_name,quantity,unit_price"]
    for day in range(60):
        stamp = f"2026-{5 if day < 31 else 6:02d}-{day % 31 + 1 if day < 31 else day - 30:02d} 10:00:00"
        lines.append(f"O{day},K{day % 5},{stamp},P1,Falda,1,39.50")
        lines.append(f"O{day},K{day % 5},{stamp},P2,Bolso,2,90")
    path = tmp_path / "lines.csv"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.mark.django_db
def test_unknown_stock_gives_no_stockout_alert_and_is_reported(staff_client, tmp_path):
    import_orders(_history_without_stock(tmp_path))
    analysis = staff_client.get("/api/ml/inventory-analysis/", {"as_of": AS_OF})
    assert analysis.status_code == 200, analysis.content[:300]
    body = analysis.json()
    assert body["total_products_analyzed"] == 2
    # stock unknown is not "sold out": no reorder_now / low_stock / slow_moving / overstock alert
    assert {a["alert_type"] for a in body["alerts"]} <= {"high_demand"}
    assert body["data_issues"]["stock_unknown"]["count"] == 2
    reorder = staff_client.get("/api/ml/reorder-recommendations/", {"as_of": AS_OF})
    assert reorder.status_code == 200
    health = staff_client.get("/api/ml/inventory-health/", {"as_of": AS_OF}).json()
    assert health["metrics"]["stock_unknown"] == 2
    assert health["health_score"] is None and health["status"] == "unknown"  # not 100 / "good"
    assert reorder.json()["recommendations"] == [] and reorder.json()["total_recommendations"] == 0
    stored = staff_client.get("/api/ml/inventory-alerts/").json()
    rows = stored["results"] if isinstance(stored, dict) else stored
    assert rows == []  # the analysis synced no alert for products of unknown stock


@pytest.mark.django_db
def test_a_real_shaped_import_gets_no_catalogue_wide_reorder_and_recorded_stock_brings_alerts(staff_client, tmp_path):
    """The held-out shop's shape (long baskets, thousands of lines, no stock column): nothing to reorder
    until the stock is recorded; a recorded empty shelf then alerts as usual."""
    from backend_django.shop.models import Product
    from tests.shapes.retail import retail_shape

    lines, _, _ = retail_shape(products=120, customers=60, orders=400, max_basket=40, heavy_customers=2,
                               heavy_orders=40, seed=5)
    path = tmp_path / "history.csv"
    lines.assign(ordered_at=lines["ordered_at"].dt.strftime("%Y-%m-%d %H:%M:%S")).to_csv(path, index=False)
    import_orders(str(path))
    body = staff_client.get("/api/ml/inventory-analysis/").json()
    n = body["total_products_analyzed"]
    assert n == Product.objects.count() and body["data_issues"]["stock_unknown"]["count"] == n
    assert not {"reorder_now", "low_stock", "slow_moving", "overstock"} & {a["alert_type"] for a in body["alerts"]}
    Product.objects.update(stock_quantity=0)
    mark_changed()  # a bulk write's contract: QuerySet.update() sends no signal
    again = staff_client.get("/api/ml/inventory-analysis/").json()
    assert again["data_issues"]["stock_unknown"]["count"] == 0
    assert "reorder_now" in {a["alert_type"] for a in again["alerts"]}
