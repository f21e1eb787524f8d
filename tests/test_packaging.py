"""The packaging rules: what a user's `pip install sage-accounting` brings and what it never does.

Two distributions come from this repository (README, "Layout"): the SDK, depending on httpx and
pydantic only, and the generator, sage-codegen, depending on the SDK. `make dist-check` installs
the real wheels; these are the rules that can be checked cheaply from the checkout.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from packaging.requirements import Requirement

from sage_accounting._runtime._version import __version__

ROOT = Path(__file__).resolve().parents[1]
# One package from two roots: what the generator writes and what is written by hand.
PACKAGE_ROOTS = (ROOT / "generated" / "sage_accounting", ROOT / "src" / "sage_accounting")
SDK = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
CODEGEN = tomllib.loads((ROOT / "generator" / "pyproject.toml").read_text(encoding="utf-8"))

# What each part of the SDK may import besides the standard library and itself: the core needs
# httpx and pydantic only; the subpackages behind an extra add that extra's libraries.
CORE = {"httpx", "pydantic", "pydantic_core", "jiter"}
ALLOWED_BY_SUBPACKAGE = {
    "cli": CORE | {"click"},  # [cli]
    # [agents]; anyio comes with httpx and mcp, uvicorn with mcp (its HTTP server); cryptography
    # signs approvals
    "agents": CORE | {"click", "mcp", "anyio", "uvicorn", "cryptography"},
    # only its pytest plugin imports pytest; its `sandbox` command is part of [cli]
    "testing": CORE | {"pytest", "pytest_asyncio", "click"},
    # [sync]; psycopg2 and duckdb come with dlt[postgres] and dlt[duckdb]; pyarrow: the Arrow
    # tables the sync hands dlt
    "sync": CORE | {"click", "dlt", "psycopg2", "duckdb", "pyarrow"},
    # [scale]: Redis, SQL, Fernet
    "scale": CORE | {"redis", "sqlalchemy", "psycopg", "cryptography"},
    "otel": CORE | {"opentelemetry"},  # [otel]: the API only
}
# Type checkers ship typeshed's stubs of typing_extensions, so an import of it under
# TYPE_CHECKING needs no installed package; at run time it would.
TYPE_CHECKING_ONLY = {"typing_extensions"}


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )


def names(requirements: list[str]) -> set[str]:
    return {Requirement(r).name for r in requirements}


def test_the_sdk_depends_on_httpx_and_pydantic_only() -> None:
    assert names(SDK["project"]["dependencies"]) == {"httpx", "pydantic", "jiter"}
    extras = SDK["project"]["optional-dependencies"]
    assert names(extras["cli"]) == {"click"}
    assert names(extras["agents"]) >= {"mcp", "click"}
    assert names(extras["sync"]) == {"click", "dlt", "pyarrow"}
    # No extra pulls the generator from the registry: make install installs it from generator/.
    assert all("sage-codegen" not in names(extra) for extra in extras.values())


def test_the_sdk_wheel_holds_the_sdk_and_no_generator() -> None:
    wheel = SDK["tool"]["hatch"]["build"]["targets"]["wheel"]
    # Both roots of sage_accounting, merged into one folder; an editable install puts both on
    # sys.path (a plain .pth, which type checkers read). Nothing of generator/ or templates/.
    assert wheel["only-include"] == ["generated/sage_accounting", "src/sage_accounting"]
    assert wheel["sources"] == ["generated", "src"]
    assert wheel["dev-mode-dirs"] == ["generated", "src"]
    assert set(SDK["project"]["scripts"]) == {"sage-accounting"}


def test_the_generator_is_its_own_distribution_for_exactly_this_runtime() -> None:
    project = CODEGEN["project"]
    assert project["name"] == "sage-codegen"
    assert project["scripts"] == {"sage-codegen": "sage_codegen.cli:main"}
    assert project["version"] == __version__
    pins = [Requirement(r) for r in project["dependencies"]]
    runtime = next(r for r in pins if r.name == "sage-accounting")
    assert str(runtime.specifier) == f"=={__version__}"
    assert {r.name for r in pins} >= {"jinja2", "openapi-pydantic", "black", "click"}


def test_every_template_ships_in_the_generator_wheel(tmp_path: Path) -> None:
    # The top-level templates/ (beside generator/) as sage_codegen/templates/ in the wheel.
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path)],
        cwd=ROOT / "generator",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [wheel] = tmp_path.glob("sage_codegen-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = {
            name for name in archive.namelist() if name.startswith("sage_codegen/templates/")
        }
    templates = {f"sage_codegen/templates/{p.name}" for p in (ROOT / "templates").glob("*.jinja")}
    assert templates and shipped == templates


def _imports(tree: ast.Module) -> list[tuple[str, bool]]:
    """Top-level names of absolute imports, each with whether it is under ``if TYPE_CHECKING``."""
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, typing_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and ast.unparse(child.test) in {
                "TYPE_CHECKING",
                "typing.TYPE_CHECKING",
            }:
                for statement in child.body:
                    visit(ast.Module(body=[statement], type_ignores=[]), True)
                for statement in child.orelse:
                    visit(ast.Module(body=[statement], type_ignores=[]), typing_only)
                continue
            if isinstance(child, ast.Import):
                found.extend((alias.name.split(".")[0], typing_only) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                found.append((child.module.split(".")[0], typing_only))
            visit(child, typing_only)

    visit(tree, False)
    return found


def test_the_sdk_imports_nothing_beyond_its_dependencies_and_extras() -> None:
    wrong = []
    for path in sorted(p for package in PACKAGE_ROOTS for p in package.rglob("*.py")):
        part = path.relative_to(next(r for r in PACKAGE_ROOTS if path.is_relative_to(r))).parts[0]
        allowed = ALLOWED_BY_SUBPACKAGE.get(part, CORE) | {"sage_accounting"}
        for name, typing_only in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if name in sys.stdlib_module_names or name in allowed:
                continue
            if typing_only and name in TYPE_CHECKING_ONLY:
                continue
            wrong.append(f"{path.relative_to(ROOT)}: {name}")
    assert wrong == []


# A finder that makes these modules missing, as in a user's venv holding only the SDK wheel
# (httpx itself imports click when it can, so "installed but not imported" would not do).
BLOCK_EXTRAS = """
import sys
MISSING = {"sage_codegen", "jinja2", "black", "genson", "click", "mcp", "pytest", "typing_extensions"}
class Missing:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in MISSING - BLOCK_EXCEPT:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Missing())
"""


def test_the_sdk_and_every_resource_import_without_generator_or_extras() -> None:
    code = """
