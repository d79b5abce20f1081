"""The package's import structure: every module imports alone, no cycles, a light top level.

The graph is read statically from the import statements (``ast``), module level
and function level alike: a function-level import hides a cycle, it does not
remove it.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("manifold_search", "search_spaces")


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imported(name: str, path: Path) -> set[str]:
    """Package modules that ``name`` imports (the longest known prefix of each import)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    graph = {name: _imported(name, path) for name, path in MODULES.items()}
    # importing a module imports its parent packages first; that edge is no cycle
    return {name: {t for t in targets if not name.startswith(t + ".")} for name, targets in graph.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_package_import_graph_has_no_cycle():
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_study_layer_does_not_import_the_benchmark():
    graph = _graph()
    study = [name for name in graph if name.startswith("manifold_search.study")]
    assert study
    for name in study:
        assert not any(t.startswith("manifold_search.benchmark") for t in graph[name]), name


_SWEEP = """
import importlib, sys
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m.split(".")[0] in {packages!r}]:
        del sys.modules[loaded]  # the package's own modules start from nothing each time
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed.append(f"{{name}}: {{type(exc).__name__}}: {{exc}}")
print("\\n".join(failed))
"""


def test_every_module_imports_alone():
    """Each module imported with none of the package's modules loaded before it (one fresh
    process; third-party libraries stay loaded between imports, so this takes seconds)."""
    result = subprocess.run([sys.executable, "-c", _SWEEP.format(packages=PACKAGES), *sorted(MODULES)],
                            capture_output=True, text=True, cwd=ROOT, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", result.stdout


def _import_alone(name: str) -> str | None:
    result = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True,
                            text=True, cwd=ROOT, timeout=300)  # fmt: skip
    if result.returncode == 0:
        return None
    return f"{name}: {(result.stderr.strip().splitlines() or ['?'])[-1]}"


@pytest.mark.slow
def test_every_module_imports_alone_in_its_own_fresh_process():
    """One fresh interpreter per module: minutes, as those that load torch take seconds
    each (run side by side, one per core)."""
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        failed = [f for f in pool.map(_import_alone, sorted(MODULES)) if f]
    assert not failed, "\n".join(failed)


@pytest.mark.parametrize("statement", [
    "import manifold_search",
    "import manifold_search.cli; manifold_search.cli.build_parser()",
    "import manifold_search.registry, manifold_search.samplers, search_spaces",
])  # fmt: skip
def test_light_imports_do_not_load_heavy_dependencies(statement):
    heavy = ("torch", "torchvision", "timm", "phate", "ripser", "matplotlib", "sklearn", "optuna")
    code = f"import sys; {statement}; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"{statement} loaded {result.stdout.strip()}"


def test_public_names_still_import_from_the_package():
    code = ("from manifold_search import ManifoldSampler, record_network, NetworkManifold; "
            "import manifold_search; assert set(manifold_search.__all__) <= set(dir(manifold_search))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
