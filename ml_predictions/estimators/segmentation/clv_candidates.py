"""The lifetime-value candidates that selection compares: each predicts revenue in the next `horizon` days.

Pure numpy/scipy/pandas/scikit-learn. Every candidate takes a PurchaseHistory and a cut day, learns only
from days before the cut, and returns one predicted revenue per customer first seen before the cut
(indexed by customer code), so the selector scores all of them with the same code on the same holdout.

Why these: BG/NBD x Gamma-Gamma is the textbook model; MBG/NBD (Batislam et al. 2007) lets
one-time buyers drop out too, which fits shops where most customers buy once; Pareto/NBD lets them
drop out at any moment, not only after a purchase (pareto_nbd.py); the naive "purchase rate
x mean spend" is the arithmetic a real retailer's history preferred over the textbook model; and a
gradient-boosted regressor learns the shop's own mapping from recent behaviour (RFM, tenure, gaps, spend
trend, breadth of products) to next-period revenue, trained on an earlier window of the same history.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import gammaln, hyp2f1
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from ml_predictions.errors import InsufficientDataError, NotFittedError
from ml_predictions.estimators.segmentation.clv_data import (
    PurchaseHistory,
    days_between,
    distinct_products,
    revenue_between,
    summary_at,
)
from ml_predictions.estimators.segmentation.lifetime_value import BetaGeoModel, GammaGammaModel
from ml_predictions.estimators.segmentation.pareto_nbd import ParetoNBDModel, SampledCountModel

CANDIDATES: tuple[str, ...] = ("bgnbd_gamma_gamma", "mbgnbd_gamma_gamma", "pnbd_gamma_gamma", "naive_rate_x_spend",
                               "gradient_boosting", "pnbd_gbm_mean", "rank_ensemble")
# purchase models by the prefix of their candidate name
PROBABILISTIC: tuple[str, ...] = ("bgnbd_gamma_gamma", "mbgnbd_gamma_gamma", "pnbd_gamma_gamma")
# The combination candidate: the mean of these two predictions (the M4/M5 lesson: averages of
# different models beat each one). Pareto/NBD rather than BG/NBD: on the inner 90-day holdouts of four
# CDNOW windows (calibration data only) Pareto/NBD ranked better alone in 4 of 4, and so did this mean.
COMBINED: tuple[str, str] = ("pnbd_gamma_gamma", "gradient_boosting")
# The rank ensemble: the mean of these three candidates' RANKS (Pareto/NBD for BG/NBD, as above: better
# on 4 of 4 inner CDNOW holdouts). Each model errs differently (the purchase model on
# heavy spenders, the naive rate on lapsed buyers, the booster on short histories); averaging ranks
# rather than amounts keeps one model's scale from dominating. On four 6-month CDNOW windows it ranked
# next-half-year revenue best on average (benchmarks/results/segmentation.md).
RANKED: tuple[str, ...] = ("pnbd_gamma_gamma", "naive_rate_x_spend", "gradient_boosting")
# naive rate: a customer seen for fewer days than this is treated as seen for this long (one purchase
# yesterday is not a rate of one purchase a day)
MIN_RATE_DAYS = 30.0


def _mbg_ll(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    r, alpha, a, b = params
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x + 1) - gammaln(b) - gammaln(a + b + x + 1)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return a1 + a2 + a3 + np.logaddexp(a4, 0.0)


class ModifiedBetaGeoModel(SampledCountModel):
    """MBG/NBD: like BG/NBD, but a customer may also drop out right after the first purchase."""

    model_name = "MBG/NBD"

    def fit(self, x: Any, t_x: Any, T: Any) -> ModifiedBetaGeoModel:
        # numerical gradient: fitted on a seeded sample, as Pareto/NBD is (see weighted_sample)
        xu, tu, Tu, w = self._sample(x, t_x, T)

        def objective(logp: np.ndarray) -> float:
            with np.errstate(all="ignore"):
                ll = _mbg_ll(np.exp(np.clip(logp, -30, 30)), xu, tu, Tu)
                value = -(w * ll).sum() / w.sum() + self.penalizer * float((logp**2).sum())
            return float(value) if np.isfinite(value) else 1e12

        scale = max(float(np.mean(Tu)), 1.0)
        res = minimize(objective, np.log([1.0, scale / 10.0, 1.0, 1.0]), method="L-BFGS-B",
                       options={"maxiter": self.max_iter})
        p = np.exp(res.x)
        self.params_ = {"r": float(p[0]), "alpha": float(p[1]), "a": float(p[2]), "b": float(p[3])}
        self.converged_ = bool(res.success) and bool(np.isfinite(res.fun)) and abs(p[2] - 1) > 1e-6
        self.message_ = str(res.message)
        return self

    def _p(self) -> tuple[float, float, float, float]:
        if not hasattr(self, "params_"):
            raise NotFittedError("ModifiedBetaGeoModel is not fitted yet.")
        return self.params_["r"], self.params_["alpha"], self.params_["a"], self.params_["b"]

    def probability_alive(self, x: Any, t_x: Any, T: Any) -> np.ndarray:
        r, alpha, a, b = self._p()
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        with np.errstate(over="ignore"):
            log_odds = np.log(a / (b + x)) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        return 1.0 / (1.0 + np.exp(np.minimum(log_odds, 700)))

    def expected_purchases(self, t: float, x: Any, t_x: Any, T: Any) -> np.ndarray:
        r, alpha, a, b = self._p()
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        if t <= 0:
            return np.zeros_like(x)
        hyp = hyp2f1(r + x, b + x + 1, a + b + x, t / (alpha + T + t))
        with np.errstate(over="ignore", invalid="ignore"):
            first = (a + b + x) / (a - 1) * (1 - hyp * ((alpha + T) / (alpha + T + t)) ** (r + x))
        out = first * self.probability_alive(x, t_x, T)
        return np.clip(np.nan_to_num(out, nan=0.0, posinf=0.0), 0.0, None)


def fit_probabilistic(history: PurchaseHistory, cut: int, *, kind: str, penalizer: float = 1e-6,
                      min_repeat_customers: int = 2) -> tuple[Any, GammaGammaModel, pd.DataFrame]:
    """(purchase model, Gamma-Gamma, summary) fitted on days before `cut`; raises when a fit fails.

    Fits (and failures) are memoised on the history, which is immutable once built.
    """
    key = (kind, cut, min_repeat_customers, penalizer)
    if key not in history.fits:
        try:
            history.fits[key] = _fit_probabilistic(history, cut, kind=kind, penalizer=penalizer,
                                                   min_repeat_customers=min_repeat_customers)
        except InsufficientDataError as exc:
            history.fits[key] = exc
    found = history.fits[key]
    if isinstance(found, InsufficientDataError):
        raise found
    return found


def _fit_probabilistic(history: PurchaseHistory, cut: int, *, kind: str, penalizer: float,
                       min_repeat_customers: int) -> tuple[Any, GammaGammaModel, pd.DataFrame]:
    s = summary_at(history, cut)
    repeaters = int((s["x"] > 0).sum())
    if repeaters < max(min_repeat_customers, 2):
        raise InsufficientDataError(
            f"only {repeaters} repeat customers (at least {max(min_repeat_customers, 2)} needed).")
    model = {"bgnbd": BetaGeoModel, "mbgnbd": ModifiedBetaGeoModel, "pnbd": ParetoNBDModel}[kind](penalizer=penalizer)
    model.fit(s["x"], s["t_x"], s["T"])
    gg = _gamma_gamma(history, cut, s, penalizer)
    if not (model.converged_ and gg.converged_):
        raise InsufficientDataError(f"{kind} or Gamma-Gamma did not converge ({model.message_}; {gg.message_}).")
    return model, gg, s


def _gamma_gamma(history: PurchaseHistory, cut: int, s: pd.DataFrame, penalizer: float) -> GammaGammaModel:
    """Gamma-Gamma on the summary at `cut`, fitted once per cut. Why: it depends on the spend alone, yet
    BG/NBD, MBG/NBD and Pareto/NBD each asked for it at the same cut (3 identical fits of 1/4 s each on
    100k customers in a selection, a 4th when the chosen model is refitted beside BG/NBD)."""
    key = ("gamma_gamma", cut, penalizer)
    if key not in history.fits:
        history.fits[key] = GammaGammaModel(penalizer=penalizer).fit(s["x"], s["monetary_value"])
    return history.fits[key]


def predict_probabilistic(model: Any, gg: GammaGammaModel, s: pd.DataFrame, horizon: float) -> pd.Series:
    value = gg.expected_average_value(s["x"], s["monetary_value"])
    purchases = model.expected_purchases(horizon, s["x"], s["t_x"], s["T"])
    return pd.Series(purchases * value, index=s.index)


def naive_rate(s: pd.DataFrame) -> np.ndarray:
    """Purchase days per day observed (seen at least MIN_RATE_DAYS)."""
    return s["n_days"].to_numpy() / np.maximum(s["T"].to_numpy(), MIN_RATE_DAYS)


def predict_naive(history: PurchaseHistory, cut: int, horizon: float) -> pd.Series:
    s = summary_at(history, cut)
    return pd.Series(naive_rate(s) * horizon * s["mean_value"].to_numpy(), index=s.index)


FEATURES: tuple[str, ...] = (
    "n_days", "recency", "T", "t_x", "total", "mean_value", "rate", "mean_gap", "revenue_recent",
    "revenue_previous", "days_recent", "spend_trend", "distinct_products", "naive",
    "revenue_30", "days_30", "revenue_90", "days_90", "revenue_180", "days_180",
)
# fixed look-back windows (days) beside the learned one: recent activity at several scales
LOOKBACKS: tuple[int, ...] = (30, 90, 180)
# the booster stops adding trees when a 10 % validation split stops improving, above this many rows
EARLY_STOPPING_ROWS = 10_000


def customer_features(history: PurchaseHistory, cut: int, window: int) -> pd.DataFrame:
    """Per customer first seen before `cut`: RFM, tenure, gaps, spend trend (last vs previous `window` days)."""
    s = summary_at(history, cut)
    idx = s.index
    recent = revenue_between(history, cut - window, cut, idx)
    previous = revenue_between(history, cut - 2 * window, cut - window, idx)
    rate = naive_rate(s)
    lookbacks = {}
    for days in LOOKBACKS:
        lookbacks[f"revenue_{days}"] = revenue_between(history, cut - days, cut, idx)
        lookbacks[f"days_{days}"] = days_between(history, cut - days, cut, idx)
    return pd.DataFrame({
        "n_days": s["n_days"], "recency": s["recency"], "T": s["T"], "t_x": s["t_x"],
        "total": s["total"], "mean_value": s["mean_value"], "rate": rate,
        "mean_gap": np.where(s["x"] > 0, s["t_x"] / np.maximum(s["x"], 1), s["T"]),
        "revenue_recent": recent, "revenue_previous": previous,
        "days_recent": days_between(history, cut - window, cut, idx),
        "spend_trend": np.log1p(np.clip(recent, 0, None)) - np.log1p(np.clip(previous, 0, None)),
        "distinct_products": distinct_products(history, cut, idx),
        "naive": rate * window * s["mean_value"].to_numpy(), **lookbacks,
    }, index=idx)


class RevenueBooster(BaseEstimator):
    """Gradient-boosted regressor of next-`horizon`-days revenue from customer_features, trained on past cuts.

    Training rows come from up to `n_cuts` earlier cut days (cut - w, cut - 2w, ...), each labelled with
    the revenue of the w days that followed it, so the model learns the shop's own "what happens next".
    w is the horizon, shortened to half the history when the history is short (CDNOW's 39 calibration
    weeks cannot hold two 39-week windows); predictions are then scaled by horizon / w.
    Squared loss on log1p(revenue): the CLV is used to RANK customers, and on log revenue a few heavy
    spenders stop dominating the fit (on 6-month CDNOW windows it ranked next-period revenue better
    than the Poisson deviance, 0.387 vs 0.380 and 0.435 vs 0.424 Spearman). The log shrinks totals, so
    predictions are rescaled by one factor that makes the training rows' predicted total equal their
    actual total (a monotone rescaling: the ranking is untouched).
    """

    def __init__(self, horizon: int, *, n_cuts: int = 3, min_history_days: int = 30, min_rows: int = 50,
                 max_rows: int = 40_000, random_state: int | None = 42) -> None:
        self.horizon = horizon
        self.n_cuts = n_cuts
        self.max_rows = max_rows
        self.min_history_days = min_history_days
        self.min_rows = min_rows
        self.random_state = random_state

    def fit(self, history: PurchaseHistory, cut: int) -> RevenueBooster:
        frames, targets = [], []
        w = int(max(1, min(self.horizon, (cut - history.start) // 2)))
        self.window_ = w
        for j in range(1, self.n_cuts + 1):
            train_cut = cut - j * w
            if train_cut - history.start < min(self.min_history_days, w):
                break
            feats = customer_features(history, train_cut, w)
            frames.append(feats)
            targets.append(np.clip(revenue_between(history, train_cut, train_cut + w, feats.index), 0, None))
        rows = sum(len(f) for f in frames)
        if rows < self.min_rows:
            raise InsufficientDataError(
                f"the boosted regressor needs {self.min_rows} customers with {self.min_history_days}+ days of "
                f"history before an earlier {w}-day window; found {rows}.")
        x = pd.concat(frames)[list(FEATURES)].to_numpy(dtype=float)
        y = np.concatenate(targets)
        if len(y) > self.max_rows:  # a seeded sample: 40k rows learn the mapping as well as 300k, 6x faster
            keep = np.random.default_rng(self.random_state).choice(len(y), size=self.max_rows, replace=False)
            x, y = x[keep], y[keep]
        if not (y > 0).any():
            raise InsufficientDataError("no customer bought again in the training windows.")
        # one OpenMP thread: on a shared 2-core host spin-waiting threads make this 5-20x slower.
        # Early stopping above 10k rows (scikit-learn's "auto" rule: a 10 % validation split is then big
        # enough to trust): on the 100k-customer generator shop it stopped at 85 of 200 trees with the same
        # holdout Spearman (0.5617 vs 0.5601), halving the fit and every prediction after it.
        with threadpool_limits(limits=1, user_api="openmp"):
            self.model_ = HistGradientBoostingRegressor(
                loss="squared_error", learning_rate=0.05, max_iter=200, max_leaf_nodes=15, min_samples_leaf=40,
                l2_regularization=1.0, early_stopping=len(y) > EARLY_STOPPING_ROWS, validation_fraction=0.1,
                n_iter_no_change=10, random_state=self.random_state).fit(x, np.log1p(y))
            fitted = np.expm1(np.clip(self.model_.predict(x), 0.0, None))
        self.scale_ = float(y.sum() / fitted.sum()) if fitted.sum() > 0 else 1.0
        self.n_training_rows_ = int(len(y))
        self.n_trees_ = int(self.model_.n_iter_)
        return self

    def predict(self, history: PurchaseHistory, cut: int) -> pd.Series:
        if not hasattr(self, "model_"):
            raise NotFittedError("RevenueBooster is not fitted yet.")
        feats = customer_features(history, cut, self.window_)
        if feats.empty:
            return pd.Series(dtype=float)
        with threadpool_limits(limits=1, user_api="openmp"):
            log_pred = self.model_.predict(feats[list(FEATURES)].to_numpy(dtype=float))
        pred = np.expm1(np.clip(log_pred, 0.0, None)) * self.scale_ * (self.horizon / self.window_)
        return pd.Series(pred, index=feats.index)


def combine(predictions: list[pd.Series]) -> pd.Series:
    """Mean of several candidates' predicted revenue (a customer missing from one counts 0 there)."""
    frame = pd.concat(predictions, axis=1).fillna(0.0)
    return frame.mean(axis=1)


