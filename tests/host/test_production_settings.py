"""Production defaults: the host's settings start safe or not at all (checked in fresh processes, because
settings are read once per process)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOYMENT_DOC = REPO / "docs" / "deployment.md"


def documented_production_env() -> dict[str, str]:
    """The NAME=value lines between the production-env markers of docs/deployment.md."""
    text = DEPLOYMENT_DOC.read_text()
    block = re.search(r"<!-- production-env -->(.*?)<!-- /production-env -->", text, re.S)
    assert block, "docs/deployment.md lost its production-env block"
    pairs = re.findall(r"^([A-Z_]+)=(\S*)$", block.group(1), re.M)
    assert len(pairs) >= 5
    return dict(pairs)


def run(args: list[str], extra: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    # a clean environment: nothing from the suite's process (DEBUG, SECRET_KEY) leaks in
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "LOG_DIR": str(tmp_path),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "DJANGO_SETTINGS_MODULE": "backend_django.settings",
           **extra}
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("key", [None, "", "dev-insecure-secret-key-change-me-in-production-0123456789",
                                 "django-insecure-" + "x1y2z3" * 10, "short-key"])
def test_without_debug_a_missing_or_public_secret_key_refuses_to_start(tmp_path, key):
    extra = {} if key is None else {"SECRET_KEY": key}
    done = run(["manage.py", "check"], extra, tmp_path)
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr and "SECRET_KEY" in done.stderr


def test_debug_is_off_unless_set_and_a_real_key_starts(tmp_path):
    code = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
    done = run(["-c", code], {"SECRET_KEY": "k" + os.urandom(40).hex()}, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"
    debug = run(["-c", code], {"DEBUG": "1"}, tmp_path)  # local development: no key needed
    assert debug.returncode == 0 and debug.stdout.strip() == "True"


def test_the_documented_production_environment_passes_check_deploy_without_warnings(tmp_path):
    done = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], documented_production_env(), tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "no issues" in done.stdout
