"""Reconciling the fitted levels: products add up to their category and categories to the total.

Each level has its own model, so the shop's total, the sum of its categories and the sum of its
products disagree, and a shop owner who adds up the product forecasts gets a number the total chart
contradicts. After all three levels are fitted in one training, units and revenue are reconciled
separately (a product's revenue base is its units times its price):

- `mint_shrink` (default): MinT with a shrunk covariance of the levels' errors on the backtest
  windows they share (reconcile.py), the total kept as forecast: categories and products are
  reconciled around it. Why: the total is chosen by a rolling-origin backtest among statistical
  candidates and its band is measured, while the sum of 2,000 products carries their common bias
  (flat Croston rates miss the weekly and yearly rhythm) and their errors are correlated in ways a
  shrunk covariance of 150 days cannot see. Measured on a synthetic catalogue of 2,000 products,
  free MinT tripled the total's backtest MAE (50 -> 148 units a day). It falls back to `bottom_up`
  when the levels share no backtest window, the hierarchy is larger than `max_nodes`, or the
  system is singular.
- `bottom_up`: the products' forecasts, summed.
- `none`: the levels are left as fitted.

Bands move with their forecast (the same shift, clipped at 0). Because reconciled errors are
S G e for base errors e, the backtest MAE of every level before and after is reported: the figure
that says whether reconciling cost the total anything.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ml_predictions.estimators.forecasting.reconcile import mint_adjust, reconcile, summing_matrix
from ml_predictions.estimators.forecasting.series import TOTAL_KEY, UNCATEGORIZED

RECONCILIATION_METHODS: tuple[str, ...] = ("mint_shrink", "bottom_up", "none")
MAX_NODES = 50_000
# MinT does not move the total: see the module docstring
KEEP = (0,)


def _not_reconciled(requested: str, reason: str) -> dict[str, Any]:
    return {"method": "none", "requested": requested, "reason": reason}


def reconcile_levels(
    levels: dict[str, dict[str, Any]], *, product_category: dict[str, str], price: dict[str, float],
    method: str = "mint_shrink", max_nodes: int = MAX_NODES,
) -> tuple[dict[str, Any], dict[str, np.ndarray] | None]:
    """Reconcile the level models in place; returns (report, product revenue table or None).

    The revenue table (forecast, lower, upper: products x days) replaces units x price for products
    once revenue is reconciled."""
    if method == "none":
        return _not_reconciled(method, "reconciliation switched off"), None
    if not {"total", "category", "product"} <= set(levels):
        return _not_reconciled(method, "the total, category and product levels were not fitted together"), None
    prod = levels["product"]["units"]
    starts = {lvl: models["units"].forecast_start_ for lvl, models in levels.items()}
    if len(set(starts.values())) != 1:
        return _not_reconciled(method, "the levels forecast from different days"), None
    cat_index = levels["category"]["units"].series_index_
    groups = [product_category.get(p, UNCATEGORIZED) or UNCATEGORIZED for p in prod.series_]
    if any(g not in cat_index for g in groups):
        return _not_reconciled(method, "some products' category has no category series"), None
    S, names = summing_matrix(groups)
    if set(names) != set(cat_index):
        return _not_reconciled(method, "some categories have no product series"), None
    cat_rows = np.array([cat_index[g] for g in names], dtype=int)
    prices = np.array([float(price.get(p, 0.0)) for p in prod.series_])
    report: dict[str, Any] = {"requested": method, "nodes": int(S.shape[0])}
    revenue_table = None
    for target in ("units", "revenue"):
        total, cat = levels["total"][target], levels["category"][target]
        factor = np.ones(len(prices)) if target == "units" else prices
        tables = [np.vstack([getattr(total, attr)[:1], getattr(cat, attr)[cat_rows],
                             getattr(prod, attr) * factor[:, None]]).astype(float)
                  for attr in ("forecast_", "lower_", "upper_")]
        errors = [getattr(total, "backtest_errors_", {}), getattr(cat, "backtest_errors_", {}),
                  {o: e * factor[:, None] for o, e in getattr(prod, "backtest_errors_", {}).items()}]
        resid = _common_residuals(errors, cat_rows)
        used, reason = _choose(method, S, resid, max_nodes)
        if used == "mint_shrink":
            try:
                recon, rep = reconcile(tables[0], S, method=used, residuals=resid, keep=KEEP)
            except np.linalg.LinAlgError:
                used, reason = "bottom_up", "the error covariance is singular"
        if used == "bottom_up":
            recon, rep = reconcile(tables[0], S, method=used)
        delta = recon - tables[0]
        lower = np.minimum(np.maximum(tables[1] + delta, 0.0), recon)
        upper = np.maximum(tables[2] + delta, recon)
        out = {"method": used, "negatives_clipped": rep["negatives_clipped"]}
        if reason:
            out["fallback_reason"] = reason
        if "shrinkage" in rep:
            out["shrinkage"] = rep["shrinkage"]
            out["total_kept"] = True
        if resid is not None:
            out["backtest_mae"] = _mae_before_after(resid, S, used, len(names))
        report[target] = out
        n_top = 1 + len(names)
        for model, rows, src in ((total, np.array([0]), slice(0, 1)), (cat, cat_rows, slice(1, n_top))):
            model.forecast_[rows] = recon[src]
            model.lower_[rows] = lower[src]
            model.upper_[rows] = upper[src]
        if target == "units":
            prod.forecast_[:] = recon[n_top:]
            prod.lower_[:] = lower[n_top:]
            prod.upper_[:] = upper[n_top:]
        else:
            revenue_table = {"forecast": recon[n_top:].astype(np.float32), "lower": lower[n_top:].astype(np.float32),
                             "upper": upper[n_top:].astype(np.float32)}
    methods = {report["units"]["method"], report["revenue"]["method"]}
    report["method"] = "mint_shrink" if methods == {"mint_shrink"} else "bottom_up"
    return report, revenue_table


def _common_residuals(errors: list[dict[int, np.ndarray]], cat_rows: np.ndarray) -> np.ndarray | None:
    """(nodes x days) errors on the backtest windows every level has, or None if there is none."""
    common = set(errors[0]) & set(errors[1]) & set(errors[2])
    shapes = {o: {e[o].shape[1] for e in errors} for o in common}
    common = sorted(o for o in common if len(shapes[o]) == 1)
    if not common:
        return None
    blocks = [np.vstack([errors[0][o][:1], errors[1][o][cat_rows], errors[2][o]]) for o in common]
    return np.hstack(blocks).astype(float)


def _choose(method: str, S: Any, resid: np.ndarray | None, max_nodes: int) -> tuple[str, str | None]:
    """The method that can run, and why it is not the requested one."""
    if method == "bottom_up":
        return "bottom_up", None
    if resid is None:
        return "bottom_up", "the levels share no backtest window"
    if S.shape[0] > max_nodes:
        return "bottom_up", f"{S.shape[0]} nodes is more than MinT's limit of {max_nodes}"
    if resid.shape[1] < 3:
        return "bottom_up", "fewer than 3 backtest days to estimate the error covariance"
    return "mint_shrink", None


def _mae_before_after(resid: np.ndarray, S: Any, used: str, n_cats: int) -> dict[str, Any]:
    """Backtest MAE per level of the base forecasts and of the reconciled ones: reconciliation is
    linear, so the reconciled errors are the reconciled base errors (actuals add up by themselves)."""
    if used == "mint_shrink":
        after = mint_adjust(resid, S, resid, keep=KEEP)[0]
    else:
        after = np.asarray(S @ resid[1 + n_cats:])
    parts = {TOTAL_KEY: slice(0, 1), "category": slice(1, 1 + n_cats), "product": slice(1 + n_cats, None)}
    return {level: {"base": round(float(np.abs(resid[rows]).mean()), 4),
                    "reconciled": round(float(np.abs(after[rows]).mean()), 4)} for level, rows in parts.items()}
