"""Service-level reorder policy, alerts and health score for every product at once (pure pandas/numpy/scipy).

Why it is built this way:
- Alerts come from demand estimates and a stated service level, not fixed stock thresholds: a product
  that sells 20 a day with a 10-day lead time is "low" at 250 units, one that sells 1 a week is not low at 3.
- Everything is computed on whole arrays (one dense products x days matrix over the recent window), so
  10k products cost the same handful of numpy calls as 10.
- The class follows the scikit-learn estimator contract: `__init__` only stores parameters, `fit` learns
  the per-product policy (`policy_`) and returns self, unfitted use raises NotFittedError.
- No Django here: settings, translations and the database live in `ml_predictions.capabilities.inventory.services`.

The rules (documented in docs/inventory.md, each a method of this class):

Demand.  Expected daily demand `d` comes from the product-level forecast when one is given (mean of the
predicted daily quantities, negatives clipped to 0). Otherwise it is a *robust recent average*: the last
`demand_window_days` (default 56) are cut into weeks, each week's total is capped at
median + 3 x IQR of that product's weeks (one bulk order must not set the policy for two months), and the
mean of the capped weekly totals / 7 is `d`. A product first sold inside the window is averaged over the
days since its first sale (at least 7), so a new product is not diluted by days it did not exist.
Variability `sigma` is the standard deviation of the capped weekly totals / sqrt(7) (weekly totals absorb
the day-of-week pattern, which a lead time of a week or more averages out anyway). A trailing average lags
seasonal peaks, so when more than a year of history is given both are multiplied by a shop-wide
year-over-year seasonal index (units sold in the 28 days that followed this date a year ago, per day,
over units per day in the window before it a year ago; clipped to [0.5, 2.5]; 1.0 without that history).

Policy (continuous review, (s, S)):
    z               = Phi^-1(service level)        (cycle service level; per-category overrides)
    safety stock    = z * sqrt(L * sigma^2 + d^2 * sigma_L^2),  sigma_L = lead_time_cv * L
                      (= z * sigma * sqrt(L) when lead times are certain, the default)
    reorder point s = d * L + safety stock
    order-up-to   S = d * (L + review_period_days) + safety stock
    order quantity  = S - stock            ("order_up_to", default), or
                      max(EOQ, s - stock)   ("eoq", EOQ = sqrt(2 * annual demand * ordering_cost /
                                              (holding_cost_rate * unit cost)); needs a unit cost)
    estimated cost  = order quantity * unit cost (None when the cost is unknown)
    stockout date   = as_of + floor(stock / d) (as_of itself when out of stock; None when d = 0)
Stock on hand is taken as the inventory position: open purchase orders are not known to the plugin.
Unknown stock (NaN, e.g. a shop imported without stock columns) is not zero: such a product keeps its
demand, safety stock and reorder point but gets `stock_known` False, no order quantity and no alert,
is counted in the health metrics' `stock_unknown` (and a `stock_unknown` code) and left out of the score.

Alerts (a product may carry several types; at most one of reorder_now / low_stock, and slow_moving wins
over overstock):
    reorder_now  d > 0 and stock <= s. Urgency 5 when out of stock or cover < L/2, 4 when cover < L
                 (a stockout before any order can arrive), else 3 (safety stock is being used).
    low_stock    d > 0 and s < stock <= s + d * low_stock_horizon_days (crosses the reorder point within
                 the horizon, default 7 days). Urgency 2, or 3 when crossing within 3 days.
    slow_moving  stock > 0 and the sell-through of the last `slow_moving_days` (units sold / (units sold +
                 stock)) is below `slow_moving_sell_through` (default: < 10 % in 30 days; no sale at all
                 always counts). Urgency 1, 2 when the last sale is >= 2 x N days ago
                 (or never in the history read), 3 when >= 3 x N days ago.
    overstock    d > 0, not slow moving, stock > S and stock / d > `overstock_cover_days` (default 90).
                 Urgency 2, 3 when cover exceeds twice the threshold.
    high_demand  the last `high_demand_days` (14) sold at least `high_demand_ratio` (1.5) x the reference
                 rate and at least `high_demand_min_units` (5) units, and more units than the 99th
                 percentile of a Poisson count at the reference rate (so a slow product selling 5 instead
                 of 3 is not flagged). The reference is the forecast when
                 there is one, else the average of the window days before those 14 days. Urgency 3, 4 when
                 the product is also at or below its reorder point.

Health score = 100 x (1 - mean product penalty); a product's penalty is the largest of its alerts':
reorder_now 1.0, slow_moving 0.75, low_stock 0.5, overstock 0.5 (high_demand is information, 0).
Status: good >= 80, warning >= 60, else critical.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm, poisson

from ml_predictions.errors import InvalidParameterError, NotFittedError

ALERT_TYPES = ("reorder_now", "low_stock", "slow_moving", "overstock", "high_demand")
ORDER_POLICIES = ("order_up_to", "eoq")
ALERT_PENALTY = {"reorder_now": 1.0, "slow_moving": 0.75, "low_stock": 0.5, "overstock": 0.5, "high_demand": 0.0}
HEALTH_GOOD, HEALTH_WARNING = 80.0, 60.0
PRODUCT_COLUMNS_NEEDED = ("id", "name", "category", "cost", "stock", "lead_time_days")


def z_value(service_level: float | np.ndarray) -> float | np.ndarray:
    """The standard-normal quantile of a cycle service level (0.95 -> 1.645)."""
    return norm.ppf(service_level)


@dataclass
class HealthReport:
    """Health score and the counts a plain-language recommendation is built from."""

    health_score: float
    status: str
    metrics: dict[str, int]
    # (message id, count) pairs; the workflow turns them into translated sentences.
    recommendation_codes: list[tuple[str, int]] = field(default_factory=list)


class InventoryOptimizer:
    """Per-product (s, S) reorder policy at a target cycle service level, plus alerts and a health score."""

    def __init__(
        self,
        service_level: float = 0.95,
        category_service_levels: dict[str, float] | None = None,
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

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters (scikit-learn's convention), e.g. to store beside the artifact."""
        import inspect

        names = [n for n in inspect.signature(type(self).__init__).parameters if n != "self"]
        return {n: getattr(self, n) for n in names}

    # ------------------------------------------------------------------ validation
    def _validate(self) -> None:
        def bad(name: str, why: str) -> InvalidParameterError:
            return InvalidParameterError(f"{name} {why}; got {getattr(self, name)!r}.", field=name)

        levels = {"service_level": self.service_level, **{
            f"category_service_levels[{k}]": v for k, v in (self.category_service_levels or {}).items()}}
        for name, value in levels.items():
            if not isinstance(value, (int, float)) or not 0.5 <= float(value) < 1.0:
                raise InvalidParameterError(
                    f"{name} must be a number in [0.5, 1); got {value!r}.", field=name.split("[")[0])
        if self.order_policy not in ORDER_POLICIES:
            raise bad("order_policy", f"must be one of {list(ORDER_POLICIES)}")
        if not self.default_lead_time_days > 0:
            raise bad("default_lead_time_days", "must be > 0")
        if self.lead_time_cv < 0:
            raise bad("lead_time_cv", "must be >= 0")
        for name in ("demand_window_days", "slow_moving_days", "high_demand_days"):
            if int(getattr(self, name)) < 7:
                raise bad(name, "must be at least 7 days")
        if self.high_demand_days >= self.demand_window_days:
            raise bad("high_demand_days", "must be shorter than demand_window_days")
        if not 7 <= int(self.seasonal_horizon_days) <= 180:
            raise bad("seasonal_horizon_days", "must be between 7 and 180")
        for name in ("review_period_days", "low_stock_horizon_days", "overstock_cover_days", "ordering_cost",
                     "holding_cost_rate", "high_demand_ratio", "slow_moving_sell_through", "high_demand_min_units"):
            if getattr(self, name) < 0:
                raise bad(name, "must be >= 0")

    @property
    def product_days_needed(self) -> int:
        """Days of per-product history behind demand, variability and the alert rules."""
        return int(max(self.demand_window_days, 3 * self.slow_moving_days))

    @property
    def history_days_needed(self) -> int:
        """How many days of order lines `fit` uses (the workflow reads no more than this): the product
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

    def _seasonal_index(self, offsets: np.ndarray, qty: np.ndarray) -> float:
        """Shop-wide year-over-year seasonal index (1.0 when less than a year of history is given).

        ratio = daily units sold in the `seasonal_horizon_days` that followed this date a year ago / daily
        units in the demand window before that date a year ago. Shop-wide (all products summed), because
        per-product yearly ratios are mostly noise; clipped to [0.5, 2.5].
        """
        if not self.seasonal_adjustment or not len(offsets):
            return 1.0
        window, horizon = int(self.demand_window_days), int(self.seasonal_horizon_days)
        if offsets.max() < 365 + window - 7:  # history does not reach last year's window
            return 1.0
        ahead = qty[(offsets > 365 - horizon) & (offsets <= 365)].sum() / horizon
        before = qty[(offsets > 365) & (offsets <= 365 + window)].sum() / window
        if before <= 0 or ahead <= 0:
            return 1.0
        return float(np.clip(ahead / before, 0.5, 2.5))

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
            time -> default_lead_time_days, NaN cost -> no cost figures). forecast: optional product_id,
            date, predicted_quantity for days >= as_of.
        """
        self._validate()
        missing = [c for c in PRODUCT_COLUMNS_NEEDED if c not in products.columns]
        if missing:
            raise InvalidParameterError(f"products lacks columns {missing}.", field="products")
        as_of_ts = pd.Timestamp(as_of).normalize().tz_localize(None)
        prods = products.reset_index(drop=True)
        n = len(prods)
        ids = prods["id"].astype(str).to_numpy()
        window = int(self.demand_window_days)
        span = self.product_days_needed
        start = as_of_ts - pd.Timedelta(days=span)

        # ---- dense products x days matrix of the last `span` days (one bincount) ----------------------
        time_col = "ordered_at" if "ordered_at" in sales.columns else "date"
        days_ts = pd.to_datetime(sales[time_col], utc=True) if len(sales) else pd.Series([], dtype="datetime64[ns, UTC]")
        day_naive = days_ts.dt.tz_localize(None).dt.normalize() if len(sales) else days_ts
        day_idx = ((day_naive - start) // pd.Timedelta(days=1)).to_numpy() if len(sales) else np.array([], dtype=int)
        code = pd.Index(ids).get_indexer(sales["product_id"].astype(str)) if len(sales) else np.array([], dtype=int)
        qty = pd.to_numeric(sales["quantity"], errors="coerce").fillna(0).to_numpy(float) if len(sales) else np.array([])
        offsets = span - day_idx  # days before as_of (1 = the day before)
        past = (offsets >= 1) & (qty > 0)
        seasonal = self._seasonal_index(offsets[past], qty[past])
        keep = (code >= 0) & (day_idx >= 0) & (day_idx < span) & (qty > 0)
        flat = code[keep].astype(np.int64) * span + day_idx[keep].astype(np.int64)
        matrix = np.bincount(flat, weights=qty[keep], minlength=n * span).reshape(n, span)

        sold_any = matrix > 0
        has_sale = sold_any.any(axis=1)
        first_sale = np.where(has_sale, sold_any.argmax(axis=1), span)          # index of first sale day
        last_sale = np.where(has_sale, span - 1 - sold_any[:, ::-1].argmax(axis=1), -1)
        days_since_last_sale = np.where(has_sale, span - last_sale, np.nan)     # as_of is day `span`

        # ---- robust recent average from capped weekly totals ---------------------------------------
        recent = matrix[:, span - window:]
        n_weeks = window // 7
        weekly = recent[:, window - n_weeks * 7:].reshape(n, n_weeks, 7).sum(axis=2)
        # weeks before the product's first sale do not count
        first_in_window = first_sale - (span - window) - (window - n_weeks * 7)
        week_of_first = np.clip(np.floor_divide(first_in_window, 7), 0, n_weeks)
        valid_week = np.arange(n_weeks)[None, :] >= week_of_first[:, None]
        valid_week[~has_sale] = True
        w = np.where(valid_week, weekly, np.nan)
        q1, med, q3 = np.nanpercentile(w, [25, 50, 75], axis=1) if n else (np.array([]),) * 3
        cap = med + 3.0 * (q3 - q1)
        cap = np.where(cap > 0, cap, np.nanmax(w, axis=1) if n else cap)    # all-zero IQR: keep data as is
        capped = np.minimum(w, cap[:, None])
        # a partial first week: average over days since first sale (min 7) instead of whole weeks
        days_active = np.clip(span - first_sale, 7, None)
        valid_days = np.minimum(valid_week.sum(axis=1) * 7, np.maximum(days_active, 7))
        total_capped = np.nansum(capped, axis=1)
        hist_daily = np.where(has_sale, total_capped / np.maximum(valid_days, 7), 0.0)
        n_valid = valid_week.sum(axis=1)
        mean_w = np.nanmean(capped, axis=1) if n else np.array([])
        var_w = np.nansum((capped - mean_w[:, None]) ** 2, axis=1) / np.maximum(n_valid - 1, 1)
        sigma = np.where(has_sale & (n_valid > 1), np.sqrt(var_w) / np.sqrt(7.0), hist_daily)

        # ---- high-demand signal inputs -----------------------------------------------------------------
        hd = int(self.high_demand_days)
        recent_units = matrix[:, span - hd:].sum(axis=1)
        before = matrix[:, span - window:span - hd]
        before_days = np.clip((span - hd) - np.maximum(first_sale, span - window), 0, None)
        before_rate = np.where(before_days > 0, before.sum(axis=1) / np.maximum(before_days, 1), np.nan)

        # ---- demand: forecast when given, otherwise the history estimate -----------------------------
        # the history estimate looks back; the seasonal index moves it to the coming weeks' level
        hist_daily = hist_daily * seasonal
        sigma = sigma * seasonal
        daily = hist_daily.copy()
        demand_7 = hist_daily * 7
        demand_30 = hist_daily * 30
        source = np.full(n, "history", dtype=object)
        fc_rate = np.full(n, np.nan)
        if forecast is not None and len(forecast):
            f = forecast.loc[:, ["product_id", "date", "predicted_quantity"]].copy()
            fdates = pd.to_datetime(f["date"])
            f["date"] = fdates.dt.tz_convert(None) if fdates.dt.tz is not None else fdates
            f = f[f["date"].dt.normalize() >= as_of_ts]
            f["code"] = pd.Index(ids).get_indexer(f["product_id"].astype(str))
            f = f[f["code"] >= 0]
            f["q"] = pd.to_numeric(f["predicted_quantity"], errors="coerce").fillna(0).clip(lower=0)
            f["h"] = (f["date"].dt.normalize() - as_of_ts) // pd.Timedelta(days=1)
            if len(f):
                g = f.groupby("code")
                mean_rate = g["q"].mean()
                sum7 = f[f["h"] < 7].groupby("code")["q"].sum()
                sum30 = f[f["h"] < 30].groupby("code")["q"].sum()
                horizon = g["h"].max() + 1
                codes = mean_rate.index.to_numpy()
                fc_rate[codes] = mean_rate.to_numpy()
                daily[codes] = mean_rate.to_numpy()
                # a horizon shorter than 7/30 days is extended at the forecast's mean rate
                h = horizon.to_numpy()
                s7 = sum7.reindex(mean_rate.index, fill_value=0).to_numpy()
                s30 = sum30.reindex(mean_rate.index, fill_value=0).to_numpy()
                demand_7[codes] = s7 + np.clip(7 - h, 0, None) * mean_rate.to_numpy()
                demand_30[codes] = s30 + np.clip(30 - h, 0, None) * mean_rate.to_numpy()
                source[codes] = "forecast"

        # ---- lead time, service level --------------------------------------------------------------
        lead_raw = pd.to_numeric(prods["lead_time_days"], errors="coerce").to_numpy(float)
        lead_known = np.isfinite(lead_raw) & (lead_raw > 0)
        lead = np.where(lead_known, lead_raw, float(self.default_lead_time_days))
        category = prods["category"].astype(object).where(prods["category"].notna(), "").astype(str).to_numpy()
        levels = np.full(n, float(self.service_level))
        for cat, level in (self.category_service_levels or {}).items():
            levels[category == cat] = float(level)
        z = z_value(levels)

        sigma_l = float(self.lead_time_cv) * lead
        safety = z * np.sqrt(lead * sigma ** 2 + daily ** 2 * sigma_l ** 2)
        reorder_point = daily * lead + safety
        order_up_to = daily * (lead + float(self.review_period_days)) + safety

        stock_raw = pd.to_numeric(prods["stock"], errors="coerce").to_numpy(float)
        # a shop imported without stock columns has NaN stock: unknown, not zero (no stockout alerts)
        stock_known = np.isfinite(stock_raw)
        stock = np.where(stock_known, stock_raw, 0.0)
        cost_raw = pd.to_numeric(prods["cost"], errors="coerce").to_numpy(float)
        cost_known = np.isfinite(cost_raw) & (cost_raw > 0)
        price = pd.to_numeric(prods.get("price", pd.Series(np.nan, index=prods.index)), errors="coerce").to_numpy(float)

        needs_order = stock_known & (daily > 0) & (stock <= reorder_point)
        if self.order_policy == "eoq":
            holding = float(self.holding_cost_rate) * np.where(cost_known, cost_raw, np.nan)
            with np.errstate(divide="ignore", invalid="ignore"):
                eoq = np.sqrt(2.0 * daily * 365.0 * float(self.ordering_cost) / holding)
            # without a unit cost EOQ is undefined: fall back to the order-up-to quantity for that product
            qty_needed = np.where(np.isfinite(eoq), np.maximum(eoq, reorder_point - stock), order_up_to - stock)
        else:
            eoq = np.full(n, np.nan)
            qty_needed = order_up_to - stock
        order_qty = np.where(needs_order, np.ceil(np.maximum(qty_needed, 0) - 1e-9), 0.0)
        est_cost = np.where(cost_known, order_qty * cost_raw, np.nan)

        with np.errstate(divide="ignore", invalid="ignore"):
            cover = np.where(daily > 0, stock / daily, np.inf)
        stockout_offset = np.where(daily > 0, np.floor(np.where(np.isfinite(cover), cover, 0)), np.nan)

        policy = pd.DataFrame(
            {
                "product_id": ids,
                "product_name": prods["name"].astype(str).to_numpy(),
                "category": category,
                "current_stock": stock,
                "stock_known": stock_known,
                "unit_cost": np.where(cost_known, cost_raw, np.nan),
                "price": price,
                "lead_time_days": lead,
                "lead_time_source": np.where(lead_known, "product", "default"),
                "service_level": levels,
                "demand_source": source,
                "has_history": has_sale,
                "daily_demand": daily,
                "demand_std": sigma,
                "predicted_demand_7days": demand_7,
                "predicted_demand_30days": demand_30,
                "safety_stock": safety,
                "reorder_point": reorder_point,
                "order_up_to": order_up_to,
                "eoq": eoq,
                "recommended_order_quantity": order_qty,
                "estimated_cost": est_cost,
                "days_of_cover": cover,
                "stockout_in_days": stockout_offset,
                "days_since_last_sale": days_since_last_sale,
                "units_last_slow_window": matrix[:, span - int(self.slow_moving_days):].sum(axis=1),
                "recent_units": recent_units,
                "recent_daily": recent_units / hd,
                "reference_daily": np.where(np.isfinite(fc_rate), fc_rate, before_rate),
            }
        )
        self.as_of_ = as_of_ts.date()
        self.history_days_ = span
        self.seasonal_index_ = seasonal
        self.policy_ = policy
        self.alerts_ = self._alerts(policy)
        return self

    # ------------------------------------------------------------------ alerts
    def _alerts(self, p: pd.DataFrame) -> pd.DataFrame:
        d = p["daily_demand"].to_numpy()
        stock = p["current_stock"].to_numpy()
        s = p["reorder_point"].to_numpy()
        big_s = p["order_up_to"].to_numpy()
        lead = p["lead_time_days"].to_numpy()
        cover = p["days_of_cover"].to_numpy()
        known = p["stock_known"].to_numpy(bool)
        pos = (d > 0) & known

        reorder = pos & (stock <= s)
        u_reorder = np.select([(stock <= 0) | (cover < lead / 2), cover < lead], [5, 4], 3)

        low = pos & (stock > s) & (stock <= s + d * float(self.low_stock_horizon_days))
        u_low = np.where((stock - s) <= d * 3, 3, 2)

        n_slow = int(self.slow_moving_days)
        since = p["days_since_last_sale"].to_numpy()
        sold = p["units_last_slow_window"].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            sell_through = sold / (sold + stock)
        slow = known & (stock > 0) & ((sold <= 0) | (sell_through < float(self.slow_moving_sell_through)))
        since_f = np.where(np.isnan(since), np.inf, since)
        u_slow = np.select([since_f >= 3 * n_slow, since_f >= 2 * n_slow], [3, 2], 1)

        over = pos & ~slow & (stock > big_s) & (cover > float(self.overstock_cover_days))
        u_over = np.where(cover > 2 * float(self.overstock_cover_days), 3, 2)

        ref = p["reference_daily"].to_numpy()
        recent = p["recent_daily"].to_numpy()
        recent_units = p["recent_units"].to_numpy()
        expected = np.where(np.isfinite(ref), ref, 0.0) * float(self.high_demand_days)
        high = (
            known
            & (recent_units >= float(self.high_demand_min_units))
            & np.isfinite(ref)
            & (recent >= float(self.high_demand_ratio) * np.where(np.isfinite(ref), ref, np.inf))
            # and not just noise: more units than a Poisson count at the reference rate gives 99 % of the time
            & (recent_units > poisson.ppf(0.99, np.maximum(expected, 1e-9)))
        )
        u_high = np.where(reorder, 4, 3)

        parts = []
        for name, mask, urgency in (
            ("reorder_now", reorder, u_reorder), ("low_stock", low, u_low), ("slow_moving", slow, u_slow),
            ("overstock", over, u_over), ("high_demand", high, u_high),
        ):
            idx = np.flatnonzero(mask)
            if len(idx):
                parts.append(pd.DataFrame({"row": idx, "alert_type": name, "urgency_level": urgency[idx]}))
        if not parts:
            return self._empty_alerts()
        a = pd.concat(parts, ignore_index=True)
        rows = p.iloc[a["row"].to_numpy()].reset_index(drop=True)
        out = pd.DataFrame(
            {
                "product_id": rows["product_id"],
                "product_name": rows["product_name"],
                "category": rows["category"],
                "alert_type": a["alert_type"],
                "current_stock": rows["current_stock"].round().astype(int),
                "recommended_stock": np.ceil(rows["order_up_to"] - 1e-9).astype(int),
                "predicted_demand_7days": rows["predicted_demand_7days"].round(1),
                "predicted_demand_30days": rows["predicted_demand_30days"].round(1),
                "urgency_level": np.clip(a["urgency_level"].to_numpy(), 1, 5).astype(int),
                "estimated_stockout_date": self._stockout_dates(rows["stockout_in_days"].to_numpy()),
                "stock_value": rows["current_stock"] * rows["unit_cost"],
                "excess_value": np.where(
                    a["alert_type"] == "slow_moving", rows["current_stock"] * rows["unit_cost"],
                    np.where(a["alert_type"] == "overstock",
                             np.clip(rows["current_stock"] - rows["order_up_to"], 0, None) * rows["unit_cost"], 0.0)),
                "daily_demand": rows["daily_demand"],
                "days_since_last_sale": rows["days_since_last_sale"],
                "recent_daily": rows["recent_daily"],
                "reference_daily": rows["reference_daily"],
            }
        )
        order = {t: i for i, t in enumerate(ALERT_TYPES)}
        out["_t"] = out["alert_type"].map(order)
        out = out.sort_values(["urgency_level", "_t", "product_name"], ascending=[False, True, True], kind="stable")
        return out.drop(columns="_t").reset_index(drop=True)

    @staticmethod
    def _empty_alerts() -> pd.DataFrame:
        return pd.DataFrame(
            {c: pd.Series(dtype=t) for c, t in (
                ("product_id", object), ("product_name", object), ("category", object), ("alert_type", object),
                ("current_stock", int), ("recommended_stock", int), ("predicted_demand_7days", float),
                ("predicted_demand_30days", float), ("urgency_level", int), ("estimated_stockout_date", object),
                ("stock_value", float), ("excess_value", float), ("daily_demand", float),
                ("days_since_last_sale", float), ("recent_daily", float), ("reference_daily", float))}
        )

    def _stockout_dates(self, offsets: np.ndarray) -> np.ndarray:
        base = np.datetime64(self.as_of_ if hasattr(self, "as_of_") else date.today(), "D")
        out = np.empty(len(offsets), dtype=object)
        ok = np.isfinite(offsets)
        out[~ok] = None
        if ok.any():
            stamps = base + offsets[ok].astype("timedelta64[D]")
            out[ok] = [d.item() for d in stamps]  # Python dates (only alert rows, a few thousand at most)
        return out

    # ------------------------------------------------------------------ public read-outs
    def _check_fitted(self) -> None:
        if not hasattr(self, "policy_"):
            raise NotFittedError("This InventoryOptimizer is not fitted yet; call fit(sales, products, as_of=...) first.")

    def subset(self, product_ids: Any) -> InventoryOptimizer:
        """A fitted copy restricted to some products (e.g. one category's health), without refitting."""
        self._check_fitted()
        import copy

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
        """Score, status and the counts behind the recommendations (see the module docstring)."""
        self._check_fitted()
        n = len(self.policy_)
        unknown = int((~self.policy_["stock_known"]).sum())
        a = self.alerts_
        penalty = a["alert_type"].map(ALERT_PENALTY).groupby(a["product_id"]).max()
        # products of unknown stock carry no alert, so they are left out of the score (not counted healthy)
        scored = n - unknown
        score = 100.0 * (1.0 - float(penalty.sum()) / scored) if scored else 100.0
        status = "good" if score >= HEALTH_GOOD else "warning" if score >= HEALTH_WARNING else "critical"
        ids = {t: set(a.loc[a["alert_type"] == t, "product_id"]) for t in ALERT_TYPES}
        low = ids["reorder_now"] | ids["low_stock"]
        flagged = low | ids["overstock"] | ids["slow_moving"]
        metrics = {
            "total_products": n,
            "low_stock": len(low),
            "overstock": len(ids["overstock"]),
            "slow_moving": len(ids["slow_moving"]),
            "optimal": n - unknown - len(flagged),
            "stock_unknown": unknown,
        }
        codes: list[tuple[str, int]] = []
        if ids["reorder_now"]:
            out_of_stock = int(((self.policy_["current_stock"] <= 0) & (self.policy_["daily_demand"] > 0)).sum())
            if out_of_stock:
                codes.append(("out_of_stock", out_of_stock))
        if low:
            codes.append(("restock_low", len(low)))
        if ids["high_demand"]:
            codes.append(("high_demand", len(ids["high_demand"])))
        if ids["overstock"]:
            codes.append(("promote_overstock", len(ids["overstock"])))
        if ids["slow_moving"]:
            codes.append(("liquidate_slow", len(ids["slow_moving"])))
        if unknown:
            codes.append(("stock_unknown", unknown))
        no_history = int((~self.policy_["has_history"]).sum())
        if no_history:
            codes.append(("no_history", no_history))
        missing_cost = int(self.policy_["unit_cost"].isna().sum())
        if missing_cost:
            codes.append(("missing_cost", missing_cost))
        if not codes:
            codes.append(("all_good", n))
        return HealthReport(round(score, 1), status, metrics, codes)

    def data_issues(self) -> dict[str, list[str]]:
        """Products the policy could only partly compute, by reason (never silently dropped)."""
        self._check_fitted()
        p = self.policy_
        return {
            "no_sales_history": p.loc[~p["has_history"], "product_id"].tolist(),
            "missing_cost": p.loc[p["unit_cost"].isna(), "product_id"].tolist(),
            "default_lead_time": p.loc[p["lead_time_source"] == "default", "product_id"].tolist(),
            "stock_unknown": p.loc[~p["stock_known"], "product_id"].tolist(),
        }

    def summary(self) -> dict[str, Any]:
        """The spec's inventory-analysis summary: totals by alert type and the stock value at risk.

        Stock value at risk = cost value of stock not expected to sell in time: the whole stock of
        slow-moving products plus the part of overstocked products above their order-up-to level.
        """
        self._check_fitted()
        a = self.alerts_
        by_type = {t: int((a["alert_type"] == t).sum()) for t in ALERT_TYPES}
        return {
            "total_alerts": int(len(a)),
            "by_type": by_type,
            "total_stock_value_at_risk": round(float(np.nansum(a["excess_value"].to_numpy(float))), 2),
        }
