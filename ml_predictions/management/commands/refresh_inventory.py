"""`python manage.py refresh_inventory [--as-of YYYY-MM-DD]` — today's inventory analysis with the stored
alerts synced to it, for a daily cron entry or systemd timer (Django's Tasks API has no schedules).

It runs what GET /api/ml/inventory-analysis/ runs (the same cache, the same sync), so the alert list an
admin opens in the morning is the analysis of that morning, not of the last weekly training.
"""
from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandError

from ml_predictions.capabilities.inventory.services import inventory_analysis_refresh
from ml_predictions.errors import MLError
from ml_predictions.management.base import BatchCommand


class Command(BatchCommand):
    help = "Run the inventory analysis and sync the stored alerts with it (for a daily schedule)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--as-of", default=None, help="Analysis date (default: today, or the day after "
                            "the last order when the history ends earlier).")
        parser.add_argument("--json", action="store_true", help="Print the result as one JSON object.")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            analysis, sync = inventory_analysis_refresh(as_of=opts["as_of"])
        except MLError as exc:
            raise CommandError(exc.message) from exc
        summary = analysis.optimizer.summary()
        result = {"as_of": str(analysis.as_of), "as_of_source": analysis.as_of_source,
                  "demand_source": analysis.demand_source, "total_alerts": summary["total_alerts"],
                  "by_type": summary["by_type"], "alerts_sync": sync.as_dict()}
        if opts["json"]:
            self.stdout.write(json.dumps(result))
            return
        s = result["alerts_sync"]
        note = f" (sync skipped: {s['skipped']})" if s["skipped"] else ""
        self.stdout.write(
            f"Inventory as of {result['as_of']} ({result['as_of_source']}, demand from {result['demand_source']}): "
            f"{result['total_alerts']} alerts; created {s['created']}, updated {s['updated']}, "
            f"unchanged {s['unchanged']}, auto-resolved {s['auto_resolved']}, snoozed {s['snoozed']}{note}.")
