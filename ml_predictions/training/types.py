"""What a trainer and the runner exchange; its own module so capabilities never import the runner."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from ml_predictions.models import MLModel


class ProgressCallback(Protocol):
    def __call__(self, percent: int, message: str = "") -> None: ...


@dataclass
class TrainingOutcome:
    """What a trainer hands back to the runner."""

    artifact: Any
    algorithm: str
    metrics: dict[str, Any]
    parameters: dict[str, Any] = field(default_factory=dict)
    n_samples: int = 0
    data_start: date | None = None
    data_end: date | None = None
    message: str = "Model trained successfully"
    # Extra top-level keys of the train endpoint's response (the spec's shapes differ per capability).
    response: dict[str, Any] = field(default_factory=dict)
    # Runs inside the activation transaction with the new MLModel (e.g. bulk-write per-customer rows).
    on_registered: Callable[[MLModel], None] | None = None
    # Optional: scores any artifact of this type on THIS training's holdout with the type's champion
    # metric (training/champion.py SCORE_RULES), so a retrain compares the active version like for like.
    score_artifact: Callable[[Any], float | None] | None = None
