"""`python manage.py train [segmentation|forecast|recommendation|inventory|all]` — synchronous training
with a progress bar, through the same runner (log, single writer, atomic activation) as the API.

`--params` is checked before anything trains: for one type, every key must be one its trainer reads;
for `all`, a key naming a type (`{"forecast": {...}}`) holds that type's parameters and any other key
goes to the types that read it, so one object can configure the whole run without a type choking on
another's parameters, and a key no type reads is refused by name instead of being dropped."""
from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandError
from tqdm import tqdm

from ml_predictions.errors import MLError
from ml_predictions.management.base import BatchCommand
from ml_predictions.models import MLTrainingLog, ModelType
from ml_predictions.training.runner import (
    check_train_params,
    route_train_params,
    train_now,
    trainer_available,
)

ALIASES = {
    "segmentation": ModelType.CUSTOMER_SEGMENTATION,
    "forecast": ModelType.SALES_FORECAST,
    "recommendation": ModelType.PRODUCT_RECOMMENDATION,
    "inventory": ModelType.INVENTORY,
}
# The figures printed first for a type (the rest of its metrics are in the log and the API), so the
# line a user reads holds the ones that say whether the model is any good.
HEADLINE_METRICS = {
    ModelType.SALES_FORECAST: ("mase", "relative_mae", "interval_coverage", "beats_baseline", "beats_baseline_by"),
}
# forecast before inventory: the inventory policy uses the product-level forecast when there is one
ORDER = ["forecast", "recommendation", "segmentation", "inventory"]


class Command(BatchCommand):
    help = "Train one model type, or all of them, now (synchronously, with progress)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("target", choices=[*ALIASES, *ModelType.values, "all"])
        parser.add_argument(
            "--params", default="{}",
            help='JSON parameters, e.g. \'{"n_clusters": "auto"}\'; with "all", per-type sections '
                 '(\'{"segmentation": {"n_clusters": 6}, "forecast": {"model_type": "linear"}}\') and/or '
                 'flat keys, each sent to the types that read it.',
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            params = json.loads(opts["params"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--params is not valid JSON: {exc}") from exc
        if not isinstance(params, dict):
            raise CommandError("--params must be a JSON object")
        if opts["target"] == "all":
            available = [ALIASES[t] for t in ORDER if trainer_available(ALIASES[t])]
            try:
                per_type = route_train_params(params, available, sections=ALIASES)
            except MLError as exc:
                raise CommandError(f"--params: {exc.message}") from exc
            from ml_predictions.data.snapshot import shared_reads  # pandas: not at `--help` time

            with shared_reads():  # one read of each table for the whole run, shared by the trainers
                for target in ORDER:
                    model_type = ALIASES[target]
                    if model_type not in per_type:
                        self.stdout.write(f"{model_type}: skipped (no trainer installed)")
                        continue
                    self._train(model_type, per_type[model_type], opts["no_progress"])  # failures are reported
            return
        model_type = ALIASES.get(opts["target"], opts["target"])
        try:
            check_train_params(model_type, params)
        except MLError as exc:
            raise CommandError(f"--params: {exc.message}") from exc
        if not self._train(model_type, params, opts["no_progress"]):
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
            self.stdout.write(self.style.SUCCESS(
                f"{model_type}: v{log.ml_model.version} trained in {log.duration_seconds:.1f} s "
                f"({_headline(model_type, log.metrics)})"
            ))
            summary = log.metrics.get("summary")
            if isinstance(summary, str) and summary:
                self.stdout.write(f"  {summary}")
            verdict = (log.result or {}).get("challenger") or {}
            if verdict and not verdict.get("accepted", True):
                self.stdout.write(f"  {log.result.get('message', '')}")
            return True
        self.stderr.write(self.style.ERROR(f"{model_type}: failed: {log.error.splitlines()[0] if log.error else ''}"))
        return False


def _headline(model_type: str, metrics: dict[str, Any]) -> str:
    keys = HEADLINE_METRICS.get(model_type)
    if keys is None:
        keys = [k for k, v in metrics.items() if not isinstance(v, dict | list)][:6]
    return ", ".join(f"{k}={metrics[k]}" for k in keys if k in metrics)
