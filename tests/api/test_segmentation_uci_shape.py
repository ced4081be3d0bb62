"""An online-retail export (the UCI layout) through `import_orders` and the segmentation API, end to end.

The rows are synthetic but have the real file's shape and quirks: InvoiceNo, StockCode, Description,
Quantity, InvoiceDate (m/d/Y H:M), UnitPrice, CustomerID written as a float ('17850.0'), Country;
cancellations as 'C' invoices with negative quantities, and lines without a CustomerID.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command

from backend_django.shop.importer import SERVICE_CODES
from backend_django.shop.models import Customer, Order

pytestmark = pytest.mark.django_db
UCI_MAP = ("InvoiceNo=order_id,StockCode=product_id,Description=product_name,Quantity=quantity,"
           "InvoiceDate=ordered_at,UnitPrice=unit_price,CustomerID=customer_id,Country=country")
START = datetime(2010, 12, 1, 8, 0)


def _uci_rows(n_customers: int = 120, seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The export, and the net spend per customer the import must end with: the default rules take each
    cancellation off the sale it cancels (the same customer's earlier line of the product)."""
    rng = np.random.default_rng(seed)
    stock = [(f"{85000 + i}{'A' if i % 3 == 0 else ''}", f"ITEM {i}", round(0.5 + 0.37 * i, 2)) for i in range(40)]
    rows, invoice = [], 536365
    for c in range(n_customers):
        cid = f"{12346 + c}.0"
        heavy = c % 4 == 0  # a quarter buys every few weeks, the rest now and then
        n = 1 + rng.poisson(9 if heavy else 2)
        first = rng.integers(0, 300)
        days = np.sort(first + rng.choice(370 - first, size=min(n, 370 - first), replace=False))
        for d in days:
            when = START + timedelta(days=int(d), minutes=int(rng.integers(0, 600)))
            for j in rng.choice(len(stock), size=int(rng.integers(1, 4)), replace=False):
                code, name, price = stock[j]
                rows.append((str(invoice), code, name, int(rng.integers(1, 13)), when, price, cid, "United Kingdom"))
            if rng.random() < 0.08:  # a cancellation of the invoice's first line, the same day
                code, name, price = rows[-1][1], rows[-1][2], rows[-1][5]
                rows.append((f"C{invoice}", code, name, -1, when + timedelta(hours=1), price, cid, "United Kingdom"))
            invoice += 1
    for k in range(30):  # guest checkouts: no CustomerID
        rows.append((str(invoice + k), stock[k][0], stock[k][1], 2, START + timedelta(days=10 + 5 * k), stock[k][2], "",
                     "France"))
    frame = pd.DataFrame(rows, columns=["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
                                        "CustomerID", "Country"])
    sales = frame[frame["CustomerID"] != ""]
    spend = (sales["Quantity"] * sales["UnitPrice"]).groupby(sales["CustomerID"].str[:-2]).sum()
    return frame, spend


