"""Coherent forecasts: products add up to their category and categories to the total.

Each level is forecast by its own model, so the sums disagree. Reconciliation maps the base forecasts
of every node (total, categories, products) onto forecasts that add up, through the summing matrix S
(nodes x products):

- bottom-up: the products' forecasts, summed upwards; the upper levels' models are ignored.
- MinT with shrinkage (Wickramasuriya, Athanasopoulos & Hyndman 2019): y~ = S (S' W⁻¹ S)⁻¹ S' W⁻¹ ŷ,
  W the covariance of the base forecasts' errors, shrunk towards its diagonal (Schäfer-Strimmer
  intensity) because a few hundred days cannot estimate thousands of covariances.

Negative results are what users of reconciliation libraries complain about most: after MinT, negative
products are set to 0 and the other products of their category scaled so the category keeps its
reconciled value; the upper levels are then summed from the products, so the answer stays coherent
and never negative.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse

from ml_predictions.errors import InvalidParameterError

METHODS = ("bottom_up", "mint_shrink")


def summing_matrix(product_groups: Sequence[str]) -> tuple[sparse.csr_matrix, list[str]]:
    """S with rows [total, each group (sorted), each product] and one column per product; the groups."""
    groups = np.asarray([str(g) for g in product_groups], dtype=object)
    names = sorted(set(groups.tolist()))
    n = len(groups)
    index = {g: i for i, g in enumerate(names)}
    rows = np.concatenate([np.zeros(n, dtype=int), 1 + np.array([index[g] for g in groups], dtype=int),
                           1 + len(names) + np.arange(n)])
    cols = np.tile(np.arange(n), 3)
    S = sparse.csr_matrix((np.ones(3 * n), (rows, cols)), shape=(1 + len(names) + n, n))
    return S, names


def _shrink_factors(residuals: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(sd, z, intensity) with the shrunk covariance W = D (λ I + (1 - λ) z z' / T) D, D = diag(sd).

    The intensity is Schäfer & Strimmer's on the correlation scale, clipped to [0, 1], computed from
    (T x T) products only: W itself (nodes x nodes) is never needed."""
    e = np.nan_to_num(np.asarray(residuals, dtype=float))
    m, T = e.shape
    centred = e - e.mean(1, keepdims=True)
    sd = np.sqrt((centred ** 2).mean(1))
    sd = np.where(sd > 0, sd, 1e-9)
    if T < 3 or m < 2:
        return sd, np.zeros((m, max(T, 1))), 1.0
    z = centred / sd[:, None]
    z2 = z ** 2
    diag_corr = z2.mean(1)                              # 1 for every varying node
    gram = z.T @ z                                       # T x T
    sum_corr2 = float((gram ** 2).sum()) / T ** 2        # sum over i, j of corr_ij²
    off_corr2 = sum_corr2 - float((diag_corr ** 2).sum())
    # sum over i != j of sum_t (z_it z_jt - corr_ij)², i.e. T times the variance of the products
    col = z2.sum(0)
    off_prod2 = float(col @ col) - float((z2 ** 2).sum())
    var_sum = max(off_prod2 - T * off_corr2, 0.0) * T / (T - 1) ** 3
    lam = float(np.clip(var_sum / off_corr2, 0.0, 1.0)) if off_corr2 > 0 else 1.0
    return sd, z, lam


def shrunk_covariance(residuals: np.ndarray) -> tuple[np.ndarray, float]:
    """(nodes x nodes) error covariance shrunk towards its diagonal, and the intensity used (for
    inspection and tests; reconciliation works from the factors)."""
    sd, z, lam = _shrink_factors(residuals)
    T = z.shape[1]
    corr = (1 - lam) * (z @ z.T) / T
    np.fill_diagonal(corr, 1.0)
    return corr * sd[:, None] * sd[None, :], lam


