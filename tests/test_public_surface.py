"""The SDK's apps (cli, agents, testing, sync) use the runtime's public, typed surface only:
names from ``sage_accounting._runtime`` (its ``__all__``) or ``sage_accounting``, never one of
its ``_modules``; no private attribute of another module's objects; no client typed ``Any``;
of another app, its public modules only (``cli.plugin_api``, ``cli.exit_codes``), never one
of its ``_modules``.
What an app needs becomes public there, with a docstring (src/sage_accounting/_runtime/README.md).
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

import sage_accounting._runtime as runtime

SRC = Path(__file__).resolve().parent.parent / "src" / "sage_accounting"
APPS = ("cli", "agents", "testing", "sync")
FILES = sorted(p for app in APPS for p in (SRC / app).rglob("*.py"))
# The standard library's underscored public names (namedtuple's API, CPython's frame access).
STDLIB_UNDERSCORED = {"_replace", "_asdict", "_fields", "_make", "_getframe", "_exit"}
# Still reaching into the runtime, each with its owner: shrink this list, never grow it.
KNOWN: set[tuple[str, str]] = set()
# (A name an app defines itself may be used across its own modules: sync's _fetch and _business.)


def _module_of(node: ast.ImportFrom, path: Path) -> str:
    if node.level == 0:
        return node.module or ""
    package = path.relative_to(SRC.parent).with_suffix("").parts[: -node.level]
    return ".".join([*package, *([node.module] if node.module else [])])


@functools.cache
def _defined_in(app: str) -> frozenset[str]:
    """The names an app's own modules define (its private helpers and attributes are its own)."""
    names: set[str] = set()
    for path in (SRC / app).rglob("*.py"):
        names |= _defined_here(ast.parse(path.read_text(encoding="utf-8")))
    return frozenset(names)


def _defined_here(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def _private_module_of_another_app(module: str, where: str) -> bool:
    """``sage_accounting.cli._config`` seen from ``sync/cli.py``: another app's private module."""
    parts = module.split(".")
    if len(parts) < 3 or parts[0] != "sage_accounting" or parts[1] not in APPS:
        return False
    own = where.split("/")[0]
    return parts[1] != own and any(p.startswith("_") for p in parts[2:])


def _is_any(annotation: ast.expr | None) -> bool:
    return isinstance(annotation, ast.Name) and annotation.id == "Any"


def violations(path: Path, source: str | None = None) -> list[tuple[str, str]]:
    """What ``path`` (an app's module; its text, or ``source``) takes that is not public."""
    where = path.relative_to(SRC).as_posix()
    tree = ast.parse(path.read_text(encoding="utf-8") if source is None else source)
    own = _defined_in(where.split("/")[0]) | _defined_here(tree)
    found: list[tuple[str, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = _module_of(node, path)
            if module.startswith("sage_accounting._runtime._"):
                found.append((where, module))
            elif _private_module_of_another_app(module, where):
                found.append((where, module))
            elif module.split(".")[:2] != ["sage_accounting", where.split("/")[0]] and any(
                _private_module_of_another_app(f"{module}.{a.name}", where) for a in node.names
            ):
                found.extend(
                    (where, f"{module}.{a.name}") for a in node.names if a.name.startswith("_")
                )
            elif module == "sage_accounting._runtime":
                private = [
                    a.name
                    for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")
                ]
                found.extend((where, f"sage_accounting._runtime.{name}") for name in private)
        elif isinstance(node, ast.Import):
            found.extend(
                (where, a.name) for a in node.names if _private_module_of_another_app(a.name, where)
            )
        elif isinstance(node, ast.Attribute):
            attr = node.attr
            owner = node.value
            if (
                attr.startswith("_")
                and not attr.startswith("__")
                and not (isinstance(owner, ast.Name) and owner.id in ("self", "cls"))
                and attr not in own
                and attr not in STDLIB_UNDERSCORED
            ):
                found.append((where, f".{attr}"))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
            for arg in arguments:
                if "client" in arg.arg and "address" not in arg.arg and _is_any(arg.annotation):
                    found.append((where, f"{node.name}({arg.arg}: Any)"))
            if "client" in node.name and _is_any(node.returns):
                found.append((where, f"{node.name}() -> Any"))
    return found


def test_the_apps_use_the_runtimes_public_surface() -> None:
    assert len(FILES) > 40
    found = {v for path in FILES for v in violations(path)}
    assert sorted(found - KNOWN) == []
    assert sorted(KNOWN - found) == [], "fixed: take it off KNOWN"


@pytest.mark.parametrize(
    "source",
    [
        "from .._runtime._encoding import loads\n",
        "from sage_accounting._runtime._client import _BaseClient\n",
        "def f(client):\n    return client._parsed(1, 2)\n",
        "from typing import Any\ndef make_client() -> Any: ...\n",
        "from typing import Any\ndef run(client: Any) -> None: ...\n",
        "from ..agents._x import y\n",
        "from ..sync import _fetch\n",
        "import sage_accounting.testing._state\n",
        "from sage_accounting.agents import _x as y\n",
    ],
)
def test_each_kind_of_reach_is_found(source: str) -> None:
    assert violations(SRC / "cli" / "_probe.py", source) != []  # as if it were in the CLI


@pytest.mark.parametrize(
    "source",
    [
        "from ..cli.plugin_api import CommandError\n",
        "from ..cli.exit_codes import EXIT_USAGE\n",
        "from ..cli import plugin_api\n",
        "from ._config import load_app\n",  # the app's own private module
        "from . import _plugins\n",
    ],
)
def test_public_modules_and_an_apps_own_private_ones_are_allowed(source: str) -> None:
    assert violations(SRC / "cli" / "_probe.py", source) == []


def test_what_the_apps_import_from_the_runtime_is_documented() -> None:
    readme = (SRC / "_runtime" / "README.md").read_text(encoding="utf-8")
    for name in ("SageClient", "write_atomic", "singular", "loads", "redact"):
        assert name in runtime.__all__
        assert f"`{name}" in readme, name
