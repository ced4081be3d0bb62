"""The file kinds real exports come in: Excel workbooks (UCI Online Retail II splits its two years over two
sheets with one header), gzip / bzip2 / xz CSVs and a zip holding one CSV."""
from __future__ import annotations

import bz2
import gzip
import lzma
import zipfile
from decimal import Decimal

import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from backend_django.shop.importer import ImportAborted, ImportOptions, import_orders
from backend_django.shop.models import Order, OrderItem

pytestmark = pytest.mark.django_db

HEADER = ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"]
YEAR_1 = [["489434", "85048", "CHRISTMAS LIGHTS", 12, pd.Timestamp("2009-12-01 07:45"), 6.95, 13085.0, "UK"],
          ["489434", "79323P", "PINK CHERRY LIGHTS", 12, pd.Timestamp("2009-12-01 07:45"), 6.75, 13085.0, "UK"]]
YEAR_2 = [["536365", "85123A", "WHITE HANGING HEART", 6, pd.Timestamp("2010-12-01 08:26"), 2.55, 17850.0, "UK"],
          ["C536379", "85123A", "WHITE HANGING HEART", -2, pd.Timestamp("2010-12-02 09:41"), 2.55, 17850.0, "UK"]]
CSV = ("Invoice,StockCode,Quantity,InvoiceDate,Price,Customer ID\n"
       "1,A,3,2011-01-04 10:00,1.25,17\n2,C,1,2011-01-05 09:00,2.50,18\n")


def _workbook(path, sheets: dict[str, list[list]]) -> str:
    with pd.ExcelWriter(path) as writer:
        for name, rows in sheets.items():
            pd.DataFrame(rows, columns=HEADER).to_excel(writer, sheet_name=name, index=False)
    return str(path)


def test_every_sheet_of_a_uci_ii_workbook_is_imported_with_float_ids_and_excel_dates(tmp_path):
    book = _workbook(tmp_path / "online_retail_II.xlsx", {"Year 2009-2010": YEAR_1, "Year 2010-2011": YEAR_2})
    report = import_orders(book)
    assert report.encoding == "xlsx" and report.lines_read == 4
    assert set(Order.objects.values_list("external_id", flat=True)) == {"489434", "536365"}
    # the cancellation in the second sheet was netted off the sale it cancels (the default --returns net)
    assert OrderItem.objects.get(order__external_id="536365").quantity == 4
    first = Order.objects.get(external_id="489434")
    assert first.customer.external_id == "13085"  # 13085.0 from the float cell, not "13085.0"
    assert first.created_at.isoformat() == "2009-12-01T07:45:00+00:00"
    assert OrderItem.objects.get(product__sku="79323P").unit_price == Decimal("6.75")


def test_one_sheet_can_be_chosen_and_a_sheet_with_other_columns_is_named(tmp_path):
    book = tmp_path / "two.xlsx"
    with pd.ExcelWriter(book) as writer:
        pd.DataFrame(YEAR_2, columns=HEADER).to_excel(writer, sheet_name="Sales", index=False)
        pd.DataFrame({"note": ["pivot"]}).to_excel(writer, sheet_name="Summary", index=False)
    with pytest.raises(CommandError, match="sheet 'Summary' has other columns than sheet 'Sales'.*--sheet"):
        call_command("import_orders", str(book))
    assert not Order.objects.exists()
    call_command("import_orders", str(book), "--sheet", "Sales")
    assert list(Order.objects.values_list("external_id", flat=True)) == ["536365"]


def test_an_invalid_row_of_the_second_sheet_is_named_by_sheet_and_excel_row(tmp_path):
    bad = [row.copy() for row in YEAR_2]
    bad[0][5] = "two pounds"
    book = _workbook(tmp_path / "bad.xlsx", {"2009": YEAR_1, "2010": bad})
    with pytest.raises(ImportAborted) as aborted:
        import_orders(book)
    assert aborted.value.report.errors == [(f"{book}[2010]", 2, "invalid unit_price 'two pounds'")]
    report = import_orders(book, options=ImportOptions(on_error="skip"))
    assert report.lines_imported == 2 and Order.objects.count() == 1  # the 2009 sheet; 2010's sale was the bad row


@pytest.mark.parametrize("suffix, opener", [(".gz", gzip.open), (".bz2", bz2.open), (".xz", lzma.open)])
def test_compressed_csv_is_read_as_it_is(tmp_path, suffix, opener):
    path = tmp_path / f"export.csv{suffix}"
    with opener(path, "wt", encoding="cp1252") as fh:
        fh.write(CSV.replace("C,1", "C£,1"))  # Windows-1252 inside the archive: still detected
    report = import_orders(str(path))
    assert report.lines_imported == 2 and report.encoding == "cp1252"
    assert set(OrderItem.objects.values_list("product__sku", flat=True)) == {"A", "C£"}


def test_a_zip_must_hold_exactly_one_csv(tmp_path):
    one = tmp_path / "one.zip"
    with zipfile.ZipFile(one, "w") as z:
        z.writestr("export.csv", CSV)
    assert import_orders(str(one)).lines_imported == 2
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as z:
        z.writestr("a.csv", CSV)
        z.writestr("b.csv", CSV)
    with pytest.raises(CommandError, match="holds 2 files"):
        call_command("import_orders", str(two))


def test_an_old_excel_file_is_refused_by_name(tmp_path):
    path = tmp_path / "Online Retail.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(CommandError, match=r"\.xls files are not read; save it as \.xlsx or CSV"):
        call_command("import_orders", str(path))
