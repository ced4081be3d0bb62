"""Probabilistic customer lifetime value: BG/NBD (Fader, Hardie & Lee 2005) and Gamma-Gamma.

Pure numpy/scipy/pandas. Time is measured in whatever unit the summary uses (we use days; the CDNOW
reference summary uses weeks); the fitted parameters are in that unit.

Why it is built this way:
- Maximum likelihood over log-parameters with L-BFGS-B, on rows *merged by identical (x, t_x, T)*
  with weights: real summaries repeat the same few profiles (every one-time buyer of a cohort), so the
  objective costs O(distinct rows), not O(customers).
- A small L2 penalizer on the log-parameters keeps the optimizer out of the flat far regions where
  BG/NBD is known to wander (a -> infinity); at 1e-6 it moves CDNOW's estimates by < 0.1 % (1e-4 already moves b by 2.7 %).
- Convergence is checked and reported (`converged_`, `message_`), never assumed. When the data is too
  thin (few repeat buyers) or the fit fails, `fit_clv` falls back to a documented simple estimate
  and says so in `method`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, digamma, gammaln, hyp2f1

DAYS_PER_MONTH = 30.4375


class CLVError(ValueError):
    """Bad input to the lifetime-value service."""


class NotFittedCLVError(CLVError):
    pass


def summary_from_transactions(
    transactions: pd.DataFrame, *, calc_date: Any, customer_col: str = "customer_id", date_col: str = "ordered_at",
    amount_col: str = "amount",
) -> pd.DataFrame:
    """Per customer x (repeat purchase days), t_x and T in days, and mean value of the repeat days.

    Several purchases on one day count as one transaction (the BG/NBD convention; CDNOW has many).
    Transactions on or after `calc_date` are ignored. Indexed by customer id.
    """
    calc = pd.Timestamp(calc_date)
    calc = calc.tz_localize("UTC") if calc.tzinfo is None else calc.tz_convert("UTC")
    when = pd.to_datetime(transactions[date_col], utc=True)
    keep = (when < calc).to_numpy()
    ns = when[keep].dt.tz_localize(None).to_numpy().astype("datetime64[ns]").astype("int64")
    day = ns // (86_400 * 10**9)
    # integer customer codes + day numbers: one sort and a few reductions, no group-by on strings
    codes, ids = pd.factorize(transactions.loc[keep, customer_col])
    value = transactions.loc[keep, amount_col].to_numpy(dtype=float)
    daily = pd.DataFrame({"c": codes, "d": day, "v": value}).groupby(["c", "d"], sort=True)["v"].sum()
    c = daily.index.get_level_values(0).to_numpy()
    d = daily.index.get_level_values(1).to_numpy()
    v = daily.to_numpy()
    starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])  # first day row of each customer (sorted by c, d)
    ends = np.r_[starts[1:], len(c)] - 1
    n_days = ends - starts + 1
    total = np.add.reduceat(v, starts) if len(v) else np.array([])
    calc_day = calc.tz_localize(None).to_datetime64().astype("datetime64[ns]").astype("int64") // (86_400 * 10**9)
    repeat = n_days - 1
    out = pd.DataFrame({
        "x": repeat.astype(float),
        "t_x": (d[ends] - d[starts]).astype(float),
        "T": (calc_day - d[starts]).astype(float),
        "monetary_value": np.where(repeat > 0, (total - v[starts]) / np.maximum(repeat, 1), 0.0),
    }, index=pd.Index(np.asarray(ids, dtype=object)[c[starts]]).astype(str))
    out = out.sort_index()
    out.index.name = "customer_id"
    return out


def _bgnbd_ll(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    r, alpha, a, b = params
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
    pos = x > 0
    a3 = np.full_like(x, -np.inf)
    xp = x[pos]
    a3[pos] = betaln(a + 1, b + xp - 1) - betaln(a, b) - (r + xp) * np.log(alpha + t_x[pos])
    return a1 + np.logaddexp(a2, a3)


def _bgnbd_ll_grad(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Per-row log-likelihood and its gradient w.r.t. (r, alpha, a, b): 4-5x fewer evaluations than
    finite differences, which is what makes 100k-customer fits take a fraction of a second."""
    r, alpha, a, b = params
    ll = _bgnbd_ll(params, x, t_x, T)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
    w2 = np.exp(a1 + a2 - ll)  # softmax weights of the two likelihood terms
    w3 = 1.0 - w2
    pos = x > 0
    xm1 = np.where(pos, x - 1, 0.0)
    d_ab = digamma(a + b)
    d_abx = digamma(a + b + x)
    d_r = digamma(r + x) - digamma(r) + np.log(alpha) - w2 * np.log(alpha + T) - w3 * np.log(alpha + t_x)
    d_alpha = r / alpha - (r + x) * (w2 / (alpha + T) + w3 / (alpha + t_x))
    d_a = w2 * (d_ab - d_abx) + w3 * (digamma(a + 1) - d_abx - digamma(a) + d_ab)
    d_b = w2 * (digamma(b + x) - d_abx - digamma(b) + d_ab) + w3 * (digamma(b + xm1) - d_abx - digamma(b) + d_ab)
    d_b = np.where(pos, d_b, digamma(b + x) - d_abx - digamma(b) + d_ab)
    d_a = np.where(pos, d_a, d_ab - d_abx)
    return ll, np.vstack([d_r, d_alpha, d_a, d_b])


