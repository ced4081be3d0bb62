"""Returns netted onto earlier purchases, anonymous lines dropped: hand-computed cases and a fuzz of shapes.

The fuzz compares the vectorised netting with a plain per-customer walk written here from the rule
(each return takes value off the latest purchases at or before it, never below zero, the rest is
dropped), on histories with negative-only customers, returns before any purchase, many returns and
customers without an id (all of them without one: the named error).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ml_predictions.errors import InsufficientDataError
from ml_predictions.estimators.segmentation.clv_data import purchase_history
from ml_predictions.estimators.segmentation.netting import customer_purchase_lines, net_returns
from ml_predictions.estimators.segmentation.rfm import compute_rfm

COLUMNS = ["order_id", "customer_id", "product_id", "ordered_at", "quantity", "unit_price"]
DAY0 = pd.Timestamp("2021-01-01", tz="UTC")


def _lines(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["ordered_at"] = DAY0 + pd.to_timedelta(frame["ordered_at"], unit="D")
    return frame


def _net_by_order(lines: pd.DataFrame) -> dict[str, float]:
    value = lines["quantity"] * lines["unit_price"]
    return {k: round(v, 6) for k, v in value.groupby(lines["order_id"]).sum().items()}


def test_a_return_is_taken_off_the_latest_earlier_purchases_first():
    lines = _lines([
        ("o1", "a", "p", 0, 2, 10.0),   # 20
        ("o2", "a", "q", 31, 1, 30.0),  # 30, the latest before the return
        ("o3", "a", "p", 64, 1, 5.0),   # after the return: untouched
        ("c1", "a", "q", 40, -1, 35.0),  # 35 back: o2 to 0, then 5 off o1
    ])
    out = customer_purchase_lines(lines)
    assert _net_by_order(out.lines) == {"o1": 15.0, "o3": 5.0}  # o2 is no purchase any more
    assert out.stats["returned_value"] == 35.0 and out.stats["netted_value"] == 35.0
    assert out.stats["unmatched_value"] == 0.0 and out.stats["orders_cancelled_out"] == 1
    # the order's lines keep their products and quantities, at the net price
    assert out.lines.loc[out.lines["order_id"] == "o1", ["quantity", "unit_price"]].values.tolist() == [[2, 7.5]]


def test_refunded_orders_and_negative_prices_are_returns_and_never_go_below_zero():
    lines = _lines([
        ("o1", "b", "p", 0, 1, 10.0),
        ("o2", "b", "p", 5, 1, 8.0),
        ("adj", "b", "fee", 6, 1, -3.0),  # an adjustment with a negative price: 3 back off o2
        ("o3", "c", "p", 2, 4, 5.0),
    ])
    refunds = _lines([("r1", "c", "p", 3, 6, 5.0),    # the refunded order as stored (positive quantity): 30 > 20
                      ("r0", "d", "p", 1, 1, 9.0)])   # a customer with only a return
    out = customer_purchase_lines(lines, refunds)
    assert _net_by_order(out.lines) == {"o1": 10.0, "o2": 5.0}
    assert out.stats["netted_value"] == 23.0 and out.stats["unmatched_value"] == 19.0  # 10 of c's, d's 9
    rfm = compute_rfm(out.lines, calc_date=DAY0 + pd.Timedelta(days=10), include_without_orders=False)
    assert list(rfm.index) == ["b"]  # c's only order was returned in full; d never bought
    assert rfm.loc["b", "frequency"] == 2 and rfm.loc["b", "monetary"] == 15.0


def test_a_return_before_any_purchase_and_one_at_the_purchase_time():
    lines = _lines([("c0", "e", "p", 0, -1, 50.0), ("o1", "e", "p", 3, 1, 40.0),
                    ("o2", "f", "p", 4, 2, 10.0), ("c2", "f", "p", 4, -1, 10.0)])
    out = customer_purchase_lines(lines)
    # e's return came first: nothing to take it off, dropped, not carried to the later purchase
    assert _net_by_order(out.lines) == {"o1": 40.0, "o2": 10.0}
    assert out.stats["unmatched_value"] == 50.0 and out.stats["netted_value"] == 10.0


def test_returns_taken_in_time_order_one_after_the_other():
    lines = _lines([("o1", "g", "p", 0, 1, 10.0), ("o2", "g", "p", 2, 1, 20.0),
                    ("c1", "g", "p", 1, -1, 15.0),   # only o1 is earlier: 10 taken, 5 dropped
                    ("c2", "g", "p", 3, -1, 5.0)])   # o2 is now the latest: 20 -> 15
    out = customer_purchase_lines(lines)
    assert _net_by_order(out.lines) == {"o2": 15.0}
    assert out.stats["netted_value"] == 15.0 and out.stats["unmatched_value"] == 5.0


def test_anonymous_and_guest_lines_are_dropped_and_counted():
    lines = _lines([("o1", "h", "p", 0, 1, 10.0), ("o2", None, "p", 0, 5, 10.0), ("o3", float("nan"), "p", 1, 1, 9.0),
                    ("o4", " ", "p", 1, 1, 9.0), ("o5", "guest-uuid", "p", 2, 90, 10.0)])
    refunds = _lines([("r1", None, "p", 3, 1, 10.0)])
    out = customer_purchase_lines(lines, refunds, excluded_customers={"guest-uuid"})
    assert out.lines["customer_id"].tolist() == ["h"]
    assert out.stats["anonymous_lines"] == 4 and out.stats["return_lines"] == 0


def test_all_anonymous_lines_raise_a_named_error():
    lines = _lines([("o1", None, "p", 0, 1, 10.0), ("o2", "", "p", 1, 1, 10.0), ("o3", "guest", "p", 1, 1, 3.0)])
    with pytest.raises(InsufficientDataError) as err:
        customer_purchase_lines(lines, excluded_customers=["guest"])
    assert err.value.field == "customer_id" and err.value.details == {"anonymous_lines": 3}


def test_anonymous_lines_belong_to_nobody_in_rfm_and_purchase_history():
    # before, compute_rfm failed on such a line (factorize codes a missing id -1: a ValueError from bincount)
    # and purchase_history made a customer called "None" of them
    lines = _lines([("o1", "x", "p", 0, 1, 10.0), ("o2", "y", "p", 1, 1, 20.0), ("o3", None, "p", 2, 1, 500.0)])
    calc = DAY0 + pd.Timedelta(days=5)
    for frame in (lines, customer_purchase_lines(lines).lines):
        rfm = compute_rfm(frame, calc_date=calc, include_without_orders=False)
        assert rfm["monetary"].to_dict() == {"x": 10.0, "y": 20.0}
    history = purchase_history(lines.assign(amount=lines["unit_price"]), end=calc)
    assert sorted(history.ids) == ["x", "y"] and history.value.sum() == 30.0


def _reference(purchases: list[tuple[str, str, int, float]], returns: list[tuple[str, int, float]]):
    """Per order the net value, by walking each customer's returns in time order."""
    net = {o: v for o, _, _, v in purchases}
    unmatched = 0.0
    for c, t, amount in sorted(returns, key=lambda r: (r[0], r[1])):
        for o, _, _, _ in sorted([p for p in purchases if p[1] == c and p[2] <= t], key=lambda p: -p[2]):
            take = min(net[o], amount)
            net[o] -= take
            amount -= take
        unmatched += amount
    return net, unmatched


