"""The layer rules, enforced by reading every module's imports (ast; nothing is imported or run).

What each layer may import is written down in docs/architecture.md; this test is its enforcement.
A module that still breaks a rule is listed in ALLOWED_VIOLATIONS with the rule it breaks: the test
fails on any violation not listed, and on a listed one that no longer happens (so the list only
shrinks: remove your entry when you clean the module up). The same for modules over MAX_LINES.
"""
from __future__ import annotations

import ast
from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ml_predictions"
MAX_LINES = 400

MATH_LIBRARIES = ("pandas", "numpy", "sklearn", "scipy")

# (module path relative to the repository, rule id) -> why it is still there. Shrink it, never grow it.
ALLOWED_VIOLATIONS: dict[tuple[str, str], str] = {}

# Modules over MAX_LINES that are being split; the test fails when one shrinks below it and is still listed.
ALLOWED_LARGE: set[str] = set()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


@cache
def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function (a lazy import is still a dependency).

    `from a.b import c` counts as a.b and a.b.c (c may be a submodule); relative imports are resolved.
    Imports under `if TYPE_CHECKING:` count too: a type is a dependency of the reader as well.
    """
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(_parse(path)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return found


def _uses(names: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if any(n == p or n.startswith(p + ".") for p in prefixes))


def _orm_calls(path: Path) -> list[str]:
    """`.objects` attribute reads (a model manager: an ORM query) with their line numbers."""
    return [f"line {node.lineno}" for node in ast.walk(_parse(path))
            if isinstance(node, ast.Attribute) and node.attr == "objects"]


def _layer(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else path.stem


def find_violations() -> dict[tuple[str, str], list[str]]:
    """(module, rule) -> the offending imports or lines, for every module of the package."""
    violations: dict[tuple[str, str], list[str]] = {}

    def check(path: Path, rule: str, offending: list[str]) -> None:
        if offending:
            violations[(str(path.relative_to(ROOT)), rule)] = offending

    for path in _sources():
        names = imports_of(path)
        layer = _layer(path)
        check(path, "no-host-imports", _uses(names, ("shop", "backend_django")))
        if layer == "estimators":
            pure_ok = ("ml_predictions.errors", "ml_predictions.estimators")
            internal = [n for n in _uses(names, ("ml_predictions",)) if not _uses({n}, pure_ok)]
            check(path, "estimators-pure", _uses(names, ("django", "rest_framework", "drf_spectacular")) + internal)
        if layer == "api":
            check(path, "api-no-math", _uses(names, MATH_LIBRARIES))
            check(path, "api-no-orm", _orm_calls(path))
        if layer in ("capabilities", "training", "data", "dashboard"):
            check(path, f"{layer}-no-http", _uses(names, ("rest_framework", "drf_spectacular")))
        if layer == "training":
            check(path, "training-no-capabilities", _uses(names, ("ml_predictions.capabilities", "ml_predictions.api")))
        if layer == "capabilities":
            check(path, "capabilities-no-api", _uses(names, ("ml_predictions.api",)))
    return violations


def package_graph() -> dict[str, set[str]]:
    """Dependencies between the package's top-level parts (api, capabilities, training, models, ...)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in _sources():
        source = _layer(path)
        graph[source]
        for name in _uses(imports_of(path), ("ml_predictions",)):
            parts = name.split(".")
            if len(parts) < 2:
                continue
            target = parts[1]
            if target != source and ((PACKAGE / target).is_dir() or (PACKAGE / f"{target}.py").exists()):
                graph[source].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


# --- the scanner itself is tested on small sources, so a rule that never fires cannot pass silently ---


def test_imports_of_sees_lazy_relative_and_from_imports(tmp_path, monkeypatch):
    pkg = tmp_path / "ml_predictions" / "api"
    pkg.mkdir(parents=True)
    (pkg / "mod.py").write_text(
        "import numpy as np\nfrom ..training import runner\nfrom . import base\n"
        "def f():\n    from sklearn.cluster import KMeans\n    return Model.objects.all()\n"
    )
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    names = imports_of(pkg / "mod.py")
    assert {"numpy", "ml_predictions.training", "ml_predictions.training.runner", "ml_predictions.api.base",
            "sklearn.cluster", "sklearn.cluster.KMeans"} <= names
    assert _uses(names, MATH_LIBRARIES) == ["numpy", "sklearn.cluster", "sklearn.cluster.KMeans"]
    assert _orm_calls(pkg / "mod.py") == ["line 6"]


def test_cycle_finder():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


# --- the rules on the real package ---------------------------------------------------------------------


def test_no_new_layer_violations():
    violations = find_violations()
    new = {key: found for key, found in violations.items() if key not in ALLOWED_VIOLATIONS}
    assert not new, "layer rule broken (see docs/architecture.md):\n" + "\n".join(
        f"  {module} [{rule}]: {', '.join(found)}" for (module, rule), found in sorted(new.items()))


def test_allowed_violations_still_happen():
    """An allowlisted module that was cleaned up must leave the list, so nobody can regress into it."""
    fixed = sorted(set(ALLOWED_VIOLATIONS) - set(find_violations()))
    assert not fixed, "remove from ALLOWED_VIOLATIONS (now clean): " + ", ".join(f"{m} [{r}]" for m, r in fixed)


def test_no_import_cycles_between_packages():
    assert cycles(package_graph()) == []


def _long_modules() -> dict[str, int]:
    sizes = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines()) for p in _sources()}
    return {name: n for name, n in sizes.items() if n > MAX_LINES}


def test_no_new_module_over_max_lines():
    new = {name: n for name, n in _long_modules().items() if name not in ALLOWED_LARGE}
    assert not new, f"modules over {MAX_LINES} lines (split them by job): {new}"


def test_host_modules_within_max_lines():
    """The demo host follows the same size rule as the plugin (the importer and generator were split)."""
    host = sorted(p for p in (ROOT / "backend_django").rglob("*.py") if "migrations" not in p.parts)
    sizes = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines()) for p in host}
    long = {name: n for name, n in sizes.items() if n > MAX_LINES}
    assert len(host) > 10 and not long, f"host modules over {MAX_LINES} lines (split them by job): {long}"


def test_allowed_large_modules_are_still_large():
    shrunk = sorted(ALLOWED_LARGE - set(_long_modules()))
    assert not shrunk, f"remove from ALLOWED_LARGE (now {MAX_LINES} lines or fewer): {shrunk}"


@pytest.mark.parametrize("rule", ["estimators-pure", "api-no-math", "training-no-capabilities"])
def test_every_rule_applies_to_existing_modules(rule):
    """Guard against a rule silently matching nothing because a layer was renamed."""
    layer = rule.split("-")[0]
    assert any(_layer(p) == layer for p in _sources()), f"no module in layer {layer!r}"
