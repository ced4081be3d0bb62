"""RFM and behaviour features per customer, and the classic quintile RFM score with rule names.

Pure pandas/numpy. RFM is aggregated with whole-frame group-bys on integer codes (one pass per
statistic, no loop over customers), so 1M order lines cost well under a second.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ml_predictions.errors import InsufficientDataError, InvalidParameterError

RFM_COLUMNS: list[str] = [
    "recency_days", "frequency", "monetary", "avg_order_value", "unique_products", "tenure_days",
    "purchases_per_month", "has_orders",
]
RFM_RULE_NAMES: tuple[str, ...] = (
    "champions", "loyal_customers", "big_spenders", "potential_loyalists", "at_risk", "lost", "hibernating",
    "need_attention",
)
DAYS_PER_MONTH = 30.4375


def default_calc_date(order_lines: pd.DataFrame) -> pd.Timestamp:
    """The day after the latest order: 'today' for a live shop, the right date for an imported history."""
    if order_lines.empty:
        raise InsufficientDataError("There are no orders to compute RFM from.", field="calc_date")
    last = _as_utc(pd.to_datetime(order_lines["ordered_at"], utc=True).max())
    return last.normalize() + pd.Timedelta(days=1)


NS_PER_DAY = 86_400 * 10**9


def _ns(when: pd.Series) -> np.ndarray:
    """UTC timestamps as int64 nanoseconds (pandas may store s/ms/us resolutions)."""
    values = pd.to_datetime(when, utc=True).dt.tz_localize(None).to_numpy().astype("datetime64[ns]")
    return values.astype("int64")


def _as_utc(value: Any) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def compute_rfm(
    order_lines: pd.DataFrame,
    *,
    calc_date: Any = None,
    window_days: int = 365,
    customers: pd.DataFrame | None = None,
    include_without_orders: bool = True,
) -> pd.DataFrame:
    """RFM and behaviour features per customer as of `calc_date`, over the last `window_days` days.

    `order_lines` has the data-source columns (order_id, customer_id, product_id, ordered_at, quantity,
    unit_price). Orders at or after `calc_date` are ignored. Customers listed in `customers` (id,
    created_at) without an order in the window get the spec's convention for customers without orders: recency = window_days + 1,
    frequency 0, monetary 0 (`has_orders` False); `include_without_orders=False` leaves them out.
    Returns a frame indexed by customer_id (str) with RFM_COLUMNS.
    """
    if window_days is None or int(window_days) < 1:
        raise InvalidParameterError("window_days must be a positive number of days.", field="window_days")
    window_days = int(window_days)
    calc = default_calc_date(order_lines) if calc_date is None else _as_utc(calc_date)
    start = calc - pd.Timedelta(days=window_days)
    when = pd.to_datetime(order_lines["ordered_at"], utc=True)
    # a line without a customer belongs to nobody (netting.customer_purchase_lines counts them); left in,
    # factorize codes it -1 and the per-customer arrays below would fail on it
    mask = (when >= start) & (when < calc) & order_lines["customer_id"].notna()
    lines = order_lines.loc[mask, ["order_id", "customer_id", "product_id", "quantity", "unit_price"]]
    when = when[mask]
    amount = lines["quantity"].to_numpy(dtype="float64") * lines["unit_price"].to_numpy(dtype="float64")
    # integer codes instead of string ids: group-bys on int64 are ~10x faster than on Python strings
    cust_codes, cust_ids = pd.factorize(lines["customer_id"])
    order_codes, _ = pd.factorize(lines["order_id"])
    ns = _ns(when)
    per_order = pd.DataFrame({"o": order_codes, "c": cust_codes, "t": ns, "a": amount}).groupby("o", sort=False).agg(
        c=("c", "first"), t=("t", "min"), a=("a", "sum"))
    grouped = per_order.groupby("c", sort=False)
    agg = grouped.agg(last=("t", "max"), first=("t", "min"), frequency=("t", "size"), monetary=("a", "sum"))
    prod_codes, prod_ids = pd.factorize(lines["product_id"])
    # distinct (customer, product) pairs by hashing: their order is irrelevant to the count, and sorting
    # 1.1M pairs (np.unique) cost half a second more
    pairs = pd.unique(cust_codes.astype("int64") * max(len(prod_ids), 1) + prod_codes)
    n_products = np.bincount(pairs // max(len(prod_ids), 1), minlength=len(cust_ids))
    index = pd.Index(np.asarray(cust_ids, dtype=object)[agg.index.to_numpy()]).astype(str)
    rfm = pd.DataFrame({"frequency": agg["frequency"].to_numpy(), "monetary": agg["monetary"].to_numpy(),
                        "unique_products": n_products[agg.index.to_numpy()]}, index=index)
    calc_ns = _ns(pd.Series([calc]))[0]
    rfm["recency_days"] = (calc_ns - agg["last"].to_numpy()) / NS_PER_DAY
    first_seen = agg["first"].to_numpy().astype("float64")
    if customers is not None and len(customers):
        created = pd.Series(_ns(pd.to_datetime(customers["created_at"], utc=True)).astype("float64"),
                            index=customers["id"].astype(str).to_numpy())
        created = created[~created.index.duplicated()]
        joined = created.reindex(rfm.index).to_numpy()
        first_seen = np.fmin(first_seen, joined)
    rfm["tenure_days"] = np.clip((calc_ns - first_seen) / NS_PER_DAY, 0.0, None)
    rfm["has_orders"] = True
    calc_naive = calc.tz_convert("UTC").tz_localize(None)
    if include_without_orders and customers is not None and len(customers):
        ids = pd.Index(customers["id"].astype(str).unique())
        created_all = pd.Series(pd.to_datetime(customers["created_at"], utc=True).dt.tz_localize(None).to_numpy(),
                                index=customers["id"].astype(str).to_numpy())
        created_all = created_all[~created_all.index.duplicated()]
        missing = ids.difference(rfm.index)
        if len(missing):
            tenure = ((calc_naive - created_all.reindex(missing)).dt.total_seconds() / 86400.0).clip(lower=0.0)
            extra = pd.DataFrame({
                "frequency": 0, "monetary": 0.0, "unique_products": 0.0,
                "recency_days": float(window_days + 1), "tenure_days": tenure.fillna(0.0).to_numpy(),
                "has_orders": False,
            }, index=missing)
            # customers created after calc_date did not exist yet
            extra = extra[(created_all.reindex(missing) < calc_naive).to_numpy()]
            rfm = pd.concat([rfm, extra])
    rfm.index.name = "customer_id"
    rfm["frequency"] = rfm["frequency"].astype("int64")
    rfm["unique_products"] = rfm["unique_products"].astype("int64")
    rfm["monetary"] = rfm["monetary"].astype("float64").round(2)
    freq = rfm["frequency"].to_numpy()
    rfm["avg_order_value"] = np.where(freq > 0, rfm["monetary"].to_numpy() / np.maximum(freq, 1), 0.0).round(2)
    active_months = np.maximum(np.minimum(rfm["tenure_days"].to_numpy(), window_days) / DAYS_PER_MONTH, 1.0)
    rfm["purchases_per_month"] = (freq / active_months).round(4)
    rfm["recency_days"] = rfm["recency_days"].round(2)
    rfm["tenure_days"] = rfm["tenure_days"].round(2)
    rfm["has_orders"] = rfm["has_orders"].astype(bool)
    return rfm[RFM_COLUMNS].sort_index()


def rfm_from_transactions(sales: pd.DataFrame, *, calc_date: Any = None, window_days: int = 365) -> pd.DataFrame:
    """RFM from the raw `sales` rows of the spec's apply request (customer_id, date, amount[, sale_id, product])."""
    for col in ("customer_id", "date", "amount"):
        if col not in sales:
            raise InvalidParameterError(f"sales rows need a '{col}' value.", field="sales")
    n = len(sales)
    lines = pd.DataFrame({
        "order_id": sales["sale_id"].astype(str) if "sale_id" in sales else pd.Series(np.arange(n)).astype(str),
        "customer_id": sales["customer_id"].astype(str),
        "product_id": sales["product"].astype(str) if "product" in sales else pd.Series([""] * n),
        "ordered_at": pd.to_datetime(sales["date"], utc=True),
        "quantity": 1,
        "unit_price": pd.to_numeric(sales["amount"]).astype("float64"),
    })
    return compute_rfm(lines, calc_date=calc_date, window_days=window_days, include_without_orders=False)