@dataclass
class BetaGeoModel:
    """BG/NBD purchase-and-dropout model fitted by maximum likelihood."""

    penalizer: float = 1e-6
    max_iter: int = 2000
    params_: dict[str, float] = field(default_factory=dict)
    converged_: bool = False
    message_: str = ""
    log_likelihood_: float = float("nan")
    n_customers_: int = 0

    def fit(self, x: Any, t_x: Any, T: Any) -> BetaGeoModel:
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        if len(x) == 0:
            raise CLVError("no customers to fit BG/NBD on.")
        if (x < 0).any() or (t_x < 0).any() or (T <= 0).any() or (t_x > T + 1e-9).any():
            raise CLVError("BG/NBD needs x >= 0, 0 <= t_x <= T and T > 0.")
        rows = pd.DataFrame({"x": x, "t_x": t_x, "T": T}).value_counts().reset_index(name="w")
        xu, tu, Tu, w = (rows[c].to_numpy(dtype=float) for c in ("x", "t_x", "T", "w"))
        total_w = w.sum()

        def objective(logp: np.ndarray) -> float:
            with np.errstate(all="ignore"):  # the optimizer may probe absurd values; answer "bad", not NaN
                ll = _bgnbd_ll(np.exp(np.clip(logp, -30, 30)), xu, tu, Tu)
                value = -(w * ll).sum() / total_w + self.penalizer * float((logp**2).sum())
            return float(value) if np.isfinite(value) else 1e12

        def objective_and_grad(logp: np.ndarray) -> tuple[float, np.ndarray]:
            params = np.exp(np.clip(logp, -30, 30))
            with np.errstate(all="ignore"):
                ll, grad = _bgnbd_ll_grad(params, xu, tu, Tu)
                value = -(w * ll).sum() / total_w + self.penalizer * float((logp**2).sum())
                g = -(grad * w).sum(axis=1) / total_w * params + 2 * self.penalizer * logp
            if not (np.isfinite(value) and np.isfinite(g).all()):
                return 1e12, np.zeros_like(logp)
            return float(value), g

        scale = max(float(np.mean(Tu)), 1.0)
        start = np.log([1.0, scale / 10.0, 1.0, 1.0])
        res = minimize(objective_and_grad, start, jac=True, method="L-BFGS-B", options={"maxiter": self.max_iter})
        if not res.success:  # one retry from another start before giving up
            res2 = minimize(objective, np.log([0.5, scale, 0.5, 2.0]), method="Nelder-Mead",
                            options={"maxiter": self.max_iter * 4, "xatol": 1e-8, "fatol": 1e-10})
            if res2.fun <= res.fun:
                res = res2
        p = np.exp(res.x)
        self.params_ = {"r": float(p[0]), "alpha": float(p[1]), "a": float(p[2]), "b": float(p[3])}
        self.converged_ = bool(res.success) and bool(np.isfinite(res.fun))
        self.message_ = str(res.message)
        self.log_likelihood_ = float((w * _bgnbd_ll(p, xu, tu, Tu)).sum())
        self.n_customers_ = int(total_w)
        return self

    def _p(self) -> tuple[float, float, float, float]:
        if not self.params_:
            raise NotFittedCLVError("BetaGeoModel is not fitted yet.")
        return self.params_["r"], self.params_["alpha"], self.params_["a"], self.params_["b"]

    def probability_alive(self, x: Any, t_x: Any, T: Any) -> np.ndarray:
        r, alpha, a, b = self._p()
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            log_ratio = (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
            odds = np.where(x > 0, a / np.maximum(b + x - 1, 1e-12) * np.exp(np.minimum(log_ratio, 700)), 0.0)
        return 1.0 / (1.0 + odds)

    def expected_purchases(self, t: float, x: Any, t_x: Any, T: Any) -> np.ndarray:
        """E[purchases in (T, T+t]] given the customer's history (FHL 2005 eq. 10)."""
        r, alpha, a, b = self._p()
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        if t <= 0:
            return np.zeros_like(x)
        z = t / (alpha + T + t)
        hyp = hyp2f1(r + x, b + x, a + b + x - 1, z)
        with np.errstate(over="ignore", invalid="ignore"):
            first = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
        out = first * self.probability_alive(x, t_x, T)
        return np.clip(np.nan_to_num(out, nan=0.0, posinf=0.0), 0.0, None)


@dataclass
class GammaGammaModel:
    """Gamma-Gamma spend model (Fader & Hardie) on customers with repeat purchases."""

    penalizer: float = 1e-6
    params_: dict[str, float] = field(default_factory=dict)
    converged_: bool = False
    message_: str = ""
    n_customers_: int = 0

    def fit(self, x: Any, monetary_value: Any) -> GammaGammaModel:
        x = np.asarray(x, dtype=float)
        m = np.asarray(monetary_value, dtype=float)
        keep = (x > 0) & (m > 0)
        if keep.sum() < 2:
            raise CLVError("Gamma-Gamma needs at least two customers with repeat purchases of positive value.")
        rows = pd.DataFrame({"x": x[keep], "m": m[keep]}).value_counts().reset_index(name="w")
        xu, mu, w = (rows[c].to_numpy(dtype=float) for c in ("x", "m", "w"))
        total_w = w.sum()

        log_mu, log_x = np.log(mu), np.log(xu)

        def objective(logp: np.ndarray) -> tuple[float, np.ndarray]:
            p, q, g = np.exp(np.clip(logp, -30, 30))
            with np.errstate(all="ignore"):
                px = p * xu
                log_gxm = np.log(g + xu * mu)
                ll = (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(g) + (px - 1) * log_mu
                      + px * log_x - (px + q) * log_gxm)
                value = -(w * ll).sum() / total_w + self.penalizer * float((logp**2).sum())
                d_pq = digamma(px + q)
                grad = np.array([
                    (w * xu * (d_pq - digamma(px) + log_mu + log_x - log_gxm)).sum() * p,
                    (w * (d_pq - digamma(q) + np.log(g) - log_gxm)).sum() * q,
                    (w * (q / g - (px + q) / (g + xu * mu))).sum() * g,
                ])
                g_total = -grad / total_w + 2 * self.penalizer * logp
            if not (np.isfinite(value) and np.isfinite(g_total).all()):
                return 1e12, np.zeros_like(logp)
            return float(value), g_total

        res = minimize(objective, np.log([1.0, 1.0, max(float(np.mean(mu)), 1.0)]), jac=True, method="L-BFGS-B",
                       options={"maxiter": 2000})
        p, q, g = np.exp(res.x)
        self.params_ = {"p": float(p), "q": float(q), "gamma": float(g)}
        self.converged_ = bool(res.success) and bool(q > 1)
        self.message_ = str(res.message) if q > 1 else "q <= 1: the mean spend is undefined"
        self.n_customers_ = int(total_w)
        return self

    def expected_average_value(self, x: Any, monetary_value: Any) -> np.ndarray:
        """E[spend per transaction | x, mean spend]; population mean for customers without repeats."""
        if not self.params_:
            raise NotFittedCLVError("GammaGammaModel is not fitted yet.")
        p, q, g = self.params_["p"], self.params_["q"], self.params_["gamma"]
        x = np.asarray(x, dtype=float)
        m = np.asarray(monetary_value, dtype=float)
        pop = p * g / (q - 1) if q > 1 else float(np.mean(m[x > 0])) if (x > 0).any() else 0.0
        weight = p * x / (p * x + q - 1)
        return np.where(x > 0, (1 - weight) * pop + weight * m, pop)


@dataclass
class CLVResult:
    """Per-customer predictions plus how they were made."""

    predictions: pd.DataFrame  # p_alive, expected_purchases, expected_avg_value, clv (index customer_id)
    method: str  # "bgnbd_gamma_gamma" or "simple_fallback"
    details: dict[str, Any]


def _clv_from_models(bg: BetaGeoModel, gg_value: np.ndarray, summary: pd.DataFrame, horizon_months: int,
                     monthly_discount: float) -> np.ndarray:
    """Discounted sum over months of expected purchases in that month x expected value per purchase."""
    x, t_x, T = summary["x"].to_numpy(), summary["t_x"].to_numpy(), summary["T"].to_numpy()
    clv = np.zeros(len(summary))
    previous = np.zeros(len(summary))
    for month in range(1, horizon_months + 1):  # loop over months (a handful), never over customers
        cumulative = bg.expected_purchases(month * DAYS_PER_MONTH, x, t_x, T)
        clv += (cumulative - previous) * gg_value / (1 + monthly_discount) ** month
        previous = cumulative
    return clv


def fit_clv(
    summary: pd.DataFrame,
    *,
    horizon_days: int = 30,
    horizon_months: int = 12,
    monthly_discount: float = 0.01,
    min_repeat_customers: int = 30,
    penalizer: float = 1e-6,
) -> CLVResult:
    """Fit BG/NBD + Gamma-Gamma on a `summary_from_transactions` frame and predict per customer.

    Fallback (method "simple_fallback") when fewer than `min_repeat_customers` customers bought again,
    or either fit does not converge: rate = (x + 1) / max(T, 1) purchases per day;
    p_alive = exp(-rate * (T - t_x)) (the chance a Poisson buyer at that rate has shown no purchase
    for that long); expected purchases = p_alive * rate * horizon; value per purchase = the customer's
    mean order value; CLV = the same monthly discounted sum.
    """
    if summary.empty:
        raise CLVError("no customers with purchases to predict lifetime value for.")
    x, t_x, T = summary["x"].to_numpy(), summary["t_x"].to_numpy(), summary["T"].to_numpy()
    repeaters = int((x > 0).sum())
    details: dict[str, Any] = {"n_customers": int(len(summary)), "n_repeat_customers": repeaters,
                               "horizon_days": horizon_days, "horizon_months": horizon_months,
                               "monthly_discount_rate": monthly_discount, "time_unit": "days"}
    reason = None
    if repeaters >= min_repeat_customers:
        try:
            bg = BetaGeoModel(penalizer=penalizer).fit(x, t_x, np.maximum(T, 1e-6))
            gg = GammaGammaModel(penalizer=penalizer).fit(x, summary["monetary_value"].to_numpy())
            details.update({"bgnbd": {**bg.params_, "converged": bg.converged_, "message": bg.message_,
                                      "log_likelihood": bg.log_likelihood_},
                            "gamma_gamma": {**gg.params_, "converged": gg.converged_, "message": gg.message_}})
            if bg.converged_ and gg.converged_:
                T_safe = np.maximum(T, 1e-6)
                value = gg.expected_average_value(x, summary["monetary_value"].to_numpy())
                pred = pd.DataFrame({
                    "p_alive": bg.probability_alive(x, t_x, T_safe),
                    "expected_purchases": bg.expected_purchases(horizon_days, x, t_x, T_safe),
                    "expected_avg_value": value,
                }, index=summary.index)
                pred["clv"] = _clv_from_models(bg, value, summary.assign(T=T_safe), horizon_months, monthly_discount)
                return CLVResult(pred, "bgnbd_gamma_gamma", details)
            reason = "the maximum-likelihood fit did not converge"
        except CLVError as exc:
            reason = str(exc)
    else:
        reason = f"only {repeaters} repeat customers (at least {min_repeat_customers} needed)"
    details["fallback_reason"] = reason
    rate = (x + 1) / np.maximum(T, 1.0)
    p_alive = np.exp(-rate * (T - t_x))
    value = summary["avg_order_value"].to_numpy() if "avg_order_value" in summary else summary[
        "monetary_value"].to_numpy()
    pred = pd.DataFrame({"p_alive": p_alive, "expected_purchases": p_alive * rate * horizon_days,
                         "expected_avg_value": value}, index=summary.index)
    months = np.arange(1, horizon_months + 1)
    per_month = (p_alive * rate * DAYS_PER_MONTH)[:, None] * value[:, None] / (1 + monthly_discount) ** months
    pred["clv"] = per_month.sum(axis=1)
    return CLVResult(pred, "simple_fallback", details)
