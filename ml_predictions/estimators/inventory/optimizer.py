"""Service-level reorder policy, alerts and health score for every product at once (pure pandas/numpy/scipy).

Why it is built this way:
- Alerts come from demand estimates and a stated service level, not fixed stock thresholds: a product
  that sells 20 a day with a 10-day lead time is "low" at 250 units, one that sells 1 a week is not low at 3.
- Everything is computed on whole arrays (one dense products x days matrix over the recent window), so
  10k products cost the same handful of numpy calls as 10.
- The class is a scikit-learn estimator (BaseEstimator: `__init__` only stores parameters, `fit` learns
  the per-product policy `policy_` and returns self, `check_is_fitted` raises our NotFittedError). The
  jobs live in their own modules: `demand` (the estimate), `classes` (ABC-XYZ), `policy` (formulas),
  `alerts` (the rules) and `health` (score, parts, summaries); this module wires them together.
- No Django here: settings, translations and the database live in `ml_predictions.capabilities.inventory.services`.

The rules (documented in docs/inventory.md, each a method of this class):

Demand.  Expected daily demand `d` comes from the product-level forecast when one is given (mean of the
predicted daily quantities, negatives clipped to 0; its optional `residual_std` column, the forecast's own error, is the spread).
Otherwise it is a *robust recent average*: the last
`demand_window_days` (default 56) are cut into weeks, each week's total is capped at
median + 3 x IQR of that product's weeks (one bulk order must not set the policy for two months), and the
mean of the capped weekly totals / 7 is `d`. A product first sold inside the window is averaged over the
days since its first sale (at least 7), so a new product is not diluted by days it did not exist.
Variability `sigma` is the standard deviation of the capped weekly totals / sqrt(7) (weekly totals absorb
the day-of-week pattern, which a lead time of a week or more averages out anyway). A trailing average lags
seasonal peaks, so when more than a year of history is given both are multiplied by a shop-wide
year-over-year seasonal index (units sold in the 28 days that followed this date a year ago, per day,
over units per day in the window before it a year ago; clipped to [0.5, 2.5]; 1.0 without that history).

Classes: ABC by revenue share, XYZ by the weekly coefficient of variation (see `classes`). The service
level of a product is its category's (`category_service_levels`), else its class's
(`class_service_levels`), else `service_level`.

Policy (continuous review, (s, S)):
    z               = Phi^-1(service level)        (service_type "cycle", type 1), or the z whose expected
                      shortage per cycle is (1 - fill rate) x the cycle's demand ("fill_rate", type 2)
    safety stock    = z * sqrt(L * sigma^2 + d^2 * sigma_L^2),  sigma_L = the product's lead-time standard
                      deviation when known, else lead_time_cv * L
                      (= z * sigma * sqrt(L) when lead times are certain, the default)
    reorder point s = d * L + safety stock
    order-up-to   S = d * (L + review_period_days) + safety stock
    order quantity  = S - stock            ("order_up_to", default), or
                      max(EOQ, s - stock)   ("eoq", EOQ = sqrt(2 * annual demand * ordering_cost /
                                              (holding_cost_rate * unit cost)); needs a unit cost)
                    then raised to the product's minimum order quantity and up to whole case packs
    estimated cost  = order quantity * unit cost (None when the cost is unknown)
    order-by date   = as_of + floor((stock - s) / d): the last day an order arrives before safety stock
                      is touched (as_of when already at or below s)
    lost revenue    = max(d * (L + review) - stock, 0) * price: demand lost if nothing is ordered today
    stockout date   = as_of + floor(stock / d) (as_of itself when out of stock; None when d = 0)
Stock on hand is taken as the inventory position: open purchase orders are not known to the plugin.
Unknown stock (NaN, e.g. a shop imported without stock columns) is not zero: such a product keeps its
demand, safety stock and reorder point but gets `stock_known` False, no order quantity and no alert,
is counted in the health metrics' `stock_unknown` (and a `stock_unknown` code) and left out of the score.

Alerts: see `alerts` (the rules and urgencies); health score and its parts: see `health`.
"""
from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.utils.validation import check_is_fitted