from sage_accounting import AsyncSageAccounting, SageAccounting
import sage_accounting.testing
for client in (SageAccounting(access_token="t"), AsyncSageAccounting(access_token="t")):
    for name in dir(client):
        if not name.startswith("_"):
            getattr(client, name)
import importlib, pkgutil, sage_accounting.resources, sage_accounting.models
for package in (sage_accounting.resources, sage_accounting.models):
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
print(len(list(pkgutil.iter_modules(sage_accounting.resources.__path__))), "resource modules")
"""
    # typing_extensions stays importable: pydantic itself needs it.
    result = run_python("BLOCK_EXCEPT = {'typing_extensions'}" + BLOCK_EXTRAS + code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "87 resource modules"


def test_python_m_agents_without_the_extra_says_what_to_install() -> None:
    result = run_python(
        "import runpy, sys; sys.modules['click'] = None; sys.argv = ['x', 'agents', '--help'];"
        "runpy.run_module('sage_accounting.agents', run_name='__main__')"
    )
    assert result.returncode == 5
    assert result.stderr.strip() == (
        "python -m sage_accounting.agents: needs the [agents] extra (missing module 'click'): "
        "pip install 'sage-accounting[agents]'"
    )


def test_the_mcp_command_without_mcp_says_what_to_install(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("[sage]\n", encoding="utf-8")
    result = run_python(
        "import sys; sys.modules['mcp'] = None;"
        f"sys.argv = ['sage-accounting', 'mcp', '--policy', {str(policy)!r}];"
        "from sage_accounting.cli import main; main()"
    )
    assert result.returncode == 5
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "error: `mcp` needs the [agents] extra (missing module 'mcp'): "
        "pip install 'sage-accounting[agents]'"
    )


def test_the_pytest_plugin_serves_a_users_suite_without_pytest_asyncio(tmp_path: Path) -> None:
    (tmp_path / "test_users_own.py").write_text(
        "def test_contacts(sage_client):\n"
        "    assert sage_client.contacts.list().first_page().total == 9\n",
        encoding="utf-8",
    )
    blocked = "BLOCK_EXCEPT = {'pytest', 'click', 'typing_extensions'}" + BLOCK_EXTRAS.replace(
        '"pytest",', '"pytest", "pytest_asyncio",'
    )
    run_pytest = "import pytest; sys.exit(pytest.main(['-q', '-p', 'no:asyncio', sys.argv[1]]))"
    result = subprocess.run(
        [sys.executable, "-c", blocked + run_pytest, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
