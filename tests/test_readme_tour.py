"""The README's curl tour runs as written, in order, against a demo-like shop behind a real HTTP server.

The block is read from README.md (the first ```bash block under "## A tour with curl"), pointed at
pytest-django's live_server, and run with bash under `set -euo pipefail`; `curl` gets --fail-with-body
so that any 4xx/5xx answer or missing JSON key fails the tour. The models are trained first, as
`make demo` does (with small row budgets to stay fast).
"""
from __future__ import annotations

import csv
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from backend_django.shop.generator import GeneratorConfig, synthesize, write_shop
from ml_predictions.models import MLTrainingLog
from ml_predictions.training.runner import train_now
from tests.conftest import TEST_END_DATE
from tests.helpers import PNG_MAGIC

README = Path(__file__).resolve().parents[1] / "README.md"

pytestmark = pytest.mark.skipif(not (shutil.which("curl") and shutil.which("bash")), reason="needs curl and bash")


def tour_block() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## A tour with curl"):]
    match = re.search(r"```bash\n(.*?)```", section, flags=re.S)
    assert match, "no bash block in the tour section"
    return match.group(1)


def test_tour_block_uses_python3_and_fetches_its_ids_first():
    block = tour_block()
    assert re.search(r"\bpython\b(?!3)", block) is None
    for name in ("CUSTOMER_ID", "PRODUCT_ID", "SEGMENT"):
        first_use = block.index(f"${name}")
        assert block.index(f"{name}=$(") < first_use, name
    # a retrain may rename segments: it comes after every segment read
    assert block.rindex("/segments/") < block.index("train-customer-segmentation")


@pytest.fixture
def demo_shop(transactional_db, settings):
    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "FORECAST_MAX_TRAIN_ROWS": 1500,
                               "FORECAST_PRODUCT_TRAIN_ROWS": 3000}
    write_shop(synthesize(GeneratorConfig(customers=300, products=60, orders=3000, years=2, seed=7,
                                          end_date=TEST_END_DATE)))
    get_user_model().objects.create_user("admin", password="admin", is_staff=True, is_superuser=True)
    for model_type, params in (("sales_forecast", {"model_type": "linear"}), ("product_recommendation", {}),
                               ("customer_segmentation", {"n_clusters": 6}), ("inventory", {})):
        assert train_now(model_type, params).status == "succeeded", model_type


def test_readme_tour_runs_as_written(live_server, demo_shop, tmp_path):
    script = tour_block().replace("B=http://127.0.0.1:8000", f"B={live_server.url}", 1)
    assert script != tour_block(), "the tour no longer starts with B=http://127.0.0.1:8000"
    prologue = 'set -euo pipefail\ncurl() { command curl --fail-with-body --max-time 120 "$@"; }\n'
    run = subprocess.run(["bash", "-c", prologue + script], cwd=tmp_path, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, f"stdout:\n{run.stdout[-3000:]}\nstderr:\n{run.stderr[-3000:]}"
    ids = re.search(r"segment=(\S+) customer=(\S+) product=(\S+)", run.stdout)
    assert ids and all(ids.groups()), run.stdout[:500]
    assert '"predictions"' in run.stdout and '"health_score"' in run.stdout
    assert run.stdout.rstrip().endswith("succeeded")
    with open(tmp_path / "segment.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert "customer_id" in rows[0] and len(rows) > 1
    assert (tmp_path / "segments.png").read_bytes().startswith(PNG_MAGIC)
    assert MLTrainingLog.objects.filter(model_type="customer_segmentation", trigger="api",
                                        status="succeeded").count() == 1