def combine_ranks(predictions: list[pd.Series]) -> pd.Series:
    """Mean rank of several candidates, expressed in revenue: the k-th ranked customer gets the k-th
    largest of the candidates' per-customer MEDIAN predictions, so the ranking is the rank average's and
    the amounts are a typical candidate's (the median: the naive rate overstates totals 2-3x on CDNOW)."""
    frame = pd.concat(predictions, axis=1).fillna(0.0)
    mean_rank = frame.rank(pct=True).mean(axis=1).to_numpy()
    amounts = np.sort(frame.median(axis=1).to_numpy())
    order = np.argsort(mean_rank, kind="stable")
    out = np.empty(len(frame))
    out[order] = amounts
    return pd.Series(out, index=frame.index)


def predict_candidate(name: str, history: PurchaseHistory, cut: int, horizon: int, *,
                      random_state: int | None = 42, min_repeat_customers: int = 2
                      ) -> tuple[pd.Series, dict[str, Any]]:
    """Predicted revenue in [cut, cut + horizon) per customer first seen before `cut`, and fit details.

    Raises InsufficientDataError when the candidate cannot be fitted on this history.
    """
    if name == "naive_rate_x_spend":
        return predict_naive(history, cut, horizon), {}
    if name == "pnbd_gbm_mean":
        parts = [predict_candidate(part, history, cut, horizon, random_state=random_state,
                                   min_repeat_customers=min_repeat_customers)[0] for part in COMBINED]
        return combine(parts), {"of": list(COMBINED)}
    if name == "rank_ensemble":
        parts, used, skipped = [], [], {}
        for part in RANKED:
            try:
                parts.append(predict_candidate(part, history, cut, horizon, random_state=random_state,
                                               min_repeat_customers=min_repeat_customers)[0])
                used.append(part)
            except InsufficientDataError as exc:
                skipped[part] = str(exc)
        if len(parts) < 2:
            raise InsufficientDataError(f"the rank ensemble needs two of {list(RANKED)}; skipped: {skipped}.")
        return combine_ranks(parts), {"of": used, **({"skipped": skipped} if skipped else {})}
    if name == "gradient_boosting":
        booster = RevenueBooster(horizon, random_state=random_state).fit(history, cut)
        return booster.predict(history, cut), {"n_training_rows": booster.n_training_rows_,
                                               "window_days": booster.window_, "n_trees": booster.n_trees_}
    if name in PROBABILISTIC:
        model, gg, s = fit_probabilistic(history, cut, kind=name.split("_")[0],
                                         min_repeat_customers=min_repeat_customers)
        return predict_probabilistic(model, gg, s, horizon), {**model.params_, **gg.params_}
    raise ValueError(f"unknown CLV candidate {name!r}")  # a programming error, not a user input
