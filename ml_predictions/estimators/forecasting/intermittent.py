"""Intermittent demand: the Syntetos-Boylan classes and the Croston family, for mostly-zero series.

A product that sells on one day in five is not a small smooth series: a regressor on lags forecasts a
little every day and its band spans nothing useful, while demand-size / demand-interval methods
forecast the right *rate*. Syntetos, Boylan & Croston (2005) split series by the average inter-demand
interval (ADI, cut 1.32) and the squared coefficient of variation of the non-zero sizes (CV², cut
0.49) into smooth, erratic, intermittent and lumpy; the Croston family suits the last two.

Methods (all forecasts are a flat non-negative rate per series):
- Croston: exponentially smoothed size z and interval p, updated on demand days; rate z / p.
- SBA (Syntetos-Boylan approximation): Croston times (1 - alpha / 2), which removes its upward bias.
- TSB (Teunter-Syne-Babai): smooths the demand *probability* every day and the size on demand days;
  rate = probability x size, so a product that stops selling decays towards zero (Croston never does).

Every kernel runs one pass over the days, vectorised over the series, and can report its state at
several cut-off days in that single pass, which is what a rolling-origin backtest needs.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ml_predictions.errors import InvalidParameterError

ADI_CUT = 1.32
CV2_CUT = 0.49
CLASSES = ("smooth", "erratic", "intermittent", "lumpy")
METHODS = ("croston", "sba", "tsb")


def _as_matrix(y: np.ndarray) -> np.ndarray:
    arr = np.asarray(y, dtype=float)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise InvalidParameterError("demand must be a (series x days) matrix")
    return np.clip(np.nan_to_num(arr, nan=0.0), 0.0, None)


def adi_cv2(y: np.ndarray, *, since_first: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Per series: ADI = days / demand days (inf if it never sold) and CV² of the non-zero sizes
    (population variance over squared mean; NaN with no demand, 0 with a single demand day).

    `since_first` counts the days from each series' first demand only: a product launched a month
    ago that sells daily is smooth, not intermittent because of the months before it existed."""
    arr = _as_matrix(y)
    demand = arr > 0
    count = demand.sum(1)
    days = np.full(arr.shape[0], arr.shape[1])
    if since_first:
        days = np.where(count > 0, arr.shape[1] - np.argmax(demand, axis=1), days)
    adi = np.where(count > 0, days / np.maximum(count, 1), np.inf)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, np.nansum(np.where(demand, arr, 0.0), 1) / np.maximum(count, 1), np.nan)
        var = np.nansum(np.where(demand, (arr - mean[:, None]) ** 2, 0.0), 1) / np.maximum(count, 1)
        cv2 = np.where(count > 0, var / mean ** 2, np.nan)
    return adi, cv2


def classify(
    y: np.ndarray, *, adi_cut: float = ADI_CUT, cv2_cut: float = CV2_CUT, since_first: bool = False
) -> np.ndarray:
    """Syntetos-Boylan class per series ("smooth", "erratic", "intermittent", "lumpy"; "none" if no sale)."""
    adi, cv2 = adi_cv2(y, since_first=since_first)
    sparse = adi >= adi_cut
    variable = np.nan_to_num(cv2, nan=0.0) >= cv2_cut
    out = np.where(sparse, np.where(variable, "lumpy", "intermittent"), np.where(variable, "erratic", "smooth"))
    return np.where(np.isfinite(adi), out, "none").astype(object)


def _check(alpha: float, beta: float) -> None:
    for name, value in (("alpha", alpha), ("beta", beta)):
        if not 0 < value <= 1:
            raise InvalidParameterError(f"{name} must be in (0, 1]; got {value!r}.", field=name)