from ml_predictions.errors import InvalidParameterError, NotFittedError
from ml_predictions.estimators.inventory.alerts import ALERT_TYPES, AlertRules, compute_alerts  # noqa: F401
from ml_predictions.estimators.inventory.classes import (
    abc_classes,
    class_levels,
    revenue_weights,
    xyz_classes,
)
from ml_predictions.estimators.inventory.demand import estimate_demand
from ml_predictions.estimators.inventory.health import (
    HealthReport,
    alert_summary,
    class_summary,
    data_issues,
    health_report,
)
from ml_predictions.estimators.inventory.params import (  # noqa: F401 (ORDER_POLICIES: old import path)
    ORDER_POLICIES,
    column_numbers,
    column_text,
    validate_params,
)
from ml_predictions.estimators.inventory.policy import (
    fill_rate_z,
    lost_revenue_if_not_ordered,
    order_by_offset,
    round_to_supplier,
    safety_stock,
    z_value,
)

PRODUCT_COLUMNS_NEEDED = ("id", "name", "category", "cost", "stock", "lead_time_days")
# Optional supplier columns: absent or NaN = not applied.
SUPPLIER_COLUMNS = ("min_order_quantity", "case_pack", "lead_time_std_days", "supplier")


class InventoryOptimizer(BaseEstimator):
    """Per-product (s, S) reorder policy at a target service level per class, plus alerts and a health score."""

    def __init__(
        self,
        service_level: float = 0.95,
        category_service_levels: dict[str, float] | None = None,
        class_service_levels: dict[str, float] | None = None,
        service_type: str = "cycle",
        abc_thresholds: tuple[float, float] = (0.8, 0.95),
        xyz_thresholds: tuple[float, float] = (0.5, 1.0),
        default_lead_time_days: float = 7,
        lead_time_cv: float = 0.0,
        demand_window_days: int = 56,
        review_period_days: int = 14,
        order_policy: str = "order_up_to",
        ordering_cost: float = 25.0,
        holding_cost_rate: float = 0.25,
        low_stock_horizon_days: int = 7,
        slow_moving_days: int = 30,
        slow_moving_sell_through: float = 0.10,
        overstock_cover_days: float = 90,
        high_demand_days: int = 14,
        high_demand_ratio: float = 1.5,
        high_demand_min_units: int = 5,
        seasonal_adjustment: bool = True,
        seasonal_horizon_days: int = 28,
    ) -> None:
        self.service_level = service_level
        self.category_service_levels = category_service_levels
        self.class_service_levels = class_service_levels
        self.service_type = service_type
        self.abc_thresholds = abc_thresholds
        self.xyz_thresholds = xyz_thresholds
        self.default_lead_time_days = default_lead_time_days
        self.lead_time_cv = lead_time_cv
        self.demand_window_days = demand_window_days
        self.review_period_days = review_period_days
        self.order_policy = order_policy
        self.ordering_cost = ordering_cost
        self.holding_cost_rate = holding_cost_rate
        self.low_stock_horizon_days = low_stock_horizon_days
        self.slow_moving_days = slow_moving_days
        self.slow_moving_sell_through = slow_moving_sell_through
        self.overstock_cover_days = overstock_cover_days
        self.high_demand_days = high_demand_days
        self.high_demand_ratio = high_demand_ratio
        self.high_demand_min_units = high_demand_min_units
        self.seasonal_adjustment = seasonal_adjustment
        self.seasonal_horizon_days = seasonal_horizon_days

    def _validate(self) -> None:
        """Raise InvalidParameterError naming the first bad parameter (before any data is read)."""
        validate_params(self)

    @property
    def product_days_needed(self) -> int:
        """Days of per-product history behind demand, variability and the alert rules."""
        return int(max(self.demand_window_days, 3 * self.slow_moving_days))

    @property
    def history_days_needed(self) -> int:
        """How many days of order lines `fit` uses (the capability reads no more than this): the product
        window, plus last year's same season when the seasonal adjustment is on."""
        if self.seasonal_adjustment:
            return int(max(self.product_days_needed, 365 + self.demand_window_days))
        return self.product_days_needed

    def history_windows(self, as_of: date) -> list[tuple[date, date]]:
        """The [start, end) date ranges of order lines `fit` looks at: the recent product window and, with
        the seasonal adjustment, last year's window around the same date (read separately, it is ~2.5x
        fewer rows than the whole year)."""
        as_of = pd.Timestamp(as_of).date()
        windows = [(as_of - timedelta(days=self.product_days_needed), as_of)]
        if self.seasonal_adjustment:
            windows.append((as_of - timedelta(days=365 + int(self.demand_window_days)),
                            as_of - timedelta(days=365 - int(self.seasonal_horizon_days))))
        return windows

    def _rules(self) -> AlertRules:
        return AlertRules(self.low_stock_horizon_days, int(self.slow_moving_days), self.slow_moving_sell_through,
                          self.overstock_cover_days, int(self.high_demand_days), self.high_demand_ratio,
                          self.high_demand_min_units)

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        sales: pd.DataFrame,
        products: pd.DataFrame,
        *,
        as_of: date | pd.Timestamp,
        forecast: pd.DataFrame | None = None,
    ) -> InventoryOptimizer:
        """Learn the per-product policy.

        sales: order lines or daily totals with columns product_id, ordered_at (or date), quantity; only
            rows before `as_of` count. products: id, name, category, cost, stock, lead_time_days (NaN lead
            time -> default_lead_time_days, NaN cost -> no cost figures), optionally price and the supplier
            columns min_order_quantity, case_pack, lead_time_std_days, supplier (NaN = not applied).
            forecast: optional product_id, date, predicted_quantity (and residual_std) for days >= as_of.
        """
        self._validate()
        missing = [c for c in PRODUCT_COLUMNS_NEEDED if c not in products.columns]
        if missing:
            raise InvalidParameterError(f"products lacks columns {missing}.", field="products")
        if not {"product_id", "quantity"} <= set(sales.columns) or not {"ordered_at", "date"} & set(sales.columns):
            raise InvalidParameterError("sales needs columns product_id, ordered_at (or date) and quantity.",
                                        field="sales")
        try:
            as_of_ts = pd.Timestamp(as_of).normalize().tz_localize(None)
        except (TypeError, ValueError) as exc:
            raise InvalidParameterError(f"as_of must be a date; got {as_of!r}.", field="as_of") from exc
        prods = products.reset_index(drop=True)
        n = len(prods)
        ids = prods["id"].astype(str).to_numpy()
        window, span = int(self.demand_window_days), self.product_days_needed
        est = estimate_demand(sales, ids, as_of_ts, span=span, window=window,
                              seasonal=bool(self.seasonal_adjustment),
                              seasonal_horizon=int(self.seasonal_horizon_days), forecast=forecast)
        matrix, daily, sigma = est.matrix, est.daily, est.sigma

        # ---- high-demand signal inputs -----------------------------------------------------------------
        hd = int(self.high_demand_days)
        recent_units = matrix[:, span - hd:].sum(axis=1)
        before_days = np.clip((span - hd) - np.maximum(est.first_sale, span - window), 0, None)
        before_units = matrix[:, span - window:span - hd].sum(axis=1)
        before_rate = np.where(before_days > 0, before_units / np.maximum(before_days, 1), np.nan)

        # ---- classes and service levels --------------------------------------------------------------
        price = column_numbers(prods, "price")
        cost_raw = column_numbers(prods, "cost")
        cost_known = np.isfinite(cost_raw) & (cost_raw > 0)
        revenue = matrix[:, span - window:].sum(axis=1) * revenue_weights(price, cost_raw)
        abc = abc_classes(revenue, tuple(self.abc_thresholds))
        xyz = xyz_classes(est.weekly_cv, tuple(self.xyz_thresholds))
        klass = (abc.astype(str).astype(object) + xyz.astype(str).astype(object)).astype(object)
        category = column_text(prods, "category")
        levels = class_levels(klass, self.class_service_levels or {}, float(self.service_level))
        for cat, level in (self.category_service_levels or {}).items():
            levels[category == cat] = float(level)

        # ---- lead time and safety stock ---------------------------------------------------------------
        lead_raw = column_numbers(prods, "lead_time_days")
        lead_known = np.isfinite(lead_raw) & (lead_raw > 0)
        lead = np.where(lead_known, lead_raw, float(self.default_lead_time_days))
        lead_std_raw = column_numbers(prods, "lead_time_std_days")
        lead_std_known = np.isfinite(lead_std_raw) & (lead_std_raw >= 0)
        lead_std = np.where(lead_std_known, lead_std_raw, float(self.lead_time_cv) * lead)
        sigma_lt = np.sqrt(lead * sigma ** 2 + daily ** 2 * lead_std ** 2)
        review = float(self.review_period_days)
        holding = float(self.holding_cost_rate) * np.where(cost_known, cost_raw, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            eoq = np.sqrt(2.0 * daily * 365.0 * float(self.ordering_cost) / holding)
        if self.order_policy != "eoq":
            eoq = np.full(n, np.nan)
        if self.service_type == "fill_rate":
            cycle_qty = np.where(np.isfinite(eoq), eoq, daily * max(review, 1.0))
            z = fill_rate_z(levels, cycle_qty, sigma_lt)
        else:
            z = z_value(levels)
        safety = safety_stock(z, daily, sigma, lead, lead_std)
        reorder_point = daily * lead + safety
        order_up_to = daily * (lead + review) + safety

        # ---- stock, order quantity ---------------------------------------------------------------------
        stock_raw = column_numbers(prods, "stock")
        # a shop imported without stock columns has NaN stock: unknown, not zero (no stockout alerts)
        stock_known = np.isfinite(stock_raw)
        stock = np.where(stock_known, stock_raw, 0.0)
        needs_order = stock_known & (daily > 0) & (stock <= reorder_point)
        if self.order_policy == "eoq":
            # without a unit cost EOQ is undefined: fall back to the order-up-to quantity for that product
            qty_needed = np.where(np.isfinite(eoq), np.maximum(eoq, reorder_point - stock), order_up_to - stock)
        else:
            qty_needed = order_up_to - stock
        moq, pack = column_numbers(prods, "min_order_quantity"), column_numbers(prods, "case_pack")
        order_qty = np.where(needs_order, round_to_supplier(qty_needed, moq, pack), 0.0)
        est_cost = np.where(cost_known, order_qty * cost_raw, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            cover = np.where(stock_known & (daily > 0), stock / daily, np.where(stock_known, np.inf, np.nan))
        stockout_offset = np.where(stock_known & (daily > 0), np.floor(np.where(np.isfinite(cover), cover, 0)), np.nan)
        lost = lost_revenue_if_not_ordered(stock, daily, lead, review, price, stock_known)

        policy = pd.DataFrame(
            {
                "product_id": ids,
                "product_name": column_text(prods, "name"),
                "category": category,
                "supplier": column_text(prods, "supplier"),
                "current_stock": stock,
                "stock_known": stock_known,
                "unit_cost": np.where(cost_known, cost_raw, np.nan),
                "price": price,
                "lead_time_days": lead,
                "lead_time_source": np.where(lead_known, "product", "default"),
                "lead_time_std_days": lead_std,
                "min_order_quantity": np.where(np.isfinite(moq) & (moq > 0), moq, np.nan),
                "case_pack": np.where(np.isfinite(pack) & (pack > 0), pack, np.nan),
                "abc_class": abc,
                "xyz_class": xyz,
                "abc_xyz": klass,
                "revenue": revenue,
                "demand_cv": est.weekly_cv,
                "service_level": levels,
                "service_type": self.service_type,
                "safety_factor": z,
                "demand_source": est.source,
                "has_history": est.has_sale,
                "daily_demand": daily,
                "demand_std": sigma,
                "demand_spread_source": est.spread_source,
                "predicted_demand_7days": est.demand_7,
                "predicted_demand_30days": est.demand_30,
                "safety_stock": safety,
                "reorder_point": reorder_point,
                "order_up_to": order_up_to,
                "eoq": eoq,
                "recommended_order_quantity": order_qty,
                "estimated_cost": est_cost,
                "days_of_cover": cover,
                "stockout_in_days": stockout_offset,
                "order_by_in_days": order_by_offset(stock, reorder_point, daily, stock_known),
                "estimated_lost_revenue": lost,
                "days_since_last_sale": est.days_since_last_sale,
                "units_last_slow_window": matrix[:, span - int(self.slow_moving_days):].sum(axis=1),
                "recent_units": recent_units,
                "recent_daily": recent_units / hd,
                "reference_daily": np.where(np.isfinite(est.forecast_rate), est.forecast_rate, before_rate),
            }
        )
        self.as_of_ = as_of_ts.date()
        self.history_days_ = span
        self.seasonal_index_ = est.seasonal_index
        self.policy_ = policy
        self.alerts_ = compute_alerts(policy, self._rules(), self.as_of_)
        return self

    # ------------------------------------------------------------------ public read-outs
    def _check_fitted(self) -> None:
        try:
            check_is_fitted(self, "policy_")
        except SklearnNotFittedError as exc:
            raise NotFittedError("This InventoryOptimizer is not fitted yet; call fit(sales, products, as_of=...) "
                                 "first.") from exc

    def subset(self, product_ids: Any) -> InventoryOptimizer:
        """A fitted copy restricted to some products (e.g. one category's health), without refitting."""
        self._check_fitted()
        keep = set(map(str, product_ids))
        out = copy.copy(self)
        out.policy_ = self.policy_[self.policy_["product_id"].isin(keep)].reset_index(drop=True)
        out.alerts_ = self.alerts_[self.alerts_["product_id"].isin(keep)].reset_index(drop=True)
        return out

    def alerts(self) -> pd.DataFrame:
        """One row per (product, alert type), most urgent first."""
        self._check_fitted()
        return self.alerts_

    def reorder_recommendations(self) -> pd.DataFrame:
        """Products the policy says to order today (demand > 0 and stock at or below the reorder point)."""
        self._check_fitted()
        p = self.policy_
        rec = p[p["recommended_order_quantity"] > 0].copy()
        urg = self.alerts_[self.alerts_["alert_type"] == "reorder_now"].set_index("product_id")["urgency_level"]
        rec["urgency_level"] = rec["product_id"].map(urg).fillna(3).astype(int)
        rec["priority"] = np.select([rec["urgency_level"] >= 4, rec["urgency_level"] == 3], ["high", "medium"], "low")
        rec = rec.sort_values(["urgency_level", "days_of_cover", "product_name"], ascending=[False, True, True])
        return rec.reset_index(drop=True)

    def health(self) -> HealthReport:
        """Score, status, the counts behind the recommendations and the score's parts (see `health`)."""
        self._check_fitted()
        return health_report(self.policy_, self.alerts_)

    def data_issues(self) -> dict[str, list[str]]:
        """Products the policy could only partly compute, by reason (never silently dropped)."""
        self._check_fitted()
        return data_issues(self.policy_)

    def summary(self) -> dict[str, Any]:
        """The spec's inventory-analysis summary: totals by alert type and the stock value at risk."""
        self._check_fitted()
        return alert_summary(self.alerts_)

    def class_summary(self) -> list[dict[str, Any]]:
        """Products, service level target and revenue share per ABC-XYZ class."""
        self._check_fitted()
        return class_summary(self.policy_)

