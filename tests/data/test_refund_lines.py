"""Returns and shared customers as the data sources report them: ORM (a differently named shop), CSV, snapshot."""
from __future__ import annotations

import pandas as pd
import pytest
from django.test import override_settings

from ml_predictions.data import ORDER_LINE_COLUMNS, get_data_source
from ml_predictions.data.csv_source import CSVDataSource
from ml_predictions.data.snapshot import SnapshotDataSource
from tests.data.test_data_sources import ALT_SETTINGS, _alt_shop


@pytest.mark.django_db
def test_orm_refund_lines_are_the_lines_of_orders_in_the_refund_statuses():
    shop = _alt_shop()
    with override_settings(ML_PREDICTIONS={**ALT_SETTINGS, "REFUND_ORDER_STATUSES": ["void"],
                                           "ANONYMOUS_CUSTOMER_KEYS": [str(shop["clients"][0].pk)]}):
        source = get_data_source()
        refunds = source.refund_lines()
        assert list(refunds.columns) == ORDER_LINE_COLUMNS
        assert refunds[["customer_id", "quantity", "unit_price"]].values.tolist() == [
            [str(shop["clients"][1].pk), 5, 40.0]]  # the void sale, quantity as stored
        assert len(source.order_lines()) == 3  # and it is still not counted as a sale
        assert source.refund_lines(end="2025-03-06").empty  # the window applies
        # no customer key mapped in this shop: the keys are matched against the id
        assert source.anonymous_customer_ids() == {str(shop["clients"][0].pk)}
        snapshot = SnapshotDataSource(source)
        assert len(snapshot.refund_lines()) == 1 and snapshot.anonymous_customer_ids() == {str(shop["clients"][0].pk)}
    with override_settings(ML_PREDICTIONS={**ALT_SETTINGS, "REFUND_ORDER_STATUSES": [],
                                           "ANONYMOUS_CUSTOMER_KEYS": []}):
        source = get_data_source()
        assert source.refund_lines().empty and source.anonymous_customer_ids() == set()


@pytest.mark.django_db
def test_orm_default_guest_key_on_integer_ids_matches_nothing_instead_of_failing():
    """A shop with integer customer ids and no customer key mapped: the default ["guest"] cannot be one
    of its ids (the second host's segmentation failed with "Field 'id' expected a number")."""
    shop = _alt_shop()
    some = str(shop["clients"][1].pk)
    with override_settings(ML_PREDICTIONS={**ALT_SETTINGS, "ANONYMOUS_CUSTOMER_KEYS": ["guest"]}):
        assert get_data_source().anonymous_customer_ids() == set()
    with override_settings(ML_PREDICTIONS={**ALT_SETTINGS, "ANONYMOUS_CUSTOMER_KEYS": ["guest", some, "7.5"]}):
        assert get_data_source().anonymous_customer_ids() == {some}


@pytest.mark.django_db
def test_orm_guest_is_found_by_the_mapped_customer_key():
    from backend_django.shop.models import Customer

    guest = Customer.objects.create(external_id="guest")
    Customer.objects.create(external_id="17850")
    assert get_data_source().anonymous_customer_ids() == {str(guest.pk)}


def _csv(tmp_path, with_status: bool) -> CSVDataSource:
    lines = pd.DataFrame({
        "order_id": ["1", "2", "C2", "3"], "customer_id": ["a", "b", "b", None], "product_id": ["p", "p", "p", "q"],
        "ordered_at": ["2024-01-01", "2024-01-02", "2024-01-09", "2024-01-03"], "quantity": [1, 2, 1, 4],
        "unit_price": [5.0, 6.0, 6.0, 1.0]})
    if with_status:
        lines["status"] = ["paid", "shipped", "Returned", "paid"]
    lines.to_csv(tmp_path / "order_lines.csv", index=False)
    return CSVDataSource(tmp_path)


def test_csv_status_column_splits_sales_from_returns(tmp_path):
    source = _csv(tmp_path, with_status=True)
    assert source.order_lines()["order_id"].tolist() == ["1", "2", "3"]
    refunds = source.refund_lines()
    assert refunds["order_id"].tolist() == ["C2"] and refunds["quantity"].tolist() == [1]
    assert source.refund_lines(start="2024-01-10").empty
    assert source.anonymous_customer_ids() == set()  # no "guest" among the ids


@pytest.mark.django_db
def test_a_refund_status_is_never_a_sale_even_when_not_listed_as_excluded(tmp_path):
    """A host that names its return documents in REFUND_ORDER_STATUSES alone must not have them counted
    twice: once as a sale and once netted off an earlier purchase."""
    _alt_shop()
    with override_settings(ML_PREDICTIONS={**ALT_SETTINGS, "EXCLUDED_ORDER_STATUSES": [],
                                           "REFUND_ORDER_STATUSES": []}):
        everything = len(get_data_source().order_lines())  # the void sale counts when nothing names it
    with override_settings(ML_PREDICTIONS={**ALT_SETTINGS, "EXCLUDED_ORDER_STATUSES": [],
                                           "REFUND_ORDER_STATUSES": ["void"]}):
        source = get_data_source()
        assert len(source.refund_lines()) == 1 and len(source.order_lines()) == everything - 1
    csv = _csv(tmp_path, with_status=True)
    with override_settings(ML_PREDICTIONS={**ALT_SETTINGS, "EXCLUDED_ORDER_STATUSES": [],
                                           "REFUND_ORDER_STATUSES": ["returned"]}):
        assert csv.order_lines()["order_id"].tolist() == ["1", "2", "3"]
        assert csv.refund_lines()["order_id"].tolist() == ["C2"]


def test_csv_without_status_has_no_returns_and_names_its_guest(tmp_path):
    source = _csv(tmp_path, with_status=False)
    assert len(source.order_lines()) == 4 and source.refund_lines().empty
    assert list(source.refund_lines().columns) == ORDER_LINE_COLUMNS
    frame = pd.read_csv(tmp_path / "order_lines.csv", dtype=str)
    frame.loc[3, "customer_id"] = "guest"
    frame.to_csv(tmp_path / "order_lines.csv", index=False)
    assert source.anonymous_customer_ids() == {"guest"}
