"""The Django side of each capability: trainer, services (writes) and selectors (reads); no HTTP.

Each capability registers its trainer by dotted path, so importing this package imports no
capability module (and no pandas or scikit-learn) until a training actually runs.
"""
from ml_predictions.models import ModelType
from ml_predictions.training.trainers import register_trainer

register_trainer(ModelType.SALES_FORECAST, "ml_predictions.capabilities.forecasting.trainer.train")
register_trainer(ModelType.PRODUCT_RECOMMENDATION, "ml_predictions.capabilities.recommendations.trainer.train")
register_trainer(ModelType.CUSTOMER_SEGMENTATION, "ml_predictions.capabilities.segmentation.trainer.train")
register_trainer(ModelType.INVENTORY, "ml_predictions.capabilities.inventory.trainer.train")
