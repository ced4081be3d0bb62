"""The figures a shop owner reads after a training, each with what it means.

Three numbers answer "is this forecast any good": MASE (the error over the in-sample error of
repeating the previous week; below 1 is better than that yardstick), the relative MAE against the
seasonal-naive forecast on the *same* held-out days (below 1 beats "repeat last week"), and how often
the interval held the real value. `beats_baseline` must be computed from the figure it names, so a
MASE above 1 next to "beats_baseline": true is explained by the sentence rather than read as a bug.
"""
from __future__ import annotations

import math
from typing import Any


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def relative_mae_of(metrics: dict[str, Any]) -> tuple[float | None, str]:
    """The relative MAE that judges the model and the key it came from (the backtest's when there is one:
    it pools every rolling window, the last window alone is one month of luck)."""
    backtest = metrics.get("backtest") or {}
    pooled = _finite(backtest.get("relative_mae"))
    if pooled is not None:
        return pooled, "backtest.relative_mae"
    single = _finite(metrics.get("relative_mae"))
    if single is None:
        model_mae = _finite(metrics.get("test_mae"))
        naive_mae = _finite((metrics.get("baseline") or {}).get("test_mae"))
        if model_mae is not None and naive_mae:
            single = model_mae / naive_mae
    return single, "relative_mae"


def summary_sentence(metrics: dict[str, Any]) -> str:
    """E.g. "30-day error 12 % below repeating last week (MASE 0.84); the 95 % band held 93 % of days."""
    horizon = int(metrics.get("test_days") or (metrics.get("backtest") or {}).get("horizon_days") or 30)
    relative, key = relative_mae_of(metrics)
    windows = len((metrics.get("backtest") or {}).get("origins") or []) if key.startswith("backtest") else 1
    where = f"over {windows} recent windows" if windows > 1 else f"on the last {horizon} days"
    if relative is None:
        text = f"{horizon}-day error not comparable with repeating last week (no sales in the held-out days)"
    else:
        diff = round(100 * (1 - relative))
        word = "below" if diff >= 0 else "above"
        text = f"{horizon}-day error {abs(diff)} % {word} repeating last week ({where})"
    mase = _finite(metrics.get("mase"))
    if mase is not None:
        text += (f"; MASE {mase:.2f} ({'smaller' if mase < 1 else 'larger'} than the in-sample error of "
                 "repeating the previous week)")
    coverage = _finite(metrics.get("interval_coverage"))
    level = _finite(metrics.get("interval_level"))
    if coverage is not None and level is not None:
        text += f"; the {round(100 * level)} % band held {round(100 * coverage)} % of days"
    return text + "."


def honest_figures(metrics: dict[str, Any]) -> dict[str, Any]:
    """`metrics` with relative_mae, beats_baseline from the relative MAE it names, and the summary."""
    relative, key = relative_mae_of(metrics)
    out = dict(metrics)
    if _finite(out.get("relative_mae")) is None and key == "relative_mae" and relative is not None:
        out["relative_mae"] = round(relative, 4)
    out["beats_baseline"] = bool(relative is not None and relative < 1.0)
    out["beats_baseline_by"] = key
    out["summary"] = summary_sentence(out)
    return out
