"""The runtime's import graph, read from its source: no circle among its modules, and no import
of the apps and extensions (agents, cli, testing, sync, scale, otel), at import time or inside a
function.

Imports under ``if TYPE_CHECKING:`` are left out (they never run); imports inside functions are
counted (deferring an import into a function hides a circle from the interpreter, not from a
reader).
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

import sage_accounting._runtime as runtime

RUNTIME = Path(runtime.__file__).parent
PACKAGE = "sage_accounting._runtime"
APPS = tuple(
    f"sage_accounting.{app}" for app in ("agents", "cli", "testing", "sync", "scale", "otel")
)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement that can run: at module level or in a function, not under
    ``if TYPE_CHECKING:`` (its ``else`` branch is kept)."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for inner in ast.iter_child_nodes(node):
            visit(inner)

    visit(tree)
    return found


def _module_name(path: Path) -> str:
    return PACKAGE if path.name == "__init__.py" else f"{PACKAGE}.{path.stem}"


def _targets(module: str, node: ast.Import | ast.ImportFrom, modules: set[str]) -> set[str]:
    """The modules an import statement loads (``from . import _x`` names the submodule; outside
    the runtime ``from x import y`` names ``x.y``, which may be a module)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    package = module if module == PACKAGE else module.rpartition(".")[0]
    if node.level:
        base = package.split(".")
        base = base[: len(base) - (node.level - 1)]
        stem = ".".join(base + ([node.module] if node.module else []))
    else:
        stem = node.module or ""
    targets = set()
    for alias in node.names:
        submodule = f"{stem}.{alias.name}"
        inside = stem == PACKAGE or stem.startswith(PACKAGE + ".")
        targets.add(stem if inside and submodule not in modules else submodule)
    return targets


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module name -> the modules it imports (any, not only the runtime's)."""
    files = {_module_name(path): path for path in sorted(root.glob("*.py"))}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph[module] = set()
        for node in _imports(tree):
            graph[module] |= _targets(module, node, set(files))
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A circle among the graph's modules (a path round it, the first module again at its end),
    or None when there is none."""
    inside = {module: targets & graph.keys() for module, targets in graph.items()}
    try:
        graphlib.TopologicalSorter(inside).prepare()
    except graphlib.CycleError as found:
        return list(found.args[1])
    return None


def test_the_graph_sees_imports_in_functions_and_skips_type_checking(tmp_path: Path) -> None:
    """The reader itself, on a made-up package: a deferred import is an edge, a TYPE_CHECKING
    one is not, a circle through a function is found, and an app named relatively is seen."""
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "_a.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from ._c import C\n"
        "def f():\n    from ._b import g\n    return g\n"
    )
    (tmp_path / "_b.py").write_text("from . import _a\nfrom .. import agents\n")
    (tmp_path / "_c.py").write_text("import sage_accounting._runtime._a\n")
    graph = import_graph(tmp_path)
    assert graph[f"{PACKAGE}._a"] == {"typing.TYPE_CHECKING", f"{PACKAGE}._b"}
    assert graph[f"{PACKAGE}._b"] == {f"{PACKAGE}._a", "sage_accounting.agents"}
    assert sorted(set(cycle(graph) or ())) == [f"{PACKAGE}._a", f"{PACKAGE}._b"]


def test_no_import_circle_among_the_runtimes_modules() -> None:
    assert cycle(import_graph(RUNTIME)) is None


@pytest.mark.parametrize("module", sorted(import_graph(RUNTIME)))
def test_the_runtime_imports_no_app(module: str) -> None:
    apps = {
        target
        for target in import_graph(RUNTIME)[module]
        if target == "sage_accounting" or target.startswith(APPS)
    }
    assert not apps, f"{module} imports {sorted(apps)}: the runtime names no app"
