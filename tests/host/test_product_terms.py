"""`import_orders --products`: supplier terms and stock onto imported products, read by the inventory
policy through the data source (MOQ and case-pack rounding after a real-shaped import)."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from backend_django.shop.models import Product
from ml_predictions.data import get_data_source

pytestmark = pytest.mark.django_db

LINES = "order_id,customer_id,ordered_at,product_id,product_name,category,quantity,unit_price\n" + "".join(
    f"A{d},K{d % 3},2026-06-{d:02d} 10:00:00,P1,Falda,Faldas,3,20\n" for d in range(1, 31))
TERMS = """product_id,stock,cost,lead_time_days,lead_time_std_days,min_order_quantity,case_pack,supplier
P1,4,8.50,10,2.5,100,24,Textiles SA
P9,1,,,,,,Nobody
"""


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_terms_land_on_the_products_and_unknown_ones_are_counted(tmp_path, capsys):
    call_command("import_orders", _write(tmp_path, "lines.csv", LINES))
    call_command("import_orders", products=_write(tmp_path, "products.csv", TERMS))
    out = capsys.readouterr().out
    assert "Products file: 2 rows, updated 1 products" in out and "1 not in the shop" in out
    p = Product.objects.get(sku="P1")
    assert (p.stock_quantity, p.cost, p.lead_time_days, p.lead_time_std_days, p.min_order_quantity, p.case_pack,
            p.supplier) == (4, Decimal("8.50"), 10, 2.5, 100, 24, "Textiles SA")
    assert not Product.objects.filter(sku="P9").exists()
    row = get_data_source().products().set_index("id").loc[str(p.id)]
    assert (row["min_order_quantity"], row["case_pack"], row["lead_time_std_days"], row["supplier"]) == (
        100.0, 24.0, 2.5, "Textiles SA")
    # an empty cell is unknown: it clears the term instead of writing 0
    call_command("import_orders", products=_write(tmp_path, "p2.csv", "product_id,case_pack,stock\nP1,,\n"))
    p.refresh_from_db()
    assert p.case_pack is None and p.stock_quantity is None and p.min_order_quantity == 100


def test_the_reorder_list_rounds_to_the_imported_terms(tmp_path, staff_client):
    call_command("import_orders", _write(tmp_path, "lines.csv", LINES))
    call_command("import_orders", products=_write(tmp_path, "products.csv", TERMS))
    body = staff_client.get("/api/ml/reorder-recommendations/", {"as_of": "2026-07-01"}).json()
    (line,) = body["recommendations"]
    # 3 a day, L = 10, review 14: S = 72 + safety stock (z * 3 * 2.5 < 28), stock 4 -> a need under 96, so
    # the MOQ of 100 binds, and 100 is not a whole number of cases of 24 -> 5 cases = 120
    assert line["recommended_order_quantity"] == 120 and line["supplier"] == "Textiles SA"
    assert line["lead_time_std_days"] == 2.5 and line["estimated_cost"] == pytest.approx(120 * 8.5)


@pytest.mark.parametrize(("text", "message"), [
    ("product_id,case_pack\nP1,2.5\n", "products.csv:2: case_pack must be a whole number >= 0"),
    ("product_id,cost\nP1,-1\n", "products.csv:2: cost must be a number >= 0"),
    ("product_id,stock\nP1,1\nP1,2\n", "products.csv:2: product_id 'P1' appears twice"),
    ("sku,stock\nP1,1\n", "no product_id column"),
    ("product_id,colour\nP1,red\n", "none of the columns"),
])
def test_bad_files_are_refused_naming_the_line(tmp_path, text, message):
    call_command("import_orders", _write(tmp_path, "lines.csv", LINES))
    before = list(Product.objects.values_list("case_pack", "cost", "stock_quantity"))
    with pytest.raises(CommandError) as exc:
        call_command("import_orders", products=_write(tmp_path, "products.csv", text))
    assert message in str(exc.value)
    assert list(Product.objects.values_list("case_pack", "cost", "stock_quantity")) == before
