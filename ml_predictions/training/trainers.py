"""Which function trains which model type: capabilities register here, the runner looks up here.

The runner never imports a capability: it resolves a dotted path when a training starts, so the
capabilities can import the training types without an import cycle. A host adds or replaces a
trainer with the setting `ML_PREDICTIONS["TRAINERS"] = {"model_type": "dotted.path.train"}`.
"""
from __future__ import annotations

from ml_predictions.conf import ml_settings

_REGISTERED: dict[str, str] = {}


def register_trainer(model_type: str, dotted_path: str) -> None:
    """Called by each capability package at import time (see ml_predictions.capabilities)."""
    _REGISTERED[str(model_type)] = dotted_path


def trainer_table() -> dict[str, str]:
    """The registered trainers, overridden and extended by the host's TRAINERS setting.

    The built-in capabilities register when the app is ready (MLPredictionsConfig.ready imports
    ml_predictions.capabilities), so this module never imports a capability.
    """
    return {**_REGISTERED, **(getattr(ml_settings, "TRAINERS", None) or {})}
