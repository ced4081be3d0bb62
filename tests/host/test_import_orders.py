"""CSV import (`manage.py import_orders`): file shapes, column mapping, rules, errors, idempotency."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from backend_django.shop.importer import (
    IMPORTED_TOTAL_SKU,
    ImportAborted,
    ImportOptions,
    import_orders,
    parse_mapping,
)
from backend_django.shop.models import Category, Customer, Order, OrderItem, Product
from ml_predictions.data import get_data_source

pytestmark = pytest.mark.django_db

CUSTOMERS = """customer_id,email,country,created_at
C001,customer1@example.com,US,2023-01-15
C002,customer2@example.com,UK,2023-02-20
"""
ORDERS = """order_id,customer_id,order_date,order_amount,currency,status
O001,C001,2024-01-10,100.00,EUR,completed
O002,C001,2024-01-05,150.00,EUR,completed
O003,C002,2023-06-15,50.00,EUR,completed
O004,C003,2024-02-01,75.50,USD,cancelled
"""
LINES = """order_id,customer_id,ordered_at,product_id,product_name,category,quantity,unit_price
A1,K1,2025-03-01 10:00:00,P1,Falda lino,Faldas,2,39.50
A1,K1,2025-03-01 10:00:00,P2,Bolso piel,Bolsos,1,90
A1,K1,2025-03-01 10:00:00,P1,Falda lino,Faldas,1,41.00
A2,K2,2025-03-05 18:30:00,P2,Bolso piel,Bolsos,3,85
A3,K1,2025-04-01 09:15:00,P3,Pañuelo,Accesorios,1,12.99
"""
UCI = """InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850.0,United Kingdom
536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,3.39,17850.0,United Kingdom
536366,22633,HAND WARMER UNION JACK,6,12/1/2010 8:28,1.85,17850.0,United Kingdom
536367,84879,ASSORTED COLOUR BIRD ORNAMENT,32,12/1/2010 8:34,1.69,13047,United Kingdom
536368,22960,JAM MAKING SET WITH JARS,6,12/1/2010 8:34,4.25,,United Kingdom
C536379,85123A,WHITE HANGING HEART T-LIGHT HOLDER,-2,12/1/2010 9:41,2.55,17850,United Kingdom
"""
UCI_MAP = ("InvoiceNo=order_id,StockCode=product_id,Description=product_name,Quantity=quantity,"
           "InvoiceDate=ordered_at,UnitPrice=unit_price,CustomerID=customer_id,Country=country")


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _snapshot() -> dict:
    """Every shop row with every value: equal snapshots mean the import changed nothing."""
    return {
        model.__name__: sorted(tuple(str(v) for v in row.values()) for row in model.objects.values())
        for model in (Category, Product, Customer, Order, OrderItem)
    }


def _lines_by_order() -> pd.DataFrame:
    lines = get_data_source().order_lines()
    orders = dict(Order.objects.values_list("id", "external_id"))
    products = dict(Product.objects.values_list("id", "sku"))
    customers = dict(Customer.objects.values_list("id", "external_id"))
    return lines.assign(
        order=lines["order_id"].map(lambda v: orders[uuid.UUID(v)]),
        sku=lines["product_id"].map(lambda v: products[uuid.UUID(v)]),
        customer=lines["customer_id"].map(lambda v: customers[uuid.UUID(v)]),
    ).sort_values(["order", "sku"]).reset_index(drop=True)


def test_peer_mvp_customers_and_orders_files(tmp_path, capsys):
    call_command("import_orders", _write(tmp_path, "orders.csv", ORDERS),
                 customers=_write(tmp_path, "customers.csv", CUSTOMERS))
    out = capsys.readouterr().out
    assert "writing 4 orders" in out and "Imported in" in out and "orders: 4 created, 0 updated" in out
    assert Customer.objects.count() == 3  # C003 appears only in orders.csv and is created from it
    c1 = Customer.objects.get(external_id="C001")
    assert (c1.email, c1.country, c1.created_at) == ("customer1@example.com", "US", datetime(2023, 1, 15, tzinfo=UTC))
    c3 = Customer.objects.get(external_id="C003")
    assert c3.created_at == datetime(2024, 2, 1, tzinfo=UTC) and c3.email == ""  # first order date
    o1 = Order.objects.get(external_id="O001")
    assert (o1.status, o1.currency, o1.customer_id) == ("shipped", "EUR", c1.id)  # "completed" -> shipped
    assert Order.objects.get(external_id="O004").status == "cancelled"
    assert Order.objects.get(external_id="O004").currency == "USD"
    # an order without items keeps its value through one line of the synthetic product
    product = Product.objects.get(sku=IMPORTED_TOTAL_SKU)
    assert product.name == "Imported order total" and product.category.name == "Imported"
    items = OrderItem.objects.filter(product=product)
    assert items.count() == 4 and all(i.quantity == 1 for i in items)
    assert OrderItem.objects.get(order=o1).unit_price == Decimal("100.00")

    lines = _lines_by_order()  # the cancelled O004 is excluded by the data source
    assert list(lines["order"]) == ["O001", "O002", "O003"]
    assert list(lines["customer"]) == ["C001", "C001", "C002"]
    assert list(lines["unit_price"]) == [100.0, 150.0, 50.0]
    assert lines["ordered_at"].iloc[2] == pd.Timestamp("2023-06-15", tz="UTC")


def test_line_item_file_merges_duplicate_lines(tmp_path):
    report = import_orders(_write(tmp_path, "lines.csv", LINES))
    assert report.lines_read == 5 and report.merged_duplicates == 1
    assert report.written["order_items"]["created"] == 4
    assert Order.objects.count() == 3 and Customer.objects.count() == 2
    p1 = Product.objects.get(sku="P1")
    assert (p1.name, p1.category.name, p1.price) == ("Falda lino", "Faldas", Decimal("41.00"))  # latest price
    assert set(Category.objects.values_list("name", flat=True)) >= {"Faldas", "Bolsos", "Accesorios"}
    lines = _lines_by_order()
    assert list(zip(lines["order"], lines["sku"], lines["quantity"], strict=True)) == [
        ("A1", "P1", 3), ("A1", "P2", 1), ("A2", "P2", 3), ("A3", "P3", 1)]
    # merged line: quantities summed, unit price = amount / quantity (2 × 39.50 + 41.00) / 3
    assert lines["unit_price"].iloc[0] == pytest.approx(40.0)
    assert lines["ordered_at"].iloc[2] == pd.Timestamp("2025-03-05 18:30", tz="UTC")
    revenue = (lines["quantity"] * lines["unit_price"]).sum()
    assert revenue == pytest.approx(2 * 39.5 + 41 + 90 + 3 * 85 + 12.99)


def test_uci_online_retail_headers_with_map_and_rules(tmp_path):
    path = _write(tmp_path, "online_retail.csv", UCI)
    report = import_orders(path, options=ImportOptions(column_map=parse_mapping(UCI_MAP),
                                                       date_format="%m/%d/%Y %H:%M"))
    # the default rules: no customer -> skipped and counted; a return (negative quantity) -> taken off the
    # customer's earlier line of that product (6 hearts bought, 2 cancelled: 4 remain)
    assert (report.skipped_no_customer, report.returns_netted, report.lines_imported) == (1, 1, 4)
    assert report.skipped_returns == 0
    assert set(Customer.objects.values_list("external_id", flat=True)) == {"17850", "13047"}  # '17850.0' fixed
    assert Customer.objects.get(external_id="17850").country == "United Kingdom"
    assert set(Order.objects.values_list("external_id", flat=True)) == {"536365", "536366", "536367"}
    lines = _lines_by_order()
    assert len(lines) == 4
    first = lines[lines["sku"] == "84879"].iloc[0]
    assert (first["quantity"], first["unit_price"], first["customer"]) == (32, 1.69, "13047")
    assert first["ordered_at"] == pd.Timestamp("2010-12-01 08:34", tz="UTC")
    assert Product.objects.get(sku="85123A").name == "WHITE HANGING HEART T-LIGHT HOLDER"


def test_uci_online_retail_headers_need_no_map(tmp_path):
    """A standard online-retail export imports as it is: its headers are recognised by name."""
    mapped = import_orders(_write(tmp_path, "mapped.csv", UCI), options=ImportOptions(
        column_map=parse_mapping(UCI_MAP), date_format="%m/%d/%Y %H:%M"))
    mapped_snapshot = _snapshot()
    for model in (OrderItem, Order, Product, Category, Customer):
        model.objects.all().delete()
    plain = import_orders(_write(tmp_path, "plain.csv", UCI))
    assert (plain.lines_imported, plain.skipped_no_customer, plain.returns_netted) == (
        mapped.lines_imported, mapped.skipped_no_customer, mapped.returns_netted) == (4, 1, 1)
    assert _snapshot().keys() == mapped_snapshot.keys()
    assert set(Order.objects.values_list("external_id", flat=True)) == {"536365", "536366", "536367"}
    assert Product.objects.get(sku="84879").name == "ASSORTED COLOUR BIRD ORNAMENT"
    assert Customer.objects.get(external_id="13047").country == "United Kingdom"


def test_online_retail_ii_headers_with_day_first_dates(tmp_path):
    """The second UCI release names its columns "Invoice", "Price" and "Customer ID"; exports of it are
    often day-first. The first dates have days <= 12, so only the later rows tell the two readings apart."""
    text = """Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country
