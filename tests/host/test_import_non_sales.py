"""Rows of a real online-retail export that are not sales: service codes, zero quantities, negative
prices. With the default options they are skipped and counted, so `import_orders FILE` works on the
export as the retailer wrote it (it used to abort on the first "Adjust bad debt" line)."""
from __future__ import annotations

import pytest
from django.core.management import call_command

from backend_django.shop.importer import ImportOptions, import_orders
from backend_django.shop.models import Order, OrderItem, Product

pytestmark = pytest.mark.django_db

EXPORT = """Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850,United Kingdom
536365,POST,POSTAGE,1,12/1/2010 8:26,18.00,17850,United Kingdom
536366,22633,HAND WARMER UNION JACK,0,12/1/2010 8:28,1.85,17850,United Kingdom
536367,84879,ASSORTED COLOUR BIRD ORNAMENT,32,12/1/2010 8:34,1.69,13047,United Kingdom
536367,dot,dotcom postage,1,12/1/2010 8:34,569.77,13047,United Kingdom
A563185,B,Adjust bad debt,1,8/12/2011 14:50,-11062.06,,United Kingdom
536368,22960,JAM MAKING SET WITH JARS,1,12/1/2010 8:34,-4.25,13047,United Kingdom
536369,21756,BATH BUILDING BLOCK WORD,3,12/1/2010 8:35,0,13047,United Kingdom
"""


def _write(tmp_path, text: str = EXPORT) -> str:
    path = tmp_path / "export.csv"
    path.write_text(text)
    return str(path)


def test_default_rules_skip_and_count_what_is_not_a_sale(tmp_path):
    report = import_orders(_write(tmp_path))
    assert report.invalid == 0
    assert (report.skipped_service, report.skipped_zero_quantity, report.skipped_negative_price) == (3, 1, 1)
    assert report.lines_imported == 3  # the two products and the free (price 0) line
    assert set(Product.objects.values_list("sku", flat=True)) == {"85123A", "84879", "21756"}
    assert set(Order.objects.values_list("external_id", flat=True)) == {"536365", "536367", "536369"}
    assert OrderItem.objects.get(product__sku="21756").unit_price == 0


def test_the_command_names_every_skipped_kind(tmp_path, capsys):
    call_command("import_orders", _write(tmp_path))
    out = capsys.readouterr().out
    for phrase in ("3 service lines skipped", "1 skipped with quantity 0", "1 skipped with a negative price"):
        assert phrase in out, out


def test_service_codes_can_be_kept(tmp_path):
    import_orders(_write(tmp_path), options=ImportOptions(service_codes=()))
    assert Product.objects.filter(sku__in=["POST", "dot"]).count() == 2  # 'B' has no customer: skipped


def test_service_codes_can_be_replaced(tmp_path):
    call_command("import_orders", _write(tmp_path), "--service-codes", "85123A, POST")
    assert set(Product.objects.values_list("sku", flat=True)) == {"dot", "84879", "21756"}


def test_none_keeps_every_code(tmp_path):
    call_command("import_orders", _write(tmp_path), "--service-codes", "none")
    assert set(Product.objects.values_list("sku", flat=True)) == {"85123A", "POST", "84879", "dot", "21756"}


RETURNS = """Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country
581483,23843,PAPER CRAFT LITTLE BIRDIE,80995,12/9/2011 9:15,2.08,16446,United Kingdom
581483,23166,MEDIUM CERAMIC STORAGE JAR,12,12/9/2011 9:15,1.25,16446,United Kingdom
C581484,23843,PAPER CRAFT LITTLE BIRDIE,-80995,12/9/2011 9:27,2.08,16446,United Kingdom
581490,22960,JAM MAKING SET WITH JARS,6,12/9/2011 9:30,4.25,13047,United Kingdom
C581491,22960,JAM MAKING SET WITH JARS,-2,12/9/2011 9:40,4.25,13047,United Kingdom
C581492,22633,HAND WARMER UNION JACK,-3,12/9/2011 9:45,1.85,13047,United Kingdom
C581493,22960,JAM MAKING SET WITH JARS,-1,12/9/2011 8:00,4.25,17850,United Kingdom
"""


def test_returns_are_taken_off_the_sale_they_cancel(tmp_path):
    """UCI's last day: 80,995 paper birdies bought and cancelled 12 minutes later. Skipping only the
    cancellation would keep the year's biggest sale as demand."""
    report = import_orders(_write(tmp_path, RETURNS))
    assert (report.returns_netted, report.skipped_returns) == (2, 2)  # no earlier sale for the last two
    units = dict(OrderItem.objects.values_list("product__sku", "quantity"))
    assert units == {"23166": 12, "22960": 4}  # the birdies' line is gone, 6 - 2 jam sets remain
    assert set(Order.objects.values_list("external_id", flat=True)) == {"581483", "581490"}


def test_returns_skip_keeps_the_old_rule(tmp_path):
    report = import_orders(_write(tmp_path, RETURNS), options=ImportOptions(returns="skip"))
    assert (report.returns_netted, report.skipped_returns) == (0, 4)
    assert OrderItem.objects.get(product__sku="23843").quantity == 80995
