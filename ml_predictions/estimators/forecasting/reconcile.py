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


def shrunk_covariance(residuals: np.ndarray) -> tuple[np.ndarray, float]:
    """(nodes x nodes) error covariance shrunk towards its diagonal, and the intensity used.

    residuals: (nodes x days) errors; the intensity is Schäfer & Strimmer's estimate on the
    correlation scale, clipped to [0, 1].
    """
    e = np.nan_to_num(np.asarray(residuals, dtype=float))
    m, T = e.shape
    if T < 3:
        return np.diag(np.maximum(e.var(1), 1e-9)), 1.0
    centred = e - e.mean(1, keepdims=True)
    sd = np.sqrt((centred ** 2).mean(1))
    sd = np.where(sd > 0, sd, 1e-9)
    z = centred / sd[:, None]
    corr = z @ z.T / T
    # sum_t (z_it z_jt - corr_ij)² without the (m x m x T) tensor
    z2 = z ** 2
    var_corr = np.maximum(z2 @ z2.T - T * corr ** 2, 0.0) * T / (T - 1) ** 3
    off = ~np.eye(m, dtype=bool)
    denom = float((corr[off] ** 2).sum())
    lam = float(np.clip(var_corr[off].sum() / denom, 0.0, 1.0)) if denom > 0 else 1.0
    shrunk = corr * (1 - lam)
    np.fill_diagonal(shrunk, 1.0)
    return shrunk * sd[:, None] * sd[None, :], lam


def mint_projection(S: sparse.spmatrix, residuals: np.ndarray) -> tuple[np.ndarray, float]:
    """G = (S' W⁻¹ S)⁻¹ S' W⁻¹ (products x nodes) with W the shrunk error covariance, and the intensity.

    Raises numpy.linalg.LinAlgError when W or S' W⁻¹ S is singular."""
    S = sparse.csr_matrix(S)
    m = S.shape[0]
    W, lam = shrunk_covariance(residuals)
    W[np.diag_indices(m)] += 1e-9 * max(float(np.trace(W)) / m, 1.0)
    Sd = S.toarray()
    WinvS = np.linalg.solve(W, Sd)                  # W⁻¹ S
    G = np.linalg.solve(Sd.T @ WinvS, WinvS.T)      # (S' W⁻¹ S)⁻¹ S' W⁻¹
    if not np.isfinite(G).all():
        raise np.linalg.LinAlgError("the MinT projection is not finite")
    return G, lam


def reconcile(
    base: np.ndarray, S: sparse.spmatrix, *, method: str = "mint_shrink", residuals: np.ndarray | None = None,
    projection: np.ndarray | None = None,
) -> tuple[np.ndarray, dict]:
    """Coherent, non-negative (nodes x steps) forecasts from `base` (same rows as S), and a report.

    `projection` (a G from mint_projection) skips recomputing it when the caller already has it."""
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
        if projection is None:
            if residuals is None or np.asarray(residuals).shape[0] != m:
                raise InvalidParameterError("mint_shrink needs residuals with one row per node.", field="residuals")
            projection, lam = mint_projection(S, residuals)
            report["shrinkage"] = round(lam, 4)
        bottom = projection @ base
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
