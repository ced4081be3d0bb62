"""Champion/challenger: a scheduled retrain replaces the active version only if it is not worse.

A weekly retrain on a week of odd data (a holiday, an import gone wrong) can produce a worse model
than the one serving. The retrain paths (`retrain_models`, `POST /api/ml/retrain/`) therefore train a
*challenger*, compare its holdout score with the active *champion*'s and activate it only when it is
not worse by more than ML_PREDICTIONS['CHAMPION_TOLERANCE'] (relative); otherwise the challenger is
registered inactive (it can still be activated by hand) and the verdict, with both scores, goes to
the log, the training log's result and the challenger's metrics. `force` activates anyway.

Same holdout: a trainer may hand back `TrainingOutcome.score_artifact`, a function that scores any
artifact of its type on *this* training's holdout with the rule's metric; the champion is then scored
on the challenger's holdout and the comparison is like for like (`same_holdout: true`). Without it the
champion's stored score is used (its own holdout, `same_holdout: false`), which the verdict says.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from ml_predictions.conf import ml_settings
from ml_predictions.models import MLModel, ModelType

logger = logging.getLogger(__name__)

ALWAYS, CHAMPION, FORCE = "always", "champion", "force"
ACTIVATION_POLICIES = (ALWAYS, CHAMPION, FORCE)


@dataclass(frozen=True)
class ScoreRule:
    """Which holdout metric judges a model type (a key of its metrics) and which way is better."""

    metric: str
    higher_is_better: bool
    # A metrics key naming the scope the score belongs to ("category/revenue"); both scores are then read
    # from metrics["levels"][level][target], so a one-level training is judged within its level.
    scoped_by: str | None = None


# One table for every model type. None: always accept (inventory's policy has no holdout score: it is
# a rule over current stock, re-derived from the latest data every time).
SCORE_RULES: dict[str, ScoreRule | None] = {
    ModelType.SALES_FORECAST: ScoreRule("mase", higher_is_better=False, scoped_by="primary"),
    ModelType.PRODUCT_RECOMMENDATION: ScoreRule("recall_at_10", higher_is_better=True),
    ModelType.CUSTOMER_SEGMENTATION: ScoreRule("silhouette_score", higher_is_better=True),
    ModelType.INVENTORY: None,
}


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    reason: str
    metric: str | None = None
    higher_is_better: bool | None = None
    challenger_score: float | None = None
    champion_score: float | None = None
    champion_id: str | None = None
    champion_version: int | None = None
    tolerance: float | None = None
    same_holdout: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _score(metrics: dict[str, Any] | None, metric: str) -> float | None:
    value = (metrics or {}).get(metric)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _scoped(metrics: dict[str, Any] | None, scope: str, metric: str) -> tuple[bool, float | None]:
    """(whether `metrics` has the scope at all, the score there)."""
    level, _sep, target = scope.partition("/")
    node = ((metrics or {}).get("levels") or {}).get(level)
    if not isinstance(node, dict):
        return False, None
    node = node.get(target) if target else node
    return isinstance(node, dict), _score(node if isinstance(node, dict) else None, metric)


def is_worse(challenger: float, champion: float, *, higher_is_better: bool, tolerance: float) -> bool:
    """Worse by more than `tolerance` relative to the champion's score (absolute when it is 0)."""
    margin = tolerance * abs(champion) if champion else tolerance
    return challenger < champion - margin if higher_is_better else challenger > champion + margin


def judge(
    *,
    model_type: str,
    challenger_metrics: dict[str, Any],
    champion: MLModel | None,
    score_artifact: Callable[[Any], float | None] | None = None,
    load_champion: Callable[[MLModel], Any] | None = None,
    force: bool = False,
) -> Verdict:
    """Should the challenger (a trained, not yet registered model) replace the active `champion`?"""
    rule = SCORE_RULES.get(model_type)
    if force:
        return Verdict(True, "forced")
    if champion is None:
        return Verdict(True, "no active version to beat")
    if rule is None:
        return Verdict(True, f"{model_type} has no holdout score: always accepted")
    tolerance = float(ml_settings.CHAMPION_TOLERANCE)
    base = {"metric": rule.metric, "higher_is_better": rule.higher_is_better, "champion_id": str(champion.pk),
            "champion_version": champion.version, "tolerance": tolerance}
    scope = challenger_metrics.get(rule.scoped_by) if rule.scoped_by else None
    challenger_score = _score(challenger_metrics, rule.metric)
    champion_score, same = None, False
    if isinstance(scope, str) and scope:
        scoped_challenger = _scoped(challenger_metrics, scope, rule.metric)[1]
        challenger_score = challenger_score if scoped_challenger is None else scoped_challenger
        served, champion_score = _scoped(champion.metrics, scope, rule.metric)
        if not served and not (champion.metrics or {}).get("levels"):  # a champion without per-level figures
            served, champion_score = True, _score(champion.metrics, rule.metric)
        if not served:
            return Verdict(True, f"the active v{champion.version} does not serve {scope}: nothing to beat",
                           challenger_score=challenger_score, **base)
        base["metric"] = f"{rule.metric} ({scope})"
    elif score_artifact is not None and load_champion is not None:
        champion_score = score_artifact(load_champion(champion))  # an error here is a bug: it fails the training
        champion_score = None if champion_score is None or not math.isfinite(champion_score) else float(champion_score)
        same = champion_score is not None
    if champion_score is None and not scope:
        champion_score = _score(champion.metrics, rule.metric)
    if challenger_score is None or champion_score is None:
        which = "challenger" if challenger_score is None else "champion"
        return Verdict(True, f"the {which} has no {rule.metric}: accepted without comparison",
                       challenger_score=challenger_score, champion_score=champion_score, same_holdout=same, **base)
    worse = is_worse(challenger_score, champion_score, higher_is_better=rule.higher_is_better, tolerance=tolerance)
    reason = (f"{rule.metric} {challenger_score:.4g} vs the active v{champion.version}'s {champion_score:.4g}"
              f" ({'higher' if rule.higher_is_better else 'lower'} is better, tolerance {tolerance:.0%})")
    return Verdict(not worse, ("rejected: " if worse else "accepted: ") + reason,
                   challenger_score=challenger_score, champion_score=champion_score, same_holdout=same, **base)
