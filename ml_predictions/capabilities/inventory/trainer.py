"""The "inventory" model type's trainer: compute the policy, sync the alerts, store the fitted optimiser.

Why a training at all, when the GET endpoints compute on demand: the stored version is the audit trail
(which parameters produced which policy on which day) and lets a host schedule the work with the
other retrains; its alerts are synced like any other analysis.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils.translation import gettext as _

from ml_predictions.capabilities.inventory.selectors import run_inventory_analysis
from ml_predictions.capabilities.inventory.services import inventory_alerts_sync_uncached
from ml_predictions.errors import InvalidParameterError
from ml_predictions.models import MLModel
from ml_predictions.training.types import ProgressCallback, TrainingOutcome

# Parameters a training run (or the management command) may override; everything else is a setting.
TRAIN_PARAMS = ("service_level", "class_service_levels", "service_type", "order_policy", "lead_time_cv",
                "review_period_days", "as_of")


def train(params: dict[str, Any], progress: ProgressCallback) -> TrainingOutcome:
    """The "inventory" model type: compute the policy, persist alerts, store the policy as artifact."""
    unknown = sorted(set(params) - set(TRAIN_PARAMS))
    if unknown:
        raise InvalidParameterError(
            f"Unknown inventory parameter(s) {unknown}; allowed: {list(TRAIN_PARAMS)}.", field=unknown[0])
    progress(10, "Reading products and recent sales")
    overrides = {k: v for k, v in params.items() if k != "as_of"}
    analysis = run_inventory_analysis(as_of=params.get("as_of"), overrides=overrides)
    progress(70, "Policy computed")
    opt = analysis.optimizer
    health = opt.health()
    summary = opt.summary()
    issues = opt.data_issues()
    metrics = {
        "total_products": int(len(opt.policy_)),
        "total_alerts": summary["total_alerts"],
        "by_type": summary["by_type"],
        "health_score": health.health_score,
        "status": health.status,
        "reorder_recommendations": int((opt.policy_["recommended_order_quantity"] > 0).sum()),
        "demand_source": analysis.demand_source,
        "forecast_products": analysis.forecast_products,
        "seasonal_index": round(opt.seasonal_index_, 3),
        "products_without_history": len(issues["no_sales_history"]),
        "products_without_cost": len(issues["missing_cost"]),
        "products_default_lead_time": len(issues["default_lead_time"]),
        "inactive_excluded": analysis.inactive_excluded,
        "analysis_seconds": analysis.duration_seconds,
    }
    sync_result: dict[str, Any] = {}

    def persist(model: MLModel) -> None:
        # after the version is registered: a training that fails earlier leaves the alerts alone
        sync_result.update(inventory_alerts_sync_uncached(analysis=analysis).as_dict())

    artifact = {"optimizer": opt, "as_of": analysis.as_of, "demand_source": analysis.demand_source}
    progress(80, "Persisting alerts")
    # alerts_sync is filled by `persist`, which the runner calls before it builds the response
    response = dict(as_of=str(analysis.as_of), as_of_source=analysis.as_of_source,
                    demand_source=analysis.demand_source, alerts_sync=sync_result,
                    health_score=health.health_score, status=health.status)
    return TrainingOutcome(
        artifact=artifact,
        algorithm=f"service_level_{opt.order_policy}",
        metrics=metrics,
        parameters={**opt.get_params(), "as_of": str(analysis.as_of)},
        n_samples=int(len(opt.policy_)),
        data_start=analysis.as_of - timedelta(days=opt.history_days_),
        data_end=analysis.as_of - timedelta(days=1),
        message=_("Inventory policy computed and alerts updated"),
        response=response,
        on_registered=persist,
    )
