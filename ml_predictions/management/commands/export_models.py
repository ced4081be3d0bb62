"""`python manage.py export_models [--types ...] FILE` — back up trained models into one archive."""
from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from ml_predictions.errors import MLError
from ml_predictions.management.base import BatchCommand
from ml_predictions.management.commands.train import ALIASES
from ml_predictions.training.backup import export_models


class Command(BatchCommand):
    help = "Write the registry rows and artifacts (with hashes and library versions) of trained models into a zip."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", help="Archive to write (a .zip).")
        parser.add_argument("--types", nargs="+", choices=list(ALIASES), metavar="TYPE",
                            help=f"Only these types ({', '.join(ALIASES)}); default: all.")

    def handle(self, *args: Any, **opts: Any) -> None:
        types = [ALIASES[t] for t in opts["types"]] if opts["types"] else None
        try:
            manifest = export_models(opts["file"], model_types=types)
        except MLError as exc:
            raise CommandError(str(exc)) from exc
        for entry in manifest["models"]:
            flag = " (active)" if entry["is_active"] else ""
            self.stdout.write(f"  {entry['model_type']} v{entry['version']}{flag}  {entry['artifact_size']} bytes")
        self.stdout.write(self.style.SUCCESS(f"exported {len(manifest['models'])} model version(s) to {opts['file']}"))