def _quintile(values: pd.Series, *, higher_is_better: bool) -> np.ndarray:
    """1..5 by percentile rank; ties share a score (rank 'average'), so equal values never split."""
    if len(values) == 0:
        return np.array([], dtype=int)
    pct = values.rank(method="average", pct=True).to_numpy()
    if not higher_is_better:
        pct = 1.0 - pct + 1.0 / len(values)
    return np.clip(np.ceil(pct * 5).astype(int), 1, 5)


def rfm_scores(rfm: pd.DataFrame) -> pd.DataFrame:
    """Classic quintile RFM score ("545") and a rule-based segment name.

    R = 5 for the most recent fifth, F and M = 5 for the top fifth. Rules, first match wins:
    champions R>=4 F>=4 M>=4; loyal_customers R>=3 F>=4; big_spenders R>=3 M>=4;
    potential_loyalists R>=4 and at least one order; lost: no order in the window or R=1;
    at_risk R=2 F>=3 (used to buy often, stopped); hibernating F<=2 M<=2; need_attention otherwise.
    """
    r = _quintile(rfm["recency_days"], higher_is_better=False)
    f = _quintile(rfm["frequency"], higher_is_better=True)
    m = _quintile(rfm["monetary"], higher_is_better=True)
    has_orders = rfm["frequency"].to_numpy() > 0
    conditions = [
        (r >= 4) & (f >= 4) & (m >= 4),
        (r >= 3) & (f >= 4),
        (r >= 3) & (m >= 4),
        (r >= 4) & has_orders,
        (~has_orders) | (r == 1),
        (r == 2) & (f >= 3),
        (f <= 2) & (m <= 2),
    ]
    choices = ["champions", "loyal_customers", "big_spenders", "potential_loyalists", "lost", "at_risk",
               "hibernating"]
    names = np.select(conditions, choices, default="need_attention")
    code = np.char.add(np.char.add(r.astype(str), f.astype(str)), m.astype(str)) if len(r) else np.array([], str)
    return pd.DataFrame({"r_score": r, "f_score": f, "m_score": m, "rfm_segment": code, "rfm_name": names},
                        index=rfm.index)