def rates_at(
    y: np.ndarray, cuts: Sequence[int], *, method: str = "sba", alpha: float = 0.1, beta: float = 0.1
) -> np.ndarray:
    """(len(cuts) x series) forecast rate of `method` fitted on days [0, cut) for every cut, in one pass.

    A series with no demand before a cut forecasts 0 there.
    """
    if method not in METHODS:
        raise InvalidParameterError(f"method must be one of {list(METHODS)}; got {method!r}.", field="method")
    _check(alpha, beta)
    arr = _as_matrix(y)
    n, T = arr.shape
    cuts = np.asarray(list(cuts), dtype=int)
    if cuts.size and (cuts.min() < 0 or cuts.max() > T):
        raise InvalidParameterError(f"cuts must lie in 0..{T}", field="cuts")
    wanted = {int(c): i for i, c in enumerate(cuts)}
    out = np.zeros((len(cuts), n))
    size = np.zeros(n)
    interval = np.ones(n)
    prob = np.zeros(n)
    since = np.ones(n)
    started = np.zeros(n, dtype=bool)

    def rate() -> np.ndarray:
        if method == "tsb":
            return np.where(started, prob * size, 0.0)
        r = size / np.maximum(interval, 1.0)
        if method == "sba":
            r = (1 - alpha / 2) * r
        return np.where(started, r, 0.0)

    for t in range(T):
        demand = arr[:, t] > 0
        first = demand & ~started
        again = demand & started
        size[first] = arr[first, t]
        size[again] += alpha * (arr[again, t] - size[again])
        if method == "tsb":
            # the probability starts at the first demand's observed frequency, then is smoothed daily
            prob[first] = 1.0 / since[first]
            prob[started] += beta * (demand[started] - prob[started])
        else:
            interval[first] = since[first]
            interval[again] += alpha * (since[again] - interval[again])
        started |= demand
        since = np.where(demand, 1.0, since + 1.0)
        if t + 1 in wanted:
            out[wanted[t + 1]] = rate()
    return np.maximum(out, 0.0)


def rate(y: np.ndarray, *, method: str = "sba", alpha: float = 0.1, beta: float = 0.1) -> np.ndarray:
    """The forecast rate per series after all days."""
    arr = _as_matrix(y)
    return rates_at(arr, [arr.shape[1]], method=method, alpha=alpha, beta=beta)[0]


def backtest_mae(
    y: np.ndarray, origins: Sequence[int], horizon: int, *, methods: Sequence[str] = METHODS,
    alpha: float = 0.1, beta: float = 0.1,
) -> dict[str, np.ndarray]:
    """Per method, the per-series MAE of a flat `horizon`-day forecast from every origin (pooled)."""
    arr = _as_matrix(y)
    origins = [int(o) for o in origins if 0 < int(o) and int(o) + horizon <= arr.shape[1]]
    if not origins:
        raise InvalidParameterError(f"no origin leaves {horizon} days to score", field="origins")
    actual = np.stack([arr[:, o:o + horizon] for o in origins])  # origins x series x steps
    out = {}
    for method in methods:
        r = rates_at(arr, origins, method=method, alpha=alpha, beta=beta)  # origins x series
        out[method] = np.abs(actual - r[:, :, None]).mean(axis=(0, 2))
    return out


def choose(
    y: np.ndarray, origins: Sequence[int], horizon: int, *, other_mae: np.ndarray | None = None,
    methods: Sequence[str] = METHODS, alpha: float = 0.1, beta: float = 0.1,
) -> tuple[np.ndarray, np.ndarray]:
    """Per series, the method with the lowest backtest MAE and its rate on all days.

    `other_mae` (per series, the incumbent model's MAE on the same origins) competes as "model": where
    it wins, the returned rate is NaN and the caller keeps its own forecast. Ties go to the incumbent.
    """
    scores = backtest_mae(y, origins, horizon, methods=methods, alpha=alpha, beta=beta)
    names = list(scores)
    table = np.vstack([scores[m] for m in names])
    if other_mae is not None:
        names = ["model", *names]
        table = np.vstack([np.asarray(other_mae, dtype=float)[None, :], table])
    best = np.argmin(np.where(np.isfinite(table), table, np.inf), axis=0)
    chosen = np.array(names, dtype=object)[best]
    arr = _as_matrix(y)
    final = np.full(arr.shape[0], np.nan)
    for method in set(chosen) - {"model"}:
        mask = chosen == method
        final[mask] = rate(arr[mask], method=method, alpha=alpha, beta=beta)
    return chosen, final
