"""/api/docs/ (Swagger UI) and /api/redoc/ render in headless Chromium from this server alone: the page's
own scripts draw one section per capability tag. A screenshot goes to test-artifacts/api_docs.png."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import PNG_MAGIC
from tests.webdriver import Browser, find_chromium

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = find_chromium()

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed"),
]


@pytest.fixture
def browser():
    ARTIFACTS.mkdir(exist_ok=True)
    driver = Browser(*CHROMIUM, log_path=ARTIFACTS / "chromedriver_docs.log", width=1300, height=1100)
    yield driver
    driver.quit()


def test_swagger_ui_and_redoc_render(live_server, browser, db):
    browser.get(f"{live_server.url}/api/docs/")
    tags = browser.wait_for("var t = Array.from(document.querySelectorAll('.opblock-tag'));"
                            "return t.length >= 6 && t.map(function (e) { return e.dataset.tag; });")
    assert {"forecasting", "recommendations", "segmentation", "inventory", "models", "operations"} <= set(tags)
    external = browser.script("return performance.getEntriesByType('resource').map(function (r) { return r.name; })"
                              ".filter(function (u) { return u.indexOf(location.origin) !== 0; });")
    assert external == []
    png = browser.screenshot(ARTIFACTS / "api_docs.png")
    assert png.startswith(PNG_MAGIC) and len(png) > 20_000

    browser.get(f"{live_server.url}/api/redoc/")
    menu = browser.wait_for("var m = document.querySelectorAll('.menu-content li');"
                            "return m.length > 6 && m.length;", timeout=60)
    assert menu > 6