def test_uci_shaped_export_is_imported_and_segmented(tmp_path, staff_client):
    frame, spend = _uci_rows()
    out = frame.assign(InvoiceDate=frame["InvoiceDate"].map(lambda t: f"{t.month}/{t.day}/{t.year} {t:%H:%M}"))
    path = tmp_path / "online_retail.csv"
    out.to_csv(path, index=False)
    call_command("import_orders", str(path), "--map", UCI_MAP, "--date-format", "%m/%d/%Y %H:%M")
    assert Customer.objects.count() == len(spend) == 120  # guests skipped, '12346.0' stored as '12346'
    assert not Order.objects.filter(external_id__startswith="C").exists()  # cancellations skipped

    res = staff_client.post("/api/ml/train-customer-segmentation/", {"n_clusters": 4, "window_days": 730},
                            format="json")
    assert res.status_code == 200, res.content[:500]
    metrics = res.json()["metrics"]
    assert metrics["n_customers_with_orders"] == 120 and metrics["n_clusters"] == 4
    fitted = {n: c for n, c in metrics["clv"]["selection"]["candidates"].items() if "spearman" in c}
    assert fitted, metrics["clv"]["selection"]  # scored on the export's own last days

    ids = dict(Customer.objects.values_list("external_id", "id"))
    heavy = spend.idxmax()
    body = staff_client.get(f"/api/ml/customer-segment/{ids[heavy]}/").json()
    assert body["characteristics"]["total_spent"] == pytest.approx(spend[heavy], abs=0.01)
    assert 0 <= body["probability_alive"] <= 1 and body["lifetime_value_prediction"] > 0
    clvs = pd.Series({ext: staff_client.get(f"/api/ml/customer-segment/{pk}/").json()["lifetime_value_prediction"]
                      for ext, pk in list(ids.items())[:40]})
    # past spend and predicted value agree in rank on this regular-buyer shop
    assert clvs.corr(spend.reindex(clvs.index), method="spearman") > 0.5
    segments = staff_client.get("/api/ml/segments/").json()["segments"]
    assert sum(s["size"] for s in segments) == 120


def _with_returns_and_guests(seed: int = 7) -> tuple[pd.DataFrame, pd.Series, float]:
    """The export with what a real one also has: later cancellations, postage/manual/bank-charge codes,
    a bad-debt adjustment with a negative price, and a customer whose only line is a cancellation (the
    sale predates the export). Returns the frame, the net spend each customer must end with (sales
    minus their cancellations; postage and charges are not merchandise and are skipped at import) and the returns-only customer's value."""
    frame, _ = _uci_rows(seed=seed)
    rng = np.random.default_rng(seed)
    extra = []
    sales = frame[(frame["Quantity"] > 0) & (frame["CustomerID"] != "")]
    for cid, group in sales.groupby("CustomerID"):
        last = group.iloc[-1]
        if rng.random() < 0.3:  # postage or a manual line on the customer's last invoice
            code = "POST" if rng.random() < 0.5 else "M"
            extra.append((last["InvoiceNo"], code, "POSTAGE" if code == "POST" else "Manual", 1,
                          last["InvoiceDate"], 18.0, cid, "Germany"))
        if rng.random() < 0.15:  # a cancellation weeks after the invoice it reverses, one unit of one line
            extra.append((f"C{last['InvoiceNo']}9", last["StockCode"], last["Description"], -1,
                          last["InvoiceDate"] + timedelta(days=20), last["UnitPrice"], cid, "Germany"))
    extra.append(("537000", "BANK CHARGES", "Bank Charges", 1, START + timedelta(days=40), 15.0, "12346.0",
                  "United Kingdom"))
    extra.append(("A563185", "B", "Adjust bad debt", 1, START + timedelta(days=200), -11062.06, "", "United Kingdom"))
    extra.append(("C999999", "85000A", "ITEM 0", -3, START + timedelta(days=5), 4.0, "99999.0", "United Kingdom"))
    frame = pd.concat([frame, pd.DataFrame(extra, columns=frame.columns)], ignore_index=True)
    named = frame[(frame["CustomerID"] != "") & (frame["CustomerID"] != "99999.0")
                  & ~frame["StockCode"].str.upper().isin(SERVICE_CODES)]  # fees are skipped at import
    value = named["Quantity"] * named["UnitPrice"]
    net = value.groupby(named["CustomerID"].str[:-2]).sum().round(2)
    return frame, net, 12.0


