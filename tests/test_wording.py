"""Code and docs name what a reference means ("the spec's response shape"), not internal file numbers."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INTERNAL = re.compile(r"\bseeds?[ _]?0\d\d", re.IGNORECASE)


def test_no_internal_seed_numbers_in_code_or_docs() -> None:
    paths = [ROOT / "README.md"]
    for folder in ("ml_predictions", "docs", "backend_django"):
        paths += [p for p in (ROOT / folder).rglob("*") if p.suffix in {".py", ".md", ".html", ".js", ".txt", ".po"}]
    hits = [f"{p.relative_to(ROOT)}:{n}" for p in paths
            for n, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
            if INTERNAL.search(line)]
    assert not hits, hits
