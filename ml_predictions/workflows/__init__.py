"""Django-side glue of each capability: read the data source, call the pure service, store results.

Services (ml_predictions.services) hold the math and never touch Django; workflows hold the I/O and
never hold math. Each workflow module exposes `train(params, progress) -> TrainingOutcome`.
"""