@st.composite
def shops(draw: st.DrawFn):
    n_customers = draw(st.integers(1, 6))
    days = iter(draw(st.permutations(range(60))))  # distinct purchase days: "latest" is never a tie
    purchases, returns = [], []
    anonymous = set(draw(st.sets(st.integers(0, n_customers - 1))))  # their lines have no customer id
    for c in range(n_customers):
        kind = draw(st.sampled_from(["buyer", "returns_only", "returns_first", "many_returns"]))
        n_buy = 0 if kind == "returns_only" else draw(st.integers(1, 4))
        for _ in range(n_buy):
            purchases.append((f"o{len(purchases)}", f"c{c}", next(days), float(draw(st.integers(1, 50)))))
        n_ret = {"buyer": draw(st.integers(0, 1)), "many_returns": draw(st.integers(2, 6))}.get(kind, 1)
        for _ in range(n_ret):
            day = -1 if kind == "returns_first" else draw(st.integers(-5, 65))
            returns.append((f"c{c}", day, float(draw(st.integers(1, 60)))))
    return purchases, returns, {f"c{c}" for c in anonymous}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shops())
def test_netting_matches_the_rule_on_random_shapes(shop):
    purchases, returns, anonymous = shop
    lines = _lines([(o, None if c in anonymous else c, "p", t, 1, v) for o, c, t, v in purchases]
                   + [(f"r{i}", None if c in anonymous else c, "p", t, -1, v) for i, (c, t, v) in enumerate(returns)])
    if len(lines) and lines["customer_id"].isna().all():
        with pytest.raises(InsufficientDataError):
            customer_purchase_lines(lines)
        return
    purchases = [p for p in purchases if p[1] not in anonymous]
    returns = [r for r in returns if r[0] not in anonymous]
    if not purchases:
        out = customer_purchase_lines(lines)
        assert out.lines.empty and out.stats["unmatched_value"] == pytest.approx(sum(r[2] for r in returns))
        return
    out = customer_purchase_lines(lines)
    assert out.stats["anonymous_lines"] == int(lines["customer_id"].isna().sum())
    expected, unmatched = _reference(purchases, returns)
    got = _net_by_order(out.lines)
    assert got == pytest.approx({o: v for o, v in expected.items() if v > 1e-9})
    assert out.stats["unmatched_value"] == pytest.approx(round(unmatched, 2), abs=0.011)
    total_returned = sum(r[2] for r in returns)
    assert out.stats["netted_value"] + out.stats["unmatched_value"] == pytest.approx(total_returned, abs=0.02)
    assert (out.lines["unit_price"] > 0).all() and set(out.lines.columns) == set(COLUMNS)


def test_net_returns_without_returns_keeps_every_line():
    lines = _lines([("o1", "a", "p", 0, 1, 10.0), ("o2", "b", "q", 1, 3, 2.5)])
    out = net_returns(lines, lines.iloc[:0])
    pd.testing.assert_frame_equal(out.lines, lines)
    assert out.stats["netted_value"] == 0.0 and np.isclose(out.stats["returned_value"], 0.0)
