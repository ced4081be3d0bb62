"""Import and stock: a history without stock levels leaves stock unknown (NULL), never 0 = "sold out"."""
from __future__ import annotations

import math

import pytest

from backend_django.shop.importer import ImportAborted, import_orders
from backend_django.shop.models import Product
from ml_predictions.data import get_data_source

pytestmark = pytest.mark.django_db

NO_STOCK = """order_id,customer_id,ordered_at,product_id,product_name,quantity,unit_price
A1,K1,2025-03-01 10:00:00,P1,Falda,2,39.50
A1,K1,2025-03-01 10:00:00,P2,Bolso,1,90
A2,K2,2025-03-05 18:30:00,P2,Bolso,3,85
"""
WITH_STOCK = """order_id,customer_id,ordered_at,product_id,product_name,quantity,unit_price,stock
B1,K1,2025-04-01 10:00:00,P1,Falda,1,39.50,7
B2,K2,2025-04-02 10:00:00,P1,Falda,1,39.50,5
B2,K2,2025-04-02 10:00:00,P3,Gorro,1,15,0
B3,K2,2025-04-03 10:00:00,P2,Bolso,1,85,
"""


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_a_history_without_stock_leaves_stock_unknown(tmp_path):
    import_orders(_write(tmp_path, "lines.csv", NO_STOCK))
    assert list(Product.objects.order_by("sku").values_list("stock_quantity", flat=True)) == [None, None]
    products = get_data_source().products()
    assert products["stock"].dtype == "float64" and products["stock"].isna().all()


def test_a_stock_column_sets_the_latest_stated_level_and_keeps_unknown_elsewhere(tmp_path):
    import_orders(_write(tmp_path, "lines.csv", NO_STOCK))
    report = import_orders(_write(tmp_path, "more.csv", WITH_STOCK))
    stock = dict(Product.objects.values_list("sku", "stock_quantity"))
    # P1: the later line (5) wins; P3: a stated 0 is a real "sold out"; P2: no stated value stays unknown
    assert stock == {"P1": 5, "P2": None, "P3": 0}
    assert report.written["products"]["updated"] == 1  # P1's stock changed, P2 untouched
    by_name = get_data_source().products().set_index("name")["stock"]
    assert by_name["Falda"] == 5.0 and by_name["Gorro"] == 0.0 and math.isnan(by_name["Bolso"])
    # re-importing a file without stock never wipes a known level
    import_orders(_write(tmp_path, "again.csv", NO_STOCK))
    assert Product.objects.get(sku="P1").stock_quantity == 5


def test_a_fractional_stock_is_an_invalid_row(tmp_path):
    bad = WITH_STOCK.replace(",7\n", ",7.5\n")
    with pytest.raises(ImportAborted) as info:
        import_orders(_write(tmp_path, "bad.csv", bad))
    assert info.value.report.invalid == 1 and "bad.csv:2: stock is not a whole number" in str(info.value)