def test_uci_export_with_returns_and_guests_nets_returns_and_leaves_the_guest_out(tmp_path, staff_client):
    from ml_predictions.data import get_data_source

    frame, net, returns_only = _with_returns_and_guests()
    out = frame.assign(InvoiceDate=frame["InvoiceDate"].map(lambda t: f"{t.month}/{t.day}/{t.year} {t:%H:%M}"))
    path = tmp_path / "online_retail.csv"
    out.to_csv(path, index=False)
    call_command("import_orders", str(path), "--map", UCI_MAP, "--date-format", "%m/%d/%Y %H:%M",
                 "--returns", "refund", "--missing-customer", "guest", "--skip-invalid")
    guest = Customer.objects.get(external_id="guest")
    assert Customer.objects.count() == 122  # 120 buyers, the returns-only customer, the guest
    cancelled = frame[frame["Quantity"] < 0]
    source = get_data_source()
    refunds = source.refund_lines()
    assert len(refunds) == len(cancelled) and (refunds["quantity"] > 0).all()
    assert refunds["quantity"].sum() == -cancelled["Quantity"].sum()
    assert source.anonymous_customer_ids() == {str(guest.pk)}

    res = staff_client.post("/api/ml/train-customer-segmentation/", {"n_clusters": 4, "window_days": 730},
                            format="json")
    assert res.status_code == 200, res.content[:500]
    metrics = res.json()["metrics"]
    returned = float((-cancelled["Quantity"] * cancelled["UnitPrice"]).sum())
    assert metrics["returns"]["returned_value"] == pytest.approx(returned, abs=0.01)
    assert metrics["returns"]["unmatched_value"] == pytest.approx(returns_only, abs=0.01)
    assert metrics["returns"]["netted_value"] == pytest.approx(returned - returns_only, abs=0.01)
    assert metrics["returns"]["anonymous_customers_excluded"] == 1
    assert metrics["n_customers_with_orders"] == 120

    ids = dict(Customer.objects.values_list("external_id", "id"))
    assert staff_client.get(f"/api/ml/customer-segment/{guest.pk}/").status_code == 404
    returned_ids = sorted(cancelled.loc[cancelled["CustomerID"] != "99999.0", "CustomerID"].str[:-2].unique())
    assert len(returned_ids) >= 5
    for ext in returned_ids[:8]:  # spend is net of the cancellation, one fewer purchase if nothing was left
        body = staff_client.get(f"/api/ml/customer-segment/{ids[ext]}/").json()
        assert body["characteristics"]["total_spent"] == pytest.approx(net[ext], abs=0.02)
    only_returned = staff_client.get(f"/api/ml/customer-segment/{ids['99999']}/").json()
    assert only_returned["characteristics"]["total_orders"] == 0
    assert only_returned["characteristics"]["total_spent"] == 0
    clvs = pd.Series({ext: staff_client.get(f"/api/ml/customer-segment/{ids[ext]}/").json()[
        "lifetime_value_prediction"] for ext in list(net.index)[:40]})
    assert clvs.corr(net.reindex(clvs.index), method="spearman") > 0.5
    segments = staff_client.get("/api/ml/segments/").json()["segments"]
    assert sum(s["size"] for s in segments) == 121  # every real customer, not the guest


def test_a_history_of_guest_lines_only_is_a_named_422(tmp_path, staff_client):
    # till data (the bread basket's shape): no customer column at all, every line on the importer's guest
    path = tmp_path / "till.csv"
    pd.DataFrame({"Transaction": [1, 1, 2, 3], "Item": ["Bread", "Coffee", "Bread", "Tea"],
                  "Date": ["2017-01-02", "2017-01-02", "2017-01-03", "2017-01-09"],
                  "UnitPrice": [1.5, 2.0, 1.5, 1.8]}).to_csv(path, index=False)
    call_command("import_orders", str(path), "--map", "Transaction=order_id,Item=product_id,Date=ordered_at",
                 "--missing-customer", "guest")
    assert Order.objects.count() == 3 and Customer.objects.get().external_id == "guest"
    res = staff_client.post("/api/ml/train-customer-segmentation/", {"n_clusters": 2}, format="json")
    assert res.status_code == 422, res.content[:300]
    error = res.json()["error"]
    assert error["code"] == "insufficient_data" and "customer_id" in error["fields"], error
