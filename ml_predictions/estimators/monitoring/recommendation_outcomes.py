"""Recommendations against what was bought next.

A recommendation list is worth something only if people then buy from it. For each recorded response
we ask one question over the following `window_days`: did the customer buy a recommended product
(per-customer lists), or did an order containing the source product also contain a recommended one
(bought-together lists)? The same question asked of the shop's best-sellers at that moment, with as
many items, is the bar: a list that is followed no more often than the best-sellers adds nothing.
"""
from __future__ import annotations

import pandas as pd

POPULARITY_DAYS = 90


def _hits(pairs: pd.DataFrame, responses: pd.DataFrame, lines: pd.DataFrame, window: pd.Timedelta) -> pd.Series:
    """Response id -> whether any (response, product) pair was followed by a matching purchase."""
    hit = pd.Series(False, index=responses["response_id"])
    by_customer = pairs[pairs["endpoint"] == "customer"]
    if len(by_customer):
        joined = by_customer.merge(lines, left_on=["subject_id", "product_id"], right_on=["customer_id", "product_id"])
        ok = (joined["ordered_at"] > joined["created_at"]) & (joined["ordered_at"] <= joined["created_at"] + window)
        hit.loc[joined.loc[ok, "response_id"].unique()] = True
    by_product = pairs[pairs["endpoint"] == "product"]
    if len(by_product):
        source = responses.loc[responses["endpoint"] == "product", ["response_id", "subject_id", "created_at"]]
        baskets = source.merge(lines[["order_id", "product_id", "ordered_at"]], left_on="subject_id", right_on="product_id")
        ok = (baskets["ordered_at"] > baskets["created_at"]) & (baskets["ordered_at"] <= baskets["created_at"] + window)
        baskets = baskets.loc[ok, ["response_id", "order_id"]].drop_duplicates()
        together = by_product.merge(baskets, on="response_id").merge(
            lines[["order_id", "product_id"]], on=["order_id", "product_id"]
        )
        hit.loc[together["response_id"].unique()] = True
    return hit


def _popular_pairs(responses: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """For each response, the best-sellers of the POPULARITY_DAYS before it, as many as it recommended.

    Computed once per calendar day of the responses (not per response), excluding the source product.
    """
    rows = []
    day = responses["created_at"].dt.floor("D")
    for stamp, group in responses.groupby(day):
        recent = lines[(lines["ordered_at"] < stamp) & (lines["ordered_at"] >= stamp - pd.Timedelta(days=POPULARITY_DAYS))]
        ranked = recent.groupby("product_id")["quantity"].sum().sort_values(ascending=False, kind="stable").index
        ranked = list(ranked[: int(group["n_items"].max()) + 1])
        for response in group.itertuples(index=False):
            chosen = [p for p in ranked if p != response.subject_id][: response.n_items]
            rows.extend((response.response_id, p) for p in chosen)
    return pd.DataFrame(rows, columns=["response_id", "product_id"])


def recommendation_outcomes(responses: pd.DataFrame, lines: pd.DataFrame, *, window_days: int) -> pd.DataFrame:
    """Per response: followed (bool) and popular_followed (bool), for responses whose window has passed.

    `responses`: response_id, endpoint ("customer" | "product"), subject_id, created_at (UTC), method,
    recommended (list of product ids). `lines`: order_id, customer_id, product_id, ordered_at, quantity.
    """
    columns = ["response_id", "endpoint", "method", "n_items", "followed", "popular_followed"]
    if responses.empty:
        return pd.DataFrame(columns=columns)
    window = pd.Timedelta(days=window_days)
    last_seen = lines["ordered_at"].max() if len(lines) else pd.NaT
    done = responses[responses["created_at"] + window <= last_seen] if pd.notna(last_seen) else responses.iloc[:0]
    if done.empty:
        return pd.DataFrame(columns=columns)
    done = done.assign(n_items=done["recommended"].map(len))
    done = done[done["n_items"] > 0]
    lines = lines.assign(product_id=lines["product_id"].astype(str), customer_id=lines["customer_id"].astype(str))
    meta = done[["response_id", "endpoint", "subject_id", "created_at"]]
    ours = meta.merge(done[["response_id", "recommended"]].explode("recommended")
                      .rename(columns={"recommended": "product_id"}), on="response_id")
    popular = meta.merge(_popular_pairs(done, lines), on="response_id")
    out = done[["response_id", "endpoint", "method", "n_items"]].copy()
    out["followed"] = _hits(ours, done, lines, window).reindex(out["response_id"]).to_numpy()
    out["popular_followed"] = _hits(popular, done, lines, window).reindex(out["response_id"]).to_numpy()
    return out.reset_index(drop=True)
