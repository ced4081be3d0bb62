"""Assertions shared by the capability tests."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# The real data sets live in ../shared/data beside the repository (ML_SHARED_DATA overrides it);
# tests that need them skip when they are absent.
SHARED_DATA = Path(os.environ.get("ML_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_staff_only(anon_client: Any, user_client: Any, method: str, url: str, data: Any = None) -> None:
    """Anonymous -> 401, authenticated non-staff -> 403, in the API's error shape."""
    call = getattr(anon_client, method)
    res = call(url, data, format="json") if data is not None else call(url)
    assert res.status_code == 401, (url, res.status_code)
    assert res.json()["success"] is False
    call = getattr(user_client, method)
    res = call(url, data, format="json") if data is not None else call(url)
    assert res.status_code == 403, (url, res.status_code)


def assert_error(response: Any, status: int, *words: str) -> dict:
    """A 4xx in the API's error shape whose message mentions every word (e.g. the field name)."""
    assert response.status_code == status, (response.status_code, getattr(response, "content", b"")[:500])
    body = response.json()
    assert body["success"] is False
    text = (body["error"]["message"] + " " + str(body["error"].get("fields", ""))).lower()
    for word in words:
        assert word.lower() in text, (word, body)
    return body


def selects(ctx: Any) -> list[str]:
    """The data queries a CaptureQueriesContext saw (PostgreSQL wraps each read in a transaction that
    sets work_mem: its SAVEPOINT/SET statements are not reads)."""
    return [q["sql"] for q in ctx.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