489434,85048,15CM CHRISTMAS GLASS BALL 20 LIGHTS,12,01/12/2009 07:45,6.95,13085.0,United Kingdom
489435,22350,CAT BOWL,12,05/12/2009 10:05,2.55,13085.0,United Kingdom
489436,48173C,DOOR MAT BLACK FLOCK,10,13/12/2009 09:06,5.95,13078.0,United Kingdom
489437,21755,LOVE BUILDING BLOCK WORD,18,25/12/2009 09:08,5.45,15362.0,United Kingdom
"""
    report = import_orders(_write(tmp_path, "retail_ii.csv", text))
    assert (report.lines_imported, report.invalid) == (4, 0)
    got = dict(Order.objects.values_list("external_id", "created_at"))
    assert got["489434"] == datetime(2009, 12, 1, 7, 45, tzinfo=UTC)  # day first: 1 December, not 12 January
    assert got["489435"] == datetime(2009, 12, 5, 10, 5, tzinfo=UTC)
    assert got["489437"] == datetime(2009, 12, 25, 9, 8, tzinfo=UTC)
    assert Product.objects.get(sku="22350").price == Decimal("2.55")


def test_month_first_slashed_dates_stay_month_first(tmp_path):
    text = """order_id,customer_id,ordered_at,unit_price
