"""Inventory optimisation (pure math): the optimiser and the names callers need, one import away."""
from ml_predictions.estimators.inventory.alerts import ALERT_TYPES
from ml_predictions.estimators.inventory.classes import CLASSES, DEFAULT_CLASS_SERVICE_LEVELS
from ml_predictions.estimators.inventory.health import (
    ALERT_PENALTY,
    HEALTH_GOOD,
    HEALTH_WARNING,
    HealthReport,
)
from ml_predictions.estimators.inventory.optimizer import (
    PRODUCT_COLUMNS_NEEDED,
    SUPPLIER_COLUMNS,
    InventoryOptimizer,
)
from ml_predictions.estimators.inventory.params import ORDER_POLICIES
from ml_predictions.estimators.inventory.policy import SERVICE_TYPES, z_value

__all__ = [
    "ALERT_PENALTY", "ALERT_TYPES", "CLASSES", "DEFAULT_CLASS_SERVICE_LEVELS", "HEALTH_GOOD", "HEALTH_WARNING",
    "ORDER_POLICIES", "PRODUCT_COLUMNS_NEEDED", "SERVICE_TYPES", "SUPPLIER_COLUMNS", "HealthReport",
    "InventoryOptimizer", "z_value",
]
