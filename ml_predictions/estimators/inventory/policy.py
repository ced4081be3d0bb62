"""The reorder policy's formulas on whole arrays: safety factor, safety stock, (s, S), order quantity
rounded to the supplier's MOQ and case pack, order-by offset and the revenue lost if nothing is ordered.

Why apart from the optimiser: these are the textbook formulas a planner checks by hand, so each is a
small function over arrays with the formula in its docstring, tested against hand-computed cases.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import norm

SERVICE_TYPES = ("cycle", "fill_rate")
_Z_GRID = np.linspace(-4.0, 8.0, 4801)
# standard normal loss function G(z) = phi(z) - z * (1 - Phi(z)), decreasing in z
_LOSS_GRID = norm.pdf(_Z_GRID) - _Z_GRID * norm.sf(_Z_GRID)


def z_value(service_level: float | np.ndarray) -> float | np.ndarray:
    """The standard-normal quantile of a cycle service level (0.95 -> 1.645)."""
    return norm.ppf(service_level)


def fill_rate_z(fill_rate: np.ndarray, cycle_quantity: np.ndarray, sigma_lt: np.ndarray) -> np.ndarray:
    """Safety factor for a type 2 (fill rate) service level: the z with sigma_LT * G(z) = (1 - beta) * Q,
    i.e. the expected units short per replenishment cycle are (1 - beta) of what a cycle sells.

    Clipped to z >= 0 (no planner accepts a negative safety stock); 0 when demand is certain.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        target = (1.0 - fill_rate) * cycle_quantity / sigma_lt
    # np.interp needs increasing x: the loss grid is decreasing, so read it backwards
    z = np.interp(np.where(np.isfinite(target), target, 0.0), _LOSS_GRID[::-1], _Z_GRID[::-1])
    return np.where((sigma_lt > 0) & np.isfinite(target), np.maximum(z, 0.0), 0.0)


def safety_stock(z: np.ndarray, daily: np.ndarray, sigma: np.ndarray, lead: np.ndarray,
                 lead_std: np.ndarray) -> np.ndarray:
    """z * sqrt(L * sigma_d^2 + d^2 * sigma_L^2): demand variability over the lead time plus the
    variability of the lead time itself (= z * sigma_d * sqrt(L) when lead times are certain)."""
    return z * np.sqrt(lead * sigma ** 2 + daily ** 2 * lead_std ** 2)


def round_to_supplier(qty: np.ndarray, moq: np.ndarray, case_pack: np.ndarray) -> np.ndarray:
    """A positive order quantity raised to the minimum order quantity, then up to whole case packs.

    qty <= 0 stays 0 (nothing to order). Unknown (NaN) or non-positive MOQ / case pack is not applied;
    a case pack of 1 changes nothing. E.g. need 13, MOQ 20, pack 12 -> 24 (20 is not a whole pack).
    """
    q = np.ceil(np.maximum(np.nan_to_num(qty, nan=0.0), 0.0) - 1e-9)
    moq_ok = np.isfinite(moq) & (moq > 0)
    q = np.where((q > 0) & moq_ok, np.maximum(q, np.where(moq_ok, moq, 0.0)), q)
    pack_ok = np.isfinite(case_pack) & (case_pack > 0)
    pack = np.where(pack_ok, case_pack, 1.0)
    return np.where(q > 0, np.ceil(q / pack - 1e-9) * pack, 0.0)


def order_by_offset(stock: np.ndarray, reorder_point: np.ndarray, daily: np.ndarray,
                    known: np.ndarray) -> np.ndarray:
    """Days from as_of to the last day an order still arrives before the safety stock is touched:
    floor((stock - s) / d), 0 when already at or below s; NaN when demand is 0 or stock unknown."""
    with np.errstate(divide="ignore", invalid="ignore"):
        days = np.floor(np.maximum(stock - reorder_point, 0.0) / daily)
    return np.where(known & (daily > 0) & np.isfinite(days), days, np.nan)


def lost_revenue_if_not_ordered(stock: np.ndarray, daily: np.ndarray, lead: np.ndarray, review: float,
                                price: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Expected revenue lost if nothing is ordered today: the next order goes out at the next review
    and arrives a lead time later, so demand over L + review beyond the stock on hand is lost:
    max(d * (L + R) - stock, 0) * price. NaN when the price or the stock is unknown."""
    short = np.maximum(daily * (lead + review) - stock, 0.0)
    ok = known & np.isfinite(price) & (price >= 0)
    return np.where(ok, short * np.where(ok, price, 0.0), np.nan)
