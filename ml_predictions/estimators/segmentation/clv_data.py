"""Per-customer purchase histories cut at any day: the shared input of every lifetime-value candidate.

Pure numpy/pandas. Every candidate (BG/NBD, MBG/NBD, the naive rate, the boosted regressor) is fitted
"as of" a cut day and scored on the revenue that followed, so the history is reduced ONCE to daily
purchases per customer (integer codes, integer day numbers) and every cut is a boolean mask on it.

Why: selection fits each candidate at two or three cut days; recomputing group-bys over raw order
lines each time would cost more than the fits. A purchase day is a day with positive net value
(several orders on one day count once, the BG/NBD convention; a day of only refunds is no purchase).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

NS_PER_DAY = 86_400 * 10**9


def _day_numbers(when: Any) -> np.ndarray:
    values = pd.to_datetime(when, utc=True)
    values = values.dt.tz_localize(None) if isinstance(values, pd.Series) else values.tz_localize(None)
    return np.asarray(values).astype("datetime64[ns]").astype("int64") // NS_PER_DAY


def day_number(value: Any) -> int:
    """A date/timestamp as days since 1970-01-01 (UTC)."""
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.tz_localize(None).to_datetime64().astype("datetime64[ns]").astype("int64") // NS_PER_DAY)


@dataclass
class PurchaseHistory:
    """Daily purchase value per customer, sorted by (customer, day).

    `code`, `day`, `value` are parallel arrays (one row per customer and purchase day); `ids[code]` is
    the customer id; `product_first_day` holds, per (customer, product) pair, the customer code and the
    day the customer first bought it (for the distinct-products feature). `end` is the first day after
    the history (the exclusive cut of "today").
    """

    code: np.ndarray
    day: np.ndarray
    value: np.ndarray
    ids: np.ndarray
    product_code: np.ndarray
    product_first_day: np.ndarray
    end: int
    # fitted purchase models by (kind, cut, min repeat customers): selection, prediction and diagnostics
    # ask for the same fits, and a BG/NBD fit on 100k customers costs about half a second
    fits: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def start(self) -> int:
        return int(self.day.min()) if len(self.day) else self.end

    @property
    def n_customers(self) -> int:
        return len(self.ids)


def purchase_history(
    transactions: pd.DataFrame, *, end: Any = None, customer_col: str = "customer_id",
    date_col: str = "ordered_at", amount_col: str = "amount", product_col: str | None = "product_id",
) -> PurchaseHistory:
    """Reduce order lines (or one row per purchase) to a PurchaseHistory; rows on or after `end` are dropped."""
    day = _day_numbers(transactions[date_col])
    end_day = int(day.max()) + 1 if end is None and len(day) else day_number(end) if end is not None else 0
    keep = (day < end_day) & transactions[customer_col].notna().to_numpy()  # no customer: nobody's value
    codes, ids = pd.factorize(transactions.loc[keep, customer_col].astype(str))
    value = transactions.loc[keep, amount_col].to_numpy(dtype=float)
    daily = pd.DataFrame({"c": codes, "d": day[keep], "v": value}).groupby(["c", "d"], sort=True)["v"].sum()
    daily = daily[daily > 0]
    if product_col is not None and product_col in transactions:
        pcodes, _ = pd.factorize(transactions.loc[keep, product_col].astype(str))
        first = pd.DataFrame({"c": codes, "p": pcodes, "d": day[keep]}).groupby(["c", "p"], sort=False)["d"].min()
        product_code = first.index.get_level_values(0).to_numpy()
        product_first = first.to_numpy()
    else:
        product_code = daily.index.get_level_values(0).to_numpy()
        product_first = np.full(len(product_code), np.iinfo(np.int64).max)  # unknown products: count 0
    return PurchaseHistory(
        code=daily.index.get_level_values(0).to_numpy(), day=daily.index.get_level_values(1).to_numpy(),
        value=daily.to_numpy(dtype=float), ids=np.asarray(ids, dtype=object).astype(str),
        product_code=product_code, product_first_day=product_first, end=end_day,
    )


def summary_at(history: PurchaseHistory, cut: int) -> pd.DataFrame:
    """BG/NBD summary (x, t_x, T in days, monetary_value of repeat days) plus simple statistics as of `cut`.

    One row per customer whose first purchase is before `cut`, indexed by customer code; columns:
    x, t_x, T, monetary_value, n_days, total, mean_value, recency, first, last.
    """
    keep = history.day < cut
    c, d, v = history.code[keep], history.day[keep], history.value[keep]
    if not len(c):
        return pd.DataFrame(columns=["x", "t_x", "T", "monetary_value", "n_days", "total", "mean_value",
                                     "recency", "first", "last"], dtype=float)
    starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
    ends = np.r_[starts[1:], len(c)] - 1
    n_days = (ends - starts + 1).astype(float)
    total = np.add.reduceat(v, starts)
    first, last = d[starts].astype(float), d[ends].astype(float)
    repeat = n_days - 1
    return pd.DataFrame({
        "x": repeat, "t_x": last - first, "T": cut - first,
        "monetary_value": np.where(repeat > 0, (total - v[starts]) / np.maximum(repeat, 1), 0.0),
        "n_days": n_days, "total": total, "mean_value": total / n_days, "recency": cut - last,
        "first": first, "last": last,
    }, index=pd.Index(c[starts], name="code"))


def revenue_between(history: PurchaseHistory, start: int, stop: int, index: pd.Index) -> np.ndarray:
    """Revenue of each customer in `index` (codes) on days [start, stop); 0 for customers without any."""
    keep = (history.day >= start) & (history.day < stop)
    sums = np.bincount(history.code[keep], weights=history.value[keep], minlength=history.n_customers)
    return sums[index.to_numpy(dtype=int)]


def days_between(history: PurchaseHistory, start: int, stop: int, index: pd.Index) -> np.ndarray:
    keep = (history.day >= start) & (history.day < stop)
    return np.bincount(history.code[keep], minlength=history.n_customers)[index.to_numpy(dtype=int)].astype(float)


def distinct_products(history: PurchaseHistory, cut: int, index: pd.Index) -> np.ndarray:
    keep = history.product_first_day < cut
    return np.bincount(history.product_code[keep], minlength=history.n_customers)[
        index.to_numpy(dtype=int)].astype(float)
