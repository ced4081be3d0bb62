"""Translatable text of the inventory capability: health advice and one sentence per alert.

Why here: the optimiser returns codes and counts (no Django, no gettext); the host translates these
strings through Django's catalogues, in the request's language for responses and in the site's
default language for stored alert messages (so a Spanish request does not rewrite every stored row).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from django.utils.translation import gettext as _
from django.utils.translation import ngettext


def health_recommendations(codes: list[tuple[str, int]], history_days: int) -> list[str]:
    """Plain-language advice in the active language (the spec's example: "Reabastecer 8 productos con stock bajo")."""
    texts = {
        "out_of_stock": lambda n: ngettext(
            "%(count)d product with demand is already out of stock: order it today",
            "%(count)d products with demand are already out of stock: order them today", n),
        "restock_low": lambda n: ngettext(
            "Restock %(count)d product with low stock", "Restock %(count)d products with low stock", n),
        "high_demand": lambda n: ngettext(
            "Check supply for %(count)d product selling well above its forecast",
            "Check supply for %(count)d products selling well above their forecast", n),
        "promote_overstock": lambda n: ngettext(
            "Consider promotions for %(count)d overstocked product",
            "Consider promotions for %(count)d overstocked products", n),
        "liquidate_slow": lambda n: ngettext(
            "Apply a clearance strategy to %(count)d slow-moving product",
            "Apply a clearance strategy to %(count)d slow-moving products", n),
        "no_history": lambda n: ngettext(
            "%(count)d product has no sales in the last %(days)d days: check that it is still on sale",
            "%(count)d products have no sales in the last %(days)d days: check that they are still on sale", n),
        "missing_cost": lambda n: ngettext(
            "Enter the unit cost of %(count)d product so order costs can be estimated",
            "Enter the unit cost of %(count)d products so order costs can be estimated", n),
        "stock_unknown": lambda n: ngettext(
            "Stock of %(count)d product is unknown: record it to get reorder and stockout alerts",
            "Stock of %(count)d products is unknown: record them to get reorder and stockout alerts", n),
        "all_good": lambda n: _("Inventory is healthy: no action needed"),
    }
    return [texts[code](count) % {"count": count, "days": history_days} for code, count in codes]


def alert_messages(alerts: pd.DataFrame) -> list[str]:
    """One sentence per alert row (rows are alerts, a few thousand at most, not orders)."""
    templates = {
        "reorder_now": _("Stock %(stock)d is at or below the reorder point; order up to %(target)d units."),
        "low_stock": _("Stock %(stock)d will reach the reorder point within a week; prepare an order."),
        "slow_moving": _("Stock %(stock)d is barely selling (last sale: %(last)s)."),
        "overstock": _("Stock %(stock)d covers more than %(cover)d days of demand."),
        "high_demand": _("Selling %(recent).1f a day, well above the expected %(ref).1f a day."),
    }
    never = _("none in the history read")
    days_ago: dict[int, str] = {}  # a few distinct values: translate each once (6k alerts cost 0.3 s otherwise)

    def last_sale(since: float) -> str:
        if not np.isfinite(since):
            return never
        n = int(since)
        if n not in days_ago:
            days_ago[n] = ngettext("%(n)d day ago", "%(n)d days ago", n) % {"n": n}
        return days_ago[n]

    cols = ["alert_type", "current_stock", "recommended_stock", "days_since_last_sale", "daily_demand",
            "recent_daily", "reference_daily"]
    out = []
    for atype, stock, target, since, daily, recent, ref in zip(*(alerts[c].tolist() for c in cols), strict=True):
        out.append(templates[atype] % {
            "stock": stock, "target": target, "last": last_sale(since), "cover": stock / daily if daily > 0 else 0,
            "recent": recent, "ref": ref if np.isfinite(ref) else 0.0,
        })
    return out
