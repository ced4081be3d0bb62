"""The base of the plugin's (and the demo host's) batch commands: system checks without the URL and template ones.

A command's system checks used to cost more than its own start: the URL checks import the URLconf,
hence every view module and the libraries behind it (scikit-learn, pandas, scipy, matplotlib), and
the template checks import every installed template-tag library. A command that trains, imports or
generates data serves no URL and renders no template; the server's own start (`runserver`, `check`,
`check --deploy` in CI) still runs every check, so nothing goes unchecked, only unrepeated.
"""
from __future__ import annotations

from django.core.checks import Tags
from django.core.checks.registry import registry
from django.core.management.base import BaseCommand

SKIPPED_CHECK_TAGS = frozenset({Tags.urls, Tags.templates})


def command_check_tags() -> list[str]:
    """Every registered tag (third-party ones included) but the skipped ones."""
    return sorted(registry.tags_available() - SKIPPED_CHECK_TAGS)


class BatchCommand(BaseCommand):
    @property
    def requires_system_checks(self) -> list[str]:  # type: ignore[override]
        return command_check_tags()
