"""The real data sets in ../shared/data import with the command lines documented in docs/import.md."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from backend_django.shop.models import Customer, Order, OrderItem, Product
from ml_predictions.data import get_data_source
from tests.helpers import SHARED_DATA

DATA = SHARED_DATA

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def _need(path: Path) -> str:
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return str(path)


def test_bread_basket(capsys):
    path = _need(DATA / "bread_basket" / "BreadBasket_DMS.csv")
    call_command("import_orders", path, "--map", "Transaction=order_id,Item=product_id,Date+Time=ordered_at",
                 "--date-format", "%Y-%m-%d %H:%M:%S", "--default", "unit_price=0", "--exclude", "product_id=NONE",
                 "--missing-customer", "guest", "--id-prefix", "bread:", "--currency", "GBP")
    # PROVENANCE.md: 786 NONE rows dropped leave 20,507 units in 9,465 baskets of 94 items
    assert Order.objects.count() == 9465 and Product.objects.count() == 94
    assert sum(OrderItem.objects.values_list("quantity", flat=True)) == 20507
    assert "786 excluded" in capsys.readouterr().out


def test_superstore():
    path = _need(DATA / "superstore_fictional" / "Sample - Superstore.csv")
    call_command("import_orders", path, "--map",
                 "Order ID=order_id,Order Date=ordered_at,Customer ID=customer_id,Product ID=product_id,"
                 "Product Name=product_name,Category=category,Sales=line_total,Quantity=quantity",
                 "--date-format", "%m/%d/%Y", "--id-prefix", "superstore:", "--currency", "USD")
    # PROVENANCE.md: 5,009 orders, 793 customers, 1,862 product ids, sales 2,297,200.86
    assert (Order.objects.count(), Customer.objects.count(), Product.objects.count()) == (5009, 793, 1862)
    lines = get_data_source().order_lines()
    assert (lines["quantity"] * lines["unit_price"]).sum() == pytest.approx(2_297_200.86, abs=50)


def test_superstore_headers_are_recognised_without_a_map():
    path = _need(DATA / "superstore_fictional" / "Sample - Superstore.csv")
    call_command("import_orders", path, "--currency", "USD")  # month-first dates inferred
    assert (Order.objects.count(), Customer.objects.count(), Product.objects.count()) == (5009, 793, 1862)
    lines = get_data_source().order_lines()
    assert (lines["quantity"] * lines["unit_price"]).sum() == pytest.approx(2_297_200.86, abs=50)
    assert lines["ordered_at"].min().date().isoformat() == "2016-01-03"  # as with --date-format %m/%d/%Y
    assert Product.objects.filter(category__name="Furniture").exists()


def test_cdnow():
    path = _need(DATA / "cdnow" / "CDNOW_master.txt")
    call_command("import_orders", path, "--sep", "whitespace", "--map",
                 "date=ordered_at,number_of_cds=quantity,dollar_value=line_total", "--date-format", "%Y%m%d",
                 "--id-prefix", "cdnow:", "--currency", "USD")
    # PROVENANCE.md: 23,570 customers, $2,500,315.63; 2,068 rows repeat a (customer, day) and merge
    assert Customer.objects.count() == 23570
    assert Order.objects.count() == 69659 - 2068
    lines = get_data_source().order_lines()
    assert lines["ordered_at"].min().date().isoformat() == "1997-01-01"
    assert (lines["quantity"] * lines["unit_price"]).sum() == pytest.approx(2_500_315.63, abs=400)