A,K,12/1/2010 8:26,1
B,K,12/13/2010 8:26,1
"""
    import_orders(_write(tmp_path, "us.csv", text))
    got = dict(Order.objects.values_list("external_id", "created_at"))
    assert (got["A"].month, got["A"].day, got["B"].day) == (12, 1, 13)


def test_a_canonical_column_wins_over_a_recognised_header(tmp_path):
    text = """order_id,Invoice,customer_id,ordered_at,unit_price
REAL-1,OTHER-1,K,2025-01-01,3
"""
    import_orders(_write(tmp_path, "both.csv", text))
    assert list(Order.objects.values_list("external_id", flat=True)) == ["REAL-1"]


def test_returns_as_refunds_and_guest_customer(tmp_path):
    path = _write(tmp_path, "online_retail.csv", UCI)
    call_command("import_orders", path, "--map", UCI_MAP, "--date-format", "%m/%d/%Y %H:%M",
                 "--returns", "refund", "--missing-customer", "guest", "--timezone", "Europe/London")
    refund = Order.objects.get(external_id="C536379")
    assert refund.status == "returned"
    assert refund.items.get().quantity == 2  # stored positive; the status says it went back
    assert Order.objects.get(external_id="536368").customer.external_id == "guest"
    lines = _lines_by_order()
    assert "C536379" not in set(lines["order"])  # refunded orders are excluded from training data
    assert len(lines) == 5 and (lines["customer"] == "guest").sum() == 1


def test_mixed_order_returns_go_to_a_separate_returned_order(tmp_path):
    text = ("order_id,customer_id,ordered_at,product_id,quantity,unit_price\n"
            "R1,K1,2025-01-02,P1,3,10\nR1,K1,2025-01-02,P2,-1,20\n")
    import_orders(_write(tmp_path, "mixed.csv", text), options=ImportOptions(returns="refund"))
    assert Order.objects.get(external_id="R1").status == "paid"
    ret = Order.objects.get(external_id="R1:return")
    assert ret.status == "returned" and ret.items.get().quantity == 1


def test_malformed_csv_reports_line_numbers_and_changes_nothing(tmp_path):
    import_orders(_write(tmp_path, "lines.csv", LINES))
    before = _snapshot()
    bad = (LINES.splitlines()[0] + "\n"
           "B1,K1,2025-05-01 10:00:00,P1,Falda lino,Faldas,1,39.50\n"   # line 2 fine
           "B1,K1,not a date,P2,Bolso piel,Bolsos,1,90\n"                # line 3 bad date
           "B2,K2,2025-05-02 10:00:00,P2,Bolso,Bolsos,1,90,extra\n"    # line 4 too many fields
           "B3,K2,2025-05-03 10:00:00,P3,Pañuelo,Accesorios,1.5,12\n"   # line 5 fractional quantity
           "B4,K2,2025-05-03 10:00:00,P3,Pañuelo,Accesorios,1,abc\n"    # line 6 bad price
           "B5,K2,2025-05-04 10:00:00,P3,Pañuelo,Accesorios,1,12\n")    # line 7 fine
    path = _write(tmp_path, "bad.csv", bad)
    with pytest.raises(CommandError) as exc:
        call_command("import_orders", path)
    message = str(exc.value)
    for expected in ("bad.csv:3: invalid ordered_at 'not a date'", "bad.csv:4: malformed row",
                     "bad.csv:5: quantity is not a whole number", "bad.csv:6: invalid unit_price 'abc'"):
        assert expected in message
    assert "Nothing was imported" in message
    assert _snapshot() == before

    with pytest.raises(ImportAborted) as aborted:
        import_orders(path)
    assert [line for _, line, _ in aborted.value.report.errors] == [3, 4, 5, 6]

    errors_file = tmp_path / "errors.csv"
    call_command("import_orders", path, "--skip-invalid", "--errors-file", str(errors_file))
    assert set(Order.objects.filter(external_id__startswith="B").values_list("external_id", flat=True)) == {"B1", "B5"}
    assert list(pd.read_csv(errors_file)["line"]) == [3, 4, 5, 6]


def test_missing_columns_and_bad_mapping_are_clear_errors(tmp_path):
    path = _write(tmp_path, "x.csv", "a,b\n1,2\n")
    with pytest.raises(CommandError, match="ordered_at"):
        call_command("import_orders", path)
    with pytest.raises(CommandError, match="does not have"):
        call_command("import_orders", path, "--map", "Nope=order_id")
    with pytest.raises(CommandError, match="not one of"):
        call_command("import_orders", path, "--map", "a=nonsense")
    with pytest.raises(CommandError, match="does not exist"):
        call_command("import_orders", str(tmp_path / "missing.csv"))


def test_reimport_is_idempotent_and_a_changed_file_is_upserted(tmp_path):
    orders, customers = _write(tmp_path, "orders.csv", ORDERS), _write(tmp_path, "customers.csv", CUSTOMERS)
    lines = _write(tmp_path, "lines.csv", LINES)
    import_orders(orders, customers_path=customers)
    import_orders(lines)
    before = _snapshot()
    again = import_orders(orders, customers_path=customers)
    assert again.changed() == 0
    again = import_orders(lines)
    assert again.changed() == 0
    assert _snapshot() == before

    # the source changed: one quantity, one line removed, one customer's e-mail
    changed = LINES.replace("A2,K2,2025-03-05 18:30:00,P2,Bolso piel,Bolsos,3,85",
                            "A2,K2,2025-03-05 18:30:00,P2,Bolso piel,Bolsos,4,85")
    changed = changed.replace("A1,K1,2025-03-01 10:00:00,P2,Bolso piel,Bolsos,1,90\n", "")
    report = import_orders(_write(tmp_path, "lines.csv", changed))
    assert report.written["order_items"] == {"created": 0, "updated": 1, "deleted": 1}
    assert OrderItem.objects.get(order__external_id="A2").quantity == 4
    assert not OrderItem.objects.filter(order__external_id="A1", product__sku="P2").exists()
    report = import_orders(None, customers_path=_write(tmp_path, "customers.csv",
                                                       CUSTOMERS.replace("customer1@", "new1@")))
    assert report.written["customers"] == {"created": 0, "updated": 1, "deleted": 0}
    assert Customer.objects.get(external_id="C001").email == "new1@example.com"


def test_dry_run_rolls_back(tmp_path):
    call_command("import_orders", _write(tmp_path, "lines.csv", LINES), "--dry-run")
    assert Order.objects.count() == 0 and Customer.objects.count() == 0


def test_whitespace_file_without_order_ids_makes_one_order_per_customer_day(tmp_path):
    text = (" customer_id  date number_of_cds  dollar_value\n"
            " 00001 19970101  1   11.77\n"
            " 00002 19970112  1   12.00\n"
            " 00002 19970112  5   77.00\n"
            " 00002 19970302  2   20.76\n")
    call_command("import_orders", _write(tmp_path, "cdnow.txt", text), "--sep", "whitespace", "--map",
                 "date=ordered_at,number_of_cds=quantity,dollar_value=line_total", "--date-format", "%Y%m%d",
                 "--id-prefix", "cdnow:")
    assert sorted(Customer.objects.values_list("external_id", flat=True)) == ["cdnow:00001", "cdnow:00002"]
    assert Order.objects.count() == 3  # two rows of 00002 on 1997-01-12 are one order
    lines = _lines_by_order()
    day = lines[lines["order"] == "cdnow:00002@1997-01-12T00:00:00"].iloc[0]
    assert day["quantity"] == 6 and day["quantity"] * day["unit_price"] == pytest.approx(89.0, abs=0.03)
    assert (lines["quantity"] * lines["unit_price"]).sum() == pytest.approx(11.77 + 12 + 77 + 20.76, abs=0.05)


def test_two_columns_joined_into_the_timestamp_and_excluded_values(tmp_path):
    text = ("Date,Time,Transaction,Item\n2016-10-30,09:58:11,1,Bread\n2016-10-30,10:05:34,2,Scandinavian\n"
            "2016-10-30,10:05:34,2,Scandinavian\n2016-10-30,10:07:57,3,NONE\n")
    report = import_orders(_write(tmp_path, "bread.csv", text), options=ImportOptions(
        column_map=parse_mapping("Transaction=order_id,Item=product_id,Date+Time=ordered_at"),
        defaults={"unit_price": "0"}, exclude={"product_id": ["NONE"]}, missing_customer="guest"))
    assert report.excluded == 1 and report.merged_duplicates == 1
    assert Order.objects.get(external_id="2").created_at == datetime(2016, 10, 30, 10, 5, 34, tzinfo=UTC)
    assert OrderItem.objects.get(order__external_id="2").quantity == 2  # one row per unit
    assert Product.objects.get(sku="Scandinavian").name == "Scandinavian"


def test_ids_longer_than_the_columns_are_invalid_rows(tmp_path):
    text = ("order_id,customer_id,ordered_at,product_id,quantity,unit_price\n"
            f"{'X' * 101},K1,2025-01-02,P1,1,10\nOK1,K1,2025-01-02,{'P' * 65},1,10\nOK2,K1,2025-01-02,P1,1,10\n")
    report = import_orders(_write(tmp_path, "long.csv", text), options=ImportOptions(on_error="skip"))
    assert [(line, msg) for _, line, msg in report.errors] == [
        (2, "order_id longer than 100 characters"), (3, "product_id longer than 64 characters")]
    assert list(Order.objects.values_list("external_id", flat=True)) == ["OK2"]


def test_naive_timestamps_are_read_in_the_given_timezone(tmp_path):
    text = "order_id,customer_id,ordered_at,product_id,quantity,unit_price\nT1,K1,2025-07-01 10:00,P1,1,10\n"
    call_command("import_orders", _write(tmp_path, "tz.csv", text), "--timezone", "Europe/Madrid")
    assert Order.objects.get(external_id="T1").created_at == datetime(2025, 7, 1, 8, 0, tzinfo=UTC)  # CEST = UTC+2


def test_customers_file_blank_cells_keep_stored_values(tmp_path):
    import_orders(None, customers_path=_write(tmp_path, "c.csv", CUSTOMERS))
    report = import_orders(None, customers_path=_write(tmp_path, "c2.csv", "customer_id,email,country,created_at\n"
                                                                         "C001,,FR,\n"))
    assert report.written["customers"]["updated"] == 1
    c1 = Customer.objects.get(external_id="C001")
    assert (c1.email, c1.country, c1.created_at) == ("customer1@example.com", "FR", datetime(2023, 1, 15, tzinfo=UTC))
