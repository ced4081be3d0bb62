"""ABC-XYZ classes: ABC by share of revenue, XYZ by demand variability, and a service level per class.

Why: one service level for the whole catalogue either overstocks the long tail or starves the few
products that make the money. Planners (Inventory Planner, Odoo) set the level per ABC-XYZ class:
high for the steady products that make most of the revenue (AX), lower for the erratic tail (CZ),
where every extra point of service costs the most stock.

ABC: products sorted by revenue over the demand window (units x price; the unit cost stands in for a
missing price, units alone when the shop has neither); A = the products making the first
`abc_thresholds[0]` (80 %) of the revenue, B up to `abc_thresholds[1]` (95 %), C the rest and every
product without sales. The product that crosses a threshold belongs to the class it completes.
XYZ: coefficient of variation of the capped weekly totals; X <= `xyz_thresholds[0]` (0.5), Y <=
`xyz_thresholds[1]` (1.0), Z above, and Z for products with fewer than two weeks of sales.
"""
from __future__ import annotations

import numpy as np

CLASSES = tuple(f"{a}{x}" for a in "ABC" for x in "XYZ")
# AX 0.98 ... CZ 0.90: the level falls with revenue share and with variability.
DEFAULT_CLASS_SERVICE_LEVELS = {
    "AX": 0.98, "AY": 0.97, "AZ": 0.95,
    "BX": 0.96, "BY": 0.95, "BZ": 0.93,
    "CX": 0.93, "CY": 0.92, "CZ": 0.90,
}


def revenue_weights(price: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Value of one unit per product: price, else cost, else 1 when the shop has neither for anyone,
    else the median known value (a product without a price is not thrown into C for that alone)."""
    value = np.where(np.isfinite(price) & (price > 0), price, np.where(np.isfinite(cost) & (cost > 0), cost, np.nan))
    known = value[np.isfinite(value)]
    fill = float(np.median(known)) if len(known) else 1.0
    return np.where(np.isfinite(value), value, fill)


def abc_classes(revenue: np.ndarray, thresholds: tuple[float, float] = (0.8, 0.95)) -> np.ndarray:
    """'A', 'B' or 'C' per product from its share of the total revenue (see the module docstring)."""
    n = len(revenue)
    out = np.full(n, "C", dtype=object)
    rev = np.where(np.isfinite(revenue) & (revenue > 0), revenue, 0.0)
    total = rev.sum()
    if n == 0 or total <= 0:
        return out
    order = np.argsort(-rev, kind="stable")
    before = (np.cumsum(rev[order]) - rev[order]) / total  # share of the products ranked above
    sold = rev[order] > 0
    klass = np.where(before < thresholds[0], "A", np.where(before < thresholds[1], "B", "C"))
    out[order] = np.where(sold, klass, "C")
    return out


def xyz_classes(cv: np.ndarray, thresholds: tuple[float, float] = (0.5, 1.0)) -> np.ndarray:
    """'X', 'Y' or 'Z' per product from the coefficient of variation of its weekly demand."""
    cv = np.where(np.isfinite(cv), cv, np.inf)
    return np.where(cv <= thresholds[0], "X", np.where(cv <= thresholds[1], "Y", "Z")).astype(object)


def class_levels(classes: np.ndarray, levels: dict[str, float], fallback: float) -> np.ndarray:
    """The service level of each product's class; `fallback` for a class the mapping leaves out."""
    out = np.full(len(classes), float(fallback))
    for klass, level in levels.items():
        out[classes == klass] = float(level)
    return out
