"""The real daily series every forecasting benchmark evaluates on, read from ../shared/data.

- pharmacy: the total of 8 drug categories and its largest category N02BE, the last two years;
  the total cut to 344 days ending in its strongest rise (the held-out retailer's signature) and the
  same with Saturdays and Dec 24 - Jan 2 closed.
- Bread Basket: items sold per day (162 days: only the most recent windows fit).
- CDNOW: revenue per day of the Q1-1997 cohort (a launch spike, then a long decay).
- Superstore (a BI tool's demo data, not real; the brief lists it): revenue per day, very noisy.
"""
from __future__ import annotations

import pandas as pd
from _paths import SHARED_DATA


def _daily(values: pd.Series) -> pd.Series:
    values = values.astype(float)
    return values.reindex(pd.date_range(values.index.min(), values.index.max(), freq="D"), fill_value=0.0)


def real_series() -> dict[str, pd.Series]:
    pharma = pd.read_csv(SHARED_DATA / "pharma_sales" / "salesdaily_clean.csv", parse_dates=["date"]).set_index("date")
    total = pharma.sum(axis=1).astype(float)
    cut = total.loc[:"2019-02-07"].iloc[-374:]
    closed = cut.copy()
    idx = closed.index
    closed[(idx.day_of_week == 5) | ((idx.month == 12) & (idx.day >= 24)) | ((idx.month == 1) & (idx.day <= 2))] = 0.0
    bread = pd.read_csv(SHARED_DATA / "bread_basket" / "BreadBasket_DMS.csv")
    bread = bread[bread["Item"] != "NONE"]
    cd = pd.read_csv(SHARED_DATA / "cdnow" / "CDNOW_master.txt", sep=r"\s+", dtype={"date": str})
    cd_daily = cd.groupby(pd.to_datetime(cd["date"], format="%Y%m%d"))["dollar_value"].sum()
    store = pd.read_csv(SHARED_DATA / "superstore_fictional" / "Sample - Superstore.csv", encoding="utf-8-sig")
    store_daily = store.groupby(pd.to_datetime(store["Order Date"], format="%m/%d/%Y"))["Sales"].sum()
    return {
        "pharma_total_2y": total.iloc[-730:],
        "N02BE_2y": pharma["N02BE"].astype(float).iloc[-730:],
        "pharma_total_cut344_rise": cut,
        "pharma_total_cut344_rise_closed": closed,
        "bread_basket_daily": _daily(bread.groupby(pd.to_datetime(bread["Date"])).size()),
        "cdnow_revenue_daily": _daily(cd_daily),
        "superstore_revenue_2y": _daily(store_daily).iloc[-730:],
    }
