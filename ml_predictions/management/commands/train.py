"""`python manage.py train [segmentation|forecast|recommendation|inventory|all]` — synchronous training
with a progress bar, through the same runner (log, single writer, atomic activation) as the API."""
from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from ml_predictions.exceptions import MLError
from ml_predictions.models import MLTrainingLog, ModelType
from ml_predictions.training import train_now, trainer_available

ALIASES = {
    "segmentation": ModelType.CUSTOMER_SEGMENTATION,
    "forecast": ModelType.SALES_FORECAST,
    "recommendation": ModelType.PRODUCT_RECOMMENDATION,
    "inventory": ModelType.INVENTORY,
}
# forecast before inventory: the inventory policy uses the product-level forecast when there is one
ORDER = ["forecast", "recommendation", "segmentation", "inventory"]


class Command(BaseCommand):
    help = "Train one model type, or all of them, now (synchronously, with progress)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("target", choices=[*ALIASES, *ModelType.values, "all"])
        parser.add_argument("--params", default="{}", help='JSON parameters, e.g. \'{"n_clusters": "auto"}\'')
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            params = json.loads(opts["params"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--params is not valid JSON: {exc}") from exc
        if not isinstance(params, dict):
            raise CommandError("--params must be a JSON object")
        targets = ORDER if opts["target"] == "all" else [opts["target"]]
        failures = 0
        for target in targets:
            model_type = ALIASES.get(target, target)
            if opts["target"] == "all" and not trainer_available(model_type):
                self.stdout.write(f"{model_type}: skipped (no trainer installed)")
                continue
            failures += not self._train(model_type, params, opts["no_progress"])
        if failures and opts["target"] != "all":
            raise CommandError("training failed")

    def _train(self, model_type: str, params: dict, quiet: bool) -> bool:
        bar = tqdm(total=100, desc=model_type, disable=quiet, file=self.stderr, bar_format="{l_bar}{bar}| {postfix}")

        def on_progress(percent: int, message: str) -> None:
            bar.n = percent
            bar.set_postfix_str(message)
            bar.refresh()

        try:
            log = train_now(model_type, params, trigger="command", on_progress=on_progress)
        except MLError as exc:
            bar.close()
            self.stderr.write(self.style.ERROR(f"{model_type}: {exc.message}"))
            return False
        bar.close()
        if log.status == MLTrainingLog.Status.SUCCEEDED:
            metrics = ", ".join(f"{k}={v}" for k, v in list(log.metrics.items())[:6] if not isinstance(v, dict | list))
            self.stdout.write(self.style.SUCCESS(
                f"{model_type}: v{log.ml_model.version} trained in {log.duration_seconds:.1f} s ({metrics})"
            ))
            return True
        self.stderr.write(self.style.ERROR(f"{model_type}: failed: {log.error.splitlines()[0] if log.error else ''}"))
        return False
