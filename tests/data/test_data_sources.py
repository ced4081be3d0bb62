"""The data-source contract, run on the ORM source (shop and a differently shaped shop) and on CSV."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ml_predictions.data import CUSTOMER_COLUMNS, ORDER_LINE_COLUMNS, PRODUCT_COLUMNS, get_data_source
from ml_predictions.data.base import normalize_order_lines
from ml_predictions.data.csv_source import CSVDataSource
from ml_predictions.data.orm import SPLIT_VENDORS, DjangoORMDataSource
from ml_predictions.errors import DataSourceError
from tests.helpers import selects

ALT_SETTINGS = {
    "DATA_SOURCE": "ml_predictions.data.orm.DjangoORMDataSource",
    "ORDER_ITEM_MODEL": "altshop.SaleLine",
    "PRODUCT_MODEL": "altshop.Article",
    "CUSTOMER_MODEL": "altshop.Client",
    "FIELDS": {
        "order_line": {"order_id": "sale_id", "customer_id": "sale__client_id", "product_id": "article_id",
                       "ordered_at": "sale__sold_on", "quantity": "units", "unit_price": "price_each",
                       "status": "sale__state"},
        "product": {"id": "id", "name": "title", "description": None, "category": "family", "price": "list_price",
                    "cost": "purchase_price", "stock": "on_hand", "lead_time_days": None, "image_url": None,
                    "active": None},
        "customer": {"id": "id", "created_at": "signup"},
    },
    "EXCLUDED_ORDER_STATUSES": ["void"],
}


def _alt_shop():
    from tests.altshop.models import Article, Client, Sale, SaleLine

    c1 = Client.objects.create(signup=datetime(2025, 1, 1, tzinfo=UTC))
    c2 = Client.objects.create(signup=datetime(2025, 2, 1, tzinfo=UTC))
    a = Article.objects.create(code="A", title="Falda", family="Faldas", list_price=Decimal("40"), on_hand=3)
    b = Article.objects.create(code="B", title="Bolso", family="Bolsos", list_price=Decimal("90"),
                               purchase_price=Decimal("30"), on_hand=10)
    s1 = Sale.objects.create(client=c1, sold_on=datetime(2025, 3, 1, 10, tzinfo=UTC))
    s2 = Sale.objects.create(client=c2, sold_on=datetime(2025, 3, 5, 10, tzinfo=UTC))
    s3 = Sale.objects.create(client=c2, sold_on=datetime(2025, 3, 6, 10, tzinfo=UTC), state="void")
    SaleLine.objects.create(sale=s1, article=a, units=2, price_each=Decimal("39.50"))
    SaleLine.objects.create(sale=s1, article=b, units=1, price_each=Decimal("90"))
    SaleLine.objects.create(sale=s2, article=b, units=1, price_each=Decimal("85"))
    SaleLine.objects.create(sale=s3, article=a, units=5, price_each=Decimal("40"))
    return {"clients": (c1, c2), "articles": (a, b)}


def _write_csvs(tmp_path, source):
    source.order_lines().to_csv(tmp_path / "order_lines.csv", index=False)
    source.products().to_csv(tmp_path / "products.csv", index=False)
    source.customers().to_csv(tmp_path / "customers.csv", index=False)
    return CSVDataSource(tmp_path)


def assert_contract(source):
    lines = source.order_lines()
    assert list(lines.columns) == ORDER_LINE_COLUMNS
    assert str(lines["ordered_at"].dt.tz) == "UTC"
    assert lines["quantity"].dtype == "int64" and lines["unit_price"].dtype == "float64"
    for col in ("order_id", "customer_id", "product_id"):
        assert lines[col].map(type).eq(str).all()
    products = source.products()
    assert list(products.columns) == PRODUCT_COLUMNS
    assert products["id"].map(type).eq(str).all()
    customers = source.customers()
    assert list(customers.columns) == CUSTOMER_COLUMNS
    assert set(lines["product_id"]) <= set(products["id"])
    assert set(lines["customer_id"]) <= set(customers["id"])
    # windowing: start inclusive, end exclusive
    mid = lines["ordered_at"].sort_values().iloc[len(lines) // 2]
    before, after = source.order_lines(end=mid), source.order_lines(start=mid)
    assert len(before) + len(after) == len(lines)
    assert (before["ordered_at"] < mid).all() and (after["ordered_at"] >= mid).all()
    return lines, products, customers


@pytest.mark.django_db
def test_orm_source_on_the_shop_and_csv_roundtrip(small_shop, tmp_path):
    orm = get_data_source()
    lines, products, customers = assert_contract(orm)
    # cancelled and refunded orders are excluded
    kept = small_shop.orders[~small_shop.orders["status"].isin(["cancelled", "refunded"])]
    assert lines["order_id"].nunique() == len(kept)
    assert len(customers) == len(small_shop.customers) and len(products) == len(small_shop.products)
    # ids are canonical dashed UUIDs on every database
    assert lines["order_id"].str.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[47][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}").all()
    revenue = (lines["quantity"] * lines["unit_price"]).sum()
    items = small_shop.order_items.merge(kept[["id"]], left_on="order_id", right_on="id")
    assert revenue == pytest.approx((items["quantity"] * items["unit_price"]).sum(), rel=1e-9)

    csv = _write_csvs(tmp_path, orm)
    csv_lines, csv_products, csv_customers = assert_contract(csv)
    pd.testing.assert_frame_equal(csv_lines, lines, check_dtype=False)
    assert set(csv_products["id"]) == set(products["id"])


@pytest.mark.django_db
def test_timestamps_are_the_databases_own_to_the_microsecond(small_shop):
    """PostgreSQL sends epoch microseconds, SQLite text: both must give the stored instants exactly,
    before 1970 and with sub-second parts included."""
    from backend_django.shop.models import Customer, Order

    stamps = [datetime(1969, 7, 20, 20, 17, 40, 250000, tzinfo=UTC), datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC),
              datetime(2038, 1, 19, 3, 14, 8, 1, tzinfo=UTC)]
    picked = list(Order.objects.filter(status="paid").order_by("id")[:3])
    for order, stamp in zip(picked, stamps, strict=True):
        order.created_at = stamp
        order.save(update_fields=["created_at"])
    Customer.objects.filter(pk=picked[0].customer_id).update(created_at=stamps[0])
    lines = get_data_source().order_lines()
    got = lines.groupby("order_id")["ordered_at"].first()
    for order, stamp in zip(picked, stamps, strict=True):
        assert got[str(order.pk)] == pd.Timestamp(stamp)
    expected = {str(o): pd.Timestamp(t) for o, t in Order.objects.values_list("pk", "created_at")}
    assert all(got[k] == expected[k] for k in got.index)
    customers = get_data_source().customers().set_index("id")
    assert customers.loc[str(picked[0].customer_id), "created_at"] == pd.Timestamp(stamps[0])


@pytest.mark.django_db
def test_reads_are_one_query_per_table(small_shop):
    source = get_data_source()
    with CaptureQueriesContext(connection) as ctx:
        source.order_lines()
    sql = " ".join(q["sql"].upper() for q in ctx.captured_queries)
    if connection.vendor in SPLIT_VENDORS:  # the whole history: the lines and the orders, scanned apart
        assert len(selects(ctx)) == 2 and "JOIN" not in sql
    else:
        assert len(selects(ctx)) == 1 and "JOIN" in sql
    with CaptureQueriesContext(connection) as ctx:
        source.order_lines(start=datetime(2020, 1, 1, tzinfo=UTC))
    assert len(selects(ctx)) == 1  # a window: one joined query, which the database narrows by date
    with CaptureQueriesContext(connection) as ctx:
        source.products()
        source.customers()
    assert len(selects(ctx)) == 2


@pytest.mark.django_db
def test_a_differently_shaped_shop_plugs_in_by_settings_alone(settings, tmp_path):
    shop = _alt_shop()
    settings.ML_PREDICTIONS = ALT_SETTINGS
    source = get_data_source()
    assert isinstance(source, DjangoORMDataSource)
    lines, products, customers = assert_contract(source)
    assert len(lines) == 3  # the void sale is excluded
    assert sorted(lines["quantity"]) == [1, 1, 2]
    assert lines["unit_price"].sum() == pytest.approx(39.5 + 90 + 85)
    assert set(lines["customer_id"]) == {str(c.pk) for c in shop["clients"]}
    bolso = products.set_index("name").loc["Bolso"]
    assert bolso["category"] == "Bolsos" and bolso["cost"] == 30 and bolso["stock"] == 10
    assert pd.isna(products.set_index("name").loc["Falda", "cost"])
    csv = _write_csvs(tmp_path, source)
    assert_contract(csv)


@pytest.mark.django_db
def test_wrong_mapping_is_a_clear_error(settings):
    settings.ML_PREDICTIONS = {**ALT_SETTINGS, "FIELDS": {"order_line": {"quantity": "no_such_field"}}}
    with pytest.raises(DataSourceError, match="order_line"):
        get_data_source().order_lines()
    settings.ML_PREDICTIONS = {**ALT_SETTINGS, "ORDER_ITEM_MODEL": "nope.Model"}
    with pytest.raises(DataSourceError, match="ORDER_ITEM_MODEL"):
        get_data_source().order_lines()


def test_csv_source_reports_missing_files_and_columns(tmp_path):
    with pytest.raises(DataSourceError, match="does not exist"):
        CSVDataSource(tmp_path).order_lines()
    (tmp_path / "order_lines.csv").write_text("order_id,customer_id\n1,2\n")
    with pytest.raises(DataSourceError, match="lacks columns"):
        CSVDataSource(tmp_path).order_lines()


@pytest.mark.django_db
def test_system_check_flags_a_missing_model(settings):
    from ml_predictions.checks import check_ml_settings

    settings.ML_PREDICTIONS = {**ALT_SETTINGS, "PRODUCT_MODEL": "altshop.Nothing"}
    errors = check_ml_settings()
    assert [e.id for e in errors] == ["ml_predictions.E003"]


@pytest.mark.django_db
def test_unknown_stock_is_nan_never_zero(settings, tmp_path):
    """A host that maps stock to None, a NULL stock and a CSV without a stock column all give NaN."""
    host = dict(settings.ML_PREDICTIONS)
    _alt_shop()
    fields = {**ALT_SETTINGS["FIELDS"], "product": {**ALT_SETTINGS["FIELDS"]["product"], "stock": None}}
    settings.ML_PREDICTIONS = {**ALT_SETTINGS, "FIELDS": fields}
    products = get_data_source().products()
    assert products["stock"].dtype == "float64" and products["stock"].isna().all()
    settings.ML_PREDICTIONS = host  # the demo shop, whose stock column allows NULL
    from backend_django.shop.models import Category, Product

    cat = Category.objects.create(name="Faldas")
    Product.objects.create(sku="N", name="Unknown", category=cat, price=Decimal("1"), stock_quantity=None)
    Product.objects.create(sku="Z", name="Sold out", category=cat, price=Decimal("1"), stock_quantity=0)
    stock = get_data_source().products().set_index("name")["stock"]
    assert pd.isna(stock["Unknown"]) and stock["Sold out"] == 0.0
    (tmp_path / "products.csv").write_text("id,name\nA,Falda\n")
    assert CSVDataSource(tmp_path).products()["stock"].isna().all()


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["order_id", "product_id", "quantity", "unit_price"]).reset_index(drop=True)


@pytest.mark.django_db
@pytest.mark.parametrize("shop", ["shop", "altshop"])
def test_the_history_read_in_two_scans_equals_the_joined_read(shop, small_shop, settings):
    """The two-scan read of the whole history must give exactly the joined read's frame: the same lines
    (an excluded order's lines dropped), ids, instants and amounts, whichever the key type."""
    if shop == "altshop":
        _alt_shop()
        settings.ML_PREDICTIONS = ALT_SETTINGS
    source = get_data_source()
    queryset = source._order_line_queryset()
    joined = source._rows(queryset, "order_line", ORDER_LINE_COLUMNS)
    plan = source._split_plan(queryset.model, source.fields["order_line"])
    assert plan is not None
    apart = normalize_order_lines(source._split_rows(queryset, *plan))  # on every database, used or not
    pd.testing.assert_frame_equal(_sorted(apart), _sorted(normalize_order_lines(joined)))
    assert len(apart) == (3 if shop == "altshop" else len(joined)) and len(apart) > 0


@pytest.mark.django_db
def test_a_mapping_across_two_relations_keeps_the_joined_read(settings):
    """A column behind a second relation (here the product's own id read through the product) cannot be
    read by scanning the lines and the orders apart: the source keeps the single joined query."""
    _alt_shop()
    fields = {**ALT_SETTINGS["FIELDS"], "order_line": {**ALT_SETTINGS["FIELDS"]["order_line"], "product_id": "article__id"}}
    settings.ML_PREDICTIONS = {**ALT_SETTINGS, "FIELDS": fields}
    source = get_data_source()
    assert source._split_plan(source._order_line_queryset().model, source.fields["order_line"]) is None
    with CaptureQueriesContext(connection) as ctx:
        lines = source.order_lines()
    assert len(selects(ctx)) == 1 and len(lines) == 3
