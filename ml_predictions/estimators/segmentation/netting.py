"""Returns and anonymous lines out of the order lines before RFM and lifetime value see them.

Pure pandas/numpy. Why: a shop's history holds returns (a refunded order, a UCI-style "C" invoice,
a line with a negative quantity or a negative price) and lines with no customer (guest checkouts,
till sales). Counted as they are, a return either vanishes (refunded orders are excluded by the data
source, so the sale it reverses stays at full value) or, as a negative line, becomes a "purchase" of
negative value; an anonymous line either raises or makes one giant customer. Both distort monetary
value, frequency and every CLV candidate, which rank customers by what they really spent.

The rule: each return's value is taken off the same customer's purchases made at or before it, the
latest first (the return most likely reverses the last order), never below zero; what is left
(a return larger than everything bought before it, or a return before any purchase) is dropped, not
carried to later purchases. A purchase order whose value is taken off completely is no purchase.
The remaining value scales the order's lines, so its products stay (distinct-products features) and
frequency counts only orders with something left.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ml_predictions.errors import InsufficientDataError

LINE_COLUMNS = ["order_id", "customer_id", "product_id", "ordered_at", "quantity", "unit_price"]


@dataclass
class NettedLines:
    """The purchase lines at their net value, and what netting did (stored in the run's metrics)."""

    lines: pd.DataFrame
    stats: dict[str, float | int] = field(default_factory=dict)


def anonymous_mask(customer_ids: pd.Series, excluded: Iterable[str] = ()) -> np.ndarray:
    """True where a line has no customer (None, NaN, empty text) or a customer that stands for many
    people (the importer's `guest`). Decided once per distinct id, not per line."""
    codes, uniques = pd.factorize(np.asarray(customer_ids, dtype=object), use_na_sentinel=True)
    text = np.array([str(v).strip() for v in uniques], dtype=object)
    bad = (text == "") | np.isin(np.char.lower(text.astype(str)), ["nan", "none"])
    excluded = {str(e) for e in excluded}
    if excluded:
        bad |= np.isin(text, list(excluded))
    return (codes < 0) | bad[np.maximum(codes, 0)] if len(uniques) else codes < 0


def _as_returns(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per return order: customer, time of the return, positive value returned."""
    amount = np.abs(frame["quantity"].to_numpy(dtype=float) * frame["unit_price"].to_numpy(dtype=float))
    rows = pd.DataFrame({"order_id": frame["order_id"].to_numpy(dtype=object),
                         "customer_id": frame["customer_id"].to_numpy(dtype=object),
                         "t": _ns(frame["ordered_at"]), "a": amount})
    return rows.groupby(["customer_id", "order_id"], sort=False).agg(t=("t", "max"), a=("a", "sum")).reset_index()


def _ns(when: pd.Series) -> np.ndarray:
    values = pd.to_datetime(when, utc=True).dt.tz_localize(None)
    return values.to_numpy().astype("datetime64[ns]").astype("int64")


def net_returns(purchases: pd.DataFrame, returns: pd.DataFrame) -> NettedLines:
    """Take each return's value off the customer's latest purchases at or before it (see module doc).

    `purchases`: order lines of positive value; `returns`: order lines whose absolute value was
    returned (a refunded order's lines as stored, or negative lines), both with LINE_COLUMNS.
    """
    stats: dict[str, float | int] = {"return_lines": int(len(returns)), "returned_value": 0.0,
                                     "netted_value": 0.0, "unmatched_value": 0.0, "orders_cancelled_out": 0}
    if purchases.empty or returns.empty:
        if len(returns):
            total = float(_as_returns(returns)["a"].sum())
            stats.update(returned_value=round(total, 2), unmatched_value=round(total, 2))
        return NettedLines(purchases.reset_index(drop=True), stats)
    amount = purchases["quantity"].to_numpy(dtype=float) * purchases["unit_price"].to_numpy(dtype=float)
    order_codes, _ = pd.factorize(purchases["order_id"].to_numpy(dtype=object))
    per_order = pd.DataFrame({"o": order_codes, "c": purchases["customer_id"].to_numpy(dtype=object),
                              "t": _ns(purchases["ordered_at"]), "a": amount}).groupby("o", sort=True).agg(
        c=("c", "first"), t=("t", "min"), a=("a", "sum"))
    ret = _as_returns(returns)
    stats["returned_value"] = round(float(ret["a"].sum()), 2)
    cust_codes, cust_ids = pd.factorize(pd.concat([per_order["c"], ret["customer_id"]], ignore_index=True))
    order_cust = cust_codes[:len(per_order)]
    ret_cust = cust_codes[len(per_order):]
    # orders by (customer, time): the newest-first walk below is a reversed cumulative sum per customer
    order_sort = np.lexsort((per_order.index.to_numpy(), per_order["t"].to_numpy(), order_cust))
    o_cust = order_cust[order_sort]
    o_time = per_order["t"].to_numpy()[order_sort]
    remaining = per_order["a"].to_numpy(dtype=float)[order_sort].copy()
    gross = remaining.copy()
    # the k-th return of every customer is netted in round k: a loop over return ranks (a few), not orders
    r_sort = np.lexsort((ret["t"].to_numpy(), ret_cust))
    r_cust, r_time, r_amount = ret_cust[r_sort], ret["t"].to_numpy()[r_sort], ret["a"].to_numpy(dtype=float)[r_sort]
    rank = pd.Series(r_cust).groupby(r_cust).cumcount().to_numpy()
    with_returns = np.isin(o_cust, r_cust)
    sub = np.flatnonzero(with_returns)[::-1]  # newest first within each customer
    s_cust, s_time = o_cust[sub], o_time[sub]
    unmatched = 0.0
    n_cust = len(cust_ids)
    for k in range(int(rank.max()) + 1 if len(rank) else 0):
        this = rank == k
        due_time = np.full(n_cust, np.iinfo(np.int64).min)
        due_time[r_cust[this]] = r_time[this]
        due = np.zeros(n_cust)
        due[r_cust[this]] = r_amount[this]
        rem = remaining[sub]
        eligible = (s_time <= due_time[s_cust]) & (rem > 0)
        avail = np.where(eligible, rem, 0.0)
        before = pd.Series(avail).groupby(s_cust).cumsum().to_numpy() - avail
        take = np.clip(due[s_cust] - before, 0.0, avail)
        remaining[sub] = rem - take
        taken = np.bincount(s_cust, weights=take, minlength=n_cust)
        unmatched += float(np.clip(due - taken, 0.0, None).sum())
    remaining[remaining <= 1e-9 * np.maximum(gross, 1.0)] = 0.0
    factor = np.empty(len(per_order))
    factor[order_sort] = np.divide(remaining, gross, out=np.zeros_like(gross), where=gross > 0)
    line_factor = factor[order_codes]
    keep = line_factor > 0
    out = purchases.loc[keep].copy()
    out["unit_price"] = out["unit_price"].to_numpy(dtype=float) * line_factor[keep]
    stats.update(netted_value=round(float((gross - remaining).sum()), 2), unmatched_value=round(unmatched, 2),
                 orders_cancelled_out=int(((remaining == 0) & (gross > 0)).sum()))
    return NettedLines(out.reset_index(drop=True), stats)


def customer_purchase_lines(
    lines: pd.DataFrame, refunds: pd.DataFrame | None = None, *, excluded_customers: Iterable[str] = (),
) -> NettedLines:
    """The lines RFM and CLV should see: anonymous and excluded customers dropped, returns netted.

    `lines` are the data source's counted order lines (a negative quantity or price there is a return
    too); `refunds` the lines of orders the shop marks as returns. Raises InsufficientDataError when
    there were lines but none has a customer (a till-only history cannot be segmented), so the caller
    says so instead of failing on an empty frame.
    """
    excluded = list(excluded_customers)
    dropped = anonymous_mask(lines["customer_id"], excluded) if len(lines) else np.zeros(0, dtype=bool)
    if len(lines) and dropped.all():
        raise InsufficientDataError(
            f"None of the {len(lines)} order lines belongs to a known customer (no customer id, or a shared "
            "guest account); segmentation and lifetime value need customers.", field="customer_id",
            details={"anonymous_lines": int(len(lines))})
    known = lines.loc[~dropped]
    amount = known["quantity"].to_numpy(dtype=float) * known["unit_price"].to_numpy(dtype=float)
    negative = amount < 0
    parts = [known.loc[negative]]
    if refunds is not None and len(refunds):
        parts.append(refunds.loc[~anonymous_mask(refunds["customer_id"], excluded)])
    returns = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    netted = net_returns(known.loc[amount >= 0], returns)
    netted.stats["anonymous_lines"] = int(dropped.sum())
    return netted
