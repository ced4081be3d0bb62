"""`python manage.py retrain_models` — the weekly schedule (the spec: retrain every week).

Trains every model type this installation has, in dependency order (forecast before inventory), with
each trainer's default parameters, through the same runner as the API (log, single writer, atomic
activation, pruning to KEEP_VERSIONS). Meant for cron or a systemd timer: quiet unless something
happens, and the exit status is non-zero when any training failed, so the scheduler can alert.
Types whose trainer is not installed are skipped with a message; they do not count as failures.
"""
from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from ml_predictions.errors import MLError
from ml_predictions.management.base import BatchCommand
from ml_predictions.management.commands.train import ALIASES, ORDER
from ml_predictions.models import MLTrainingLog
from ml_predictions.training.champion import CHAMPION, FORCE
from ml_predictions.training.registry import prune_versions
from ml_predictions.training.runner import fail_stale_trainings, train_now, trainer_available


class Command(BatchCommand):
    help = "Retrain every available model type (weekly schedule); non-zero exit if any training failed."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--only", nargs="+", choices=list(ALIASES), metavar="TYPE",
            help=f"Retrain only these types ({', '.join(ALIASES)}); default: all.",
        )
        parser.add_argument(
            "--keep", type=int, default=None,
            help="Versions to keep per type after training (default: ML_PREDICTIONS['KEEP_VERSIONS']).",
        )
        parser.add_argument(
            "--force", action="store_true",
            help="Activate every new version, even one that scores worse than the active one on the holdout.",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["keep"] is not None and opts["keep"] < 1:
            raise CommandError("--keep must be at least 1")
        stale = fail_stale_trainings()
        if stale:
            self.stderr.write(self.style.WARNING(f"marked {stale} stale training(s) as failed (worker lost)"))
        wanted = opts["only"] or ORDER
        failed: list[str] = []
        from ml_predictions.data.snapshot import shared_reads  # pandas: not at `--help` time

        with shared_reads():  # one read of each table for the whole run, shared by the trainers
            trained = self._retrain_all(wanted, opts, failed)
        if failed:
            raise CommandError(f"{len(failed)} training(s) failed: {', '.join(failed)}")
        self.stdout.write(f"retrained {trained} model type(s)")

    def _retrain_all(self, wanted: list[str], opts: dict[str, Any], failed: list[str]) -> int:
        trained = 0
        for alias in [a for a in ORDER if a in wanted]:
            model_type = ALIASES[alias]
            if not trainer_available(model_type):
                self.stdout.write(f"{model_type}: skipped (no trainer installed)")
                continue
            try:
                log = train_now(model_type, {}, trigger="schedule", activation=FORCE if opts["force"] else CHAMPION)
            except MLError as exc:  # e.g. another training of this type is running
                self.stderr.write(self.style.ERROR(f"{model_type}: not started: {exc.message}"))
                failed.append(model_type)
                continue
            if log.status != MLTrainingLog.Status.SUCCEEDED:
                first_line = log.error.splitlines()[0] if log.error else ""
                self.stderr.write(self.style.ERROR(f"{model_type}: failed: {first_line}"))
                failed.append(model_type)
                continue
            trained += 1
            pruned = prune_versions(model_type, opts["keep"])
            verdict = (log.result or {}).get("challenger") or {}
            if verdict and not verdict.get("accepted"):
                self.stdout.write(self.style.WARNING(
                    f"{model_type}: v{log.ml_model.version} trained but not activated ({verdict['reason']})"))
                continue
            self.stdout.write(self.style.SUCCESS(
                f"{model_type}: v{log.ml_model.version} trained in {log.duration_seconds:.1f} s"
                + (f", {pruned} old version(s) pruned" if pruned else "")
            ))
        return trained
