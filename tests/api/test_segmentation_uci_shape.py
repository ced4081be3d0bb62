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