def mint_adjust(
    base: np.ndarray, S: sparse.spmatrix, residuals: np.ndarray, *, keep: Sequence[int] = (),
) -> tuple[np.ndarray, float]:
    """MinT-shrink reconciled forecasts (nodes x steps, may be negative) and the shrinkage intensity.

    The projection form ỹ = ŷ - W U (U' W U)⁻¹ U' ŷ, with U' = [I, -S_agg] the aggregation constraints,
    needs one solve of the size of the aggregate nodes (the total and the categories), however many
    products there are; W stays in its factored form. Nodes in `keep` are given zero error variance,
    so they are not moved ("immutable" forecasts: the others are reconciled around them).
    Raises numpy.linalg.LinAlgError when U' W U is singular."""
    S = sparse.csr_matrix(S)
    m, n = S.shape
    a = m - n
    base = np.asarray(base, dtype=float)
    sd, z, lam = _shrink_factors(residuals)
    T = z.shape[1]
    agg = S[:a]
    U = np.vstack([np.eye(a), -agg.T.toarray()])           # m x a
    free = np.ones(m)
    free[list(keep)] = 0.0
    DU = (sd * free)[:, None] * U
    WU = lam * sd[:, None] * DU
    if lam < 1:
        WU += (1 - lam) / T * sd[:, None] * (z @ (z.T @ DU))
    WU *= free[:, None]
    M = U.T @ WU
    if not np.isfinite(M).all():
        raise np.linalg.LinAlgError("the reconciliation system is not finite")
    gap = base[:a] - np.asarray(agg @ base[a:])            # U' ŷ: how far the base is from adding up
    return base - WU @ np.linalg.solve(M, gap), lam


def mint_projection(S: sparse.spmatrix, residuals: np.ndarray) -> tuple[np.ndarray, float]:
    """G = (S' W⁻¹ S)⁻¹ S' W⁻¹ (products x nodes), and the intensity: the classic form, dense in the
    number of nodes (kept for comparison; reconcile() uses mint_adjust)."""
    S = sparse.csr_matrix(S)
    m = S.shape[0]
    W, lam = shrunk_covariance(residuals)
    W[np.diag_indices(m)] += 1e-9 * max(float(np.trace(W)) / m, 1.0)
    Sd = S.toarray()
    WinvS = np.linalg.solve(W, Sd)
    G = np.linalg.solve(Sd.T @ WinvS, WinvS.T)
    return G, lam


def reconcile(
    base: np.ndarray, S: sparse.spmatrix, *, method: str = "mint_shrink", residuals: np.ndarray | None = None,
    keep: Sequence[int] = (),
) -> tuple[np.ndarray, dict]:
    """Coherent, non-negative (nodes x steps) forecasts from `base` (same rows as S), and a report.

    `keep`: nodes MinT must not move (their base is trusted more than any sum)."""
    if method not in METHODS:
        raise InvalidParameterError(f"method must be one of {list(METHODS)}; got {method!r}.", field="method")
    base = np.nan_to_num(np.asarray(base, dtype=float))
    S = sparse.csr_matrix(S)
    m, n = S.shape
    if base.ndim != 2 or base.shape[0] != m:
        raise InvalidParameterError(f"base must have {m} rows (one per node); got {base.shape}.", field="base")
    report: dict = {"method": method}
    if method == "bottom_up":
        bottom = base[m - n:]
    else:
        if residuals is None or np.asarray(residuals).shape[0] != m:
            raise InvalidParameterError("mint_shrink needs residuals with one row per node.", field="residuals")
        adjusted, lam = mint_adjust(base, S, residuals, keep=keep)
        report["shrinkage"] = round(lam, 4)
        bottom = adjusted[m - n:]
    negative = bottom < 0
    report["negatives_clipped"] = int(negative.sum())
    if negative.any() and method != "bottom_up":
        bottom = _clip_within_groups(bottom, S, np.asarray(S @ bottom))
    bottom = np.where(bottom < 0, 0.0, bottom)
    return np.asarray(S @ bottom), report


def _clip_within_groups(bottom: np.ndarray, S: sparse.csr_matrix, coherent: np.ndarray) -> np.ndarray:
    """Negative products set to 0, and the rest of their group scaled so the group keeps its
    (clipped at 0) reconciled value: summing the clipped products instead would hand every clipped
    unit back to the category and the total, undoing what MinT did there. A group left with no
    positive product keeps the plain sum. The groups are the rows of S between the total and the
    products (summing_matrix's layout)."""
    m, n = S.shape
    clipped = np.maximum(bottom, 0.0)
    members = S[1:m - n]
    if members.shape[0] == 0:
        return clipped
    target = np.maximum(coherent[1:m - n], 0.0)             # groups x steps
    have = np.asarray(members @ clipped)                     # groups x steps
    factor = np.where(have > 0, target / np.where(have > 0, have, 1.0), 1.0)
    group_of = np.asarray(members.argmax(axis=0)).ravel()    # each product's group
    return clipped * factor[group_of]
