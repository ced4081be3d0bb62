"""pyproject.toml declares what the plugin imports, as ranges, and the demo's pins sit inside them."""
from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
# import name -> distribution name, for the libraries the plugin imports
DISTRIBUTIONS = {
    "django": "django", "rest_framework": "djangorestframework", "drf_spectacular": "drf-spectacular",
    "django_tasks": "django-tasks", "pandas": "pandas", "numpy": "numpy", "scipy": "scipy",
    "sklearn": "scikit-learn", "statsmodels": "statsmodels", "joblib": "joblib", "matplotlib": "matplotlib",
    "threadpoolctl": "threadpoolctl", "tqdm": "tqdm", "django_filters": "django-filter",
    "rest_framework_simplejwt": "djangorestframework-simplejwt", "drf_spectacular_sidecar": "drf-spectacular-sidecar",
}


def _requirements() -> dict[str, Requirement]:
    return {Requirement(line).name.lower(): Requirement(line) for line in PROJECT["dependencies"]}


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[Requirement(name).name.lower()] = version.strip()
    return pins


def _third_party_imports() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "ml_predictions").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {name for name in found if name not in sys.stdlib_module_names and name != "ml_predictions"}


def test_every_import_of_the_plugin_is_a_declared_dependency():
    declared = set(_requirements())
    imports = _third_party_imports()
    assert imports, "the scan found no imports"
    unknown = sorted(name for name in imports if name not in DISTRIBUTIONS)
    assert unknown == [], f"add these imports' distributions to DISTRIBUTIONS and pyproject.toml: {unknown}"
    missing = sorted(DISTRIBUTIONS[name] for name in imports if DISTRIBUTIONS[name] not in declared)
    assert missing == []


def test_dependencies_are_ranges_that_contain_the_demo_pins():
    pins = _pins()
    for name, requirement in _requirements().items():
        operators = {spec.operator for spec in requirement.specifier}
        assert "==" not in operators and ">=" in operators, requirement
        assert name in pins, f"{name} is not pinned in requirements.txt"
        assert requirement.specifier.contains(pins[name]), (requirement, pins[name])


def test_metadata_says_django_5_2_and_python_3_11():
    assert PROJECT["name"] == "ml-predictions" and PROJECT["requires-python"] == ">=3.11"
    assert "Framework :: Django :: 5.2" in PROJECT["classifiers"]
    assert "Programming Language :: Python :: 3.11" in PROJECT["classifiers"]
    assert _requirements()["django"].specifier.contains("5.2.19") and not _requirements()["django"].specifier.contains("6.0")
