"""The API docs work offline (Swagger UI and ReDoc from our own static files), with one tag per
capability and a schema that generates without a warning."""
from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command

CAPABILITY_TAGS = {"forecasting", "recommendations", "segmentation", "inventory", "models", "operations",
                   "monitoring"}


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_load_their_assets_from_our_static_files(client, url):
    res = client.get(url)
    assert res.status_code == 200
    html = res.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, html
    external = [a for a in assets if a.startswith(("http://", "https://", "//"))]
    assert external == []
    scripts = [a for a in assets if a.endswith(".js")]
    assert scripts
    for asset in scripts:
        path = asset.split("?")[0].removeprefix("/static/")
        assert finders.find(path), f"{asset} is not a static file of this installation"


@pytest.mark.django_db
def test_schema_tags_each_operation_by_capability(client, staff_user):
    client.force_login(staff_user)
    schema = client.get("/api/schema/?format=json").json()
    tags = {path: {t for op in ops.values() if isinstance(op, dict) for t in op.get("tags", [])}
            for path, ops in schema["paths"].items() if path.startswith("/api/ml/")}
    assert set().union(*tags.values()) == CAPABILITY_TAGS
    assert tags["/api/ml/predict-sales/"] == {"forecasting"}
    assert tags["/api/ml/segments/"] == {"segmentation"}
    assert tags["/api/ml/inventory-alerts/"] == {"inventory"}
    assert tags["/api/ml/training-logs/"] == {"operations"}
    assert {t["name"] for t in schema["tags"]} >= CAPABILITY_TAGS
    assert "REST_FRAMEWORK" not in str(schema)  # no base-class docstring leaks into descriptions
    assert "ModelTypeEnum" in schema["components"]["schemas"]
    assert not any(re.fullmatch(r"ModelType\d+Enum|KindEnum", name) for name in schema["components"]["schemas"])


@pytest.mark.django_db
def test_schema_generates_without_warnings(tmp_path):
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").stat().st_size > 10_000


@pytest.mark.django_db
def test_root_redirects_to_the_dashboard(client):
    res = client.get("/")
    assert res.status_code == 302
    assert res["Location"] == "/api/ml/dashboard/"
