"""Spellings of numbers and dates that real exports mix: a decimal comma in a semicolon file, ISO dates
appended to a month-first file."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command

from backend_django.shop.importer import ImportAborted, ImportOptions, import_orders
from backend_django.shop.models import Order, OrderItem

pytestmark = pytest.mark.django_db


def _write(tmp_path, text: str) -> str:
    path = tmp_path / "export.csv"
    path.write_text(text)
    return str(path)


def test_semicolon_file_with_decimal_commas(tmp_path):
    text = "Invoice;StockCode;Quantity;InvoiceDate;Price;Customer ID\n" \
           "1;A;3;2011-01-04 10:00;1,25;17\n1;B1;2;2011-01-04 10:00;1.234,50;17\n2;A;1;2011-01-05 09:00;2;18\n"
    call_command("import_orders", _write(tmp_path, text), "--sep", "semicolon")
    prices = dict(OrderItem.objects.values_list("product__sku", "unit_price").filter(order__external_id="1"))
    assert prices == {"A": Decimal("1.25"), "B1": Decimal("1234.50")}


def test_decimal_point_can_be_forced(tmp_path):
    text = "Invoice;StockCode;InvoiceDate;Price;Customer ID\n1;A;2011-01-04;1,25;17\n"
    with pytest.raises(ImportAborted) as aborted:
        import_orders(_write(tmp_path, text), options=ImportOptions(sep=";", decimal="."))
    assert "invalid unit_price '1,25'" in aborted.value.report.errors[0][2]


def test_a_comma_separated_file_keeps_commas_out_of_numbers(tmp_path):
    text = 'Invoice,StockCode,InvoiceDate,Price,Customer ID\n1,A,2011-01-04,"1,25",17\n'
    with pytest.raises(ImportAborted):
        import_orders(_write(tmp_path, text))  # "1,25" here may be a thousands separator: refused


def test_iso_dates_appended_to_a_month_first_file(tmp_path):
    text = "Invoice,StockCode,InvoiceDate,Price,Customer ID\n1,A,12/1/2010 8:26,1,17\n" \
           "2,A,12/13/2010 9:05,1,17\n3,A,2011-12-09 12:50:00,1,17\n"
    report = import_orders(_write(tmp_path, text))
    assert report.invalid == 0
    got = dict(Order.objects.values_list("external_id", "created_at"))
    assert got == {"1": datetime(2010, 12, 1, 8, 26, tzinfo=UTC), "2": datetime(2010, 12, 13, 9, 5, tzinfo=UTC),
                   "3": datetime(2011, 12, 9, 12, 50, tzinfo=UTC)}
