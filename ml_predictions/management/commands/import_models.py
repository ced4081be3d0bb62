"""`python manage.py import_models FILE` — restore a backup made by export_models, on any database."""
from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from ml_predictions.errors import MLError
from ml_predictions.management.base import BatchCommand
from ml_predictions.training.backup import import_models


class Command(BatchCommand):
    help = ("Restore models from an export_models archive; refuses hash or library-version mismatches. "
            "The versions active in the backup become active here unless --no-activate.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", help="Archive written by export_models.")
        parser.add_argument("--no-activate", action="store_true", help="Import as inactive versions only.")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            summary = import_models(opts["file"], activate=not opts["no_activate"])
        except (MLError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(
            f"imported {summary['imported']} model version(s), skipped {summary['skipped']} already present"
        ))
        for label in summary["activated"]:
            self.stdout.write(f"  active: {label}")
