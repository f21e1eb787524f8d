"""Every fenced ```python and ```sh block of README.md and docs/*.md, run as written against one
sandbox started here (issue 23, point 5). A failure names the block: ``docs/pagination.md:7``.

The only substitutions are the documented placeholders: ``"..."`` ids, ``CLIENT_ID`` and
``CLIENT_SECRET``, ``4f7c...``-style ids and the callback URL, each replaced by a real sandbox
value. A fragment that uses a name its page introduces in prose (``client``, ``session``,
``cursor``, ``upsert``) gets that name bound to a real object. The OAuth blocks run against the
sandbox's OAuth server: the browser step is the test following ``flow.url`` with httpx, and
OAuthApp's Sage host URLs (its defaults) point at the sandbox. What cannot run here is listed in
SKIPPED (python) and SH_SKIPPED (sh), each with its reason, and each reason is asserted still true.
"""

from __future__ import annotations

import ast
import asyncio
import functools
import inspect
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_support import ROOT
from doc_placeholders import fill_placeholders
from present import present

import sage_accounting
from sage_accounting import OAuthSession, SageAccounting, TokenSet
from sage_accounting.testing import SageSandbox

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w+)\s*$")


@dataclass(frozen=True)
class Block:
    where: str  # "docs/pagination.md:7": the file and the line of its opening fence
    language: str
    code: str


def blocks(language: str) -> list[Block]:
    found = []
    for document in DOCUMENTS:
        lines = document.read_text(encoding="utf-8").splitlines()
        index = 0
        while index < len(lines):
            opening = FENCE.match(lines[index])
            if opening:
                end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
                if opening.group(1) == language:
                    where = f"{document.relative_to(ROOT)}:{index + 1}"
                    found.append(Block(where, language, "\n".join(lines[index + 1 : end]) + "\n"))
                index = end
            index += 1
    return found


PYTHON_BLOCKS = blocks("python")
SH_BLOCKS = blocks("sh")

# Python blocks that cannot run here: (file, a line of the block that is the reason, reason).
# Each marker must still be in exactly one python block of its file, so a reason cannot go stale.
SKIPPED: list[tuple[str, str, str]] = [
    ("docs/examples.md", '--8<-- "examples/oauth_web_app.py"',
     "an include of examples/oauth_web_app.py (a Flask web server), run by tests/test_examples.py"),
    ("docs/examples.md", '--8<-- "examples/export_invoices_csv.py"',
     "an include of examples/export_invoices_csv.py, run by tests/test_examples.py"),
    ("docs/examples.md", '--8<-- "examples/error_handling.py"',
     "an include of examples/error_handling.py, run by tests/test_examples.py"),
    ("README.md", 'bookkeeper = for_agent(client, "policy.toml", "bookkeeper")',
     "needs a policy.toml with agents' keys and an approval flow (tests/test_agents_*.py)"),
    ("README.md", 'RedisTokenStore("redis://redis:6379/0"',
     "needs Redis at the host redis (tests/test_scale_*.py run a real one)"),
    ("docs/sync.md", 'to="postgresql://app:secret@db/books"',
     "needs PostgreSQL at the host db (the sync tests run a real one)"),
]  # fmt: skip


def skipped_reason(block: Block) -> str | None:
    document = block.where.rsplit(":", 1)[0]
    return next((r for f, marker, r in SKIPPED if f == document and marker in block.code), None)


def test_the_blocks_are_found_and_the_skip_list_is_true() -> None:
    assert len(PYTHON_BLOCKS) >= 15, [b.where for b in PYTHON_BLOCKS]
    for document, marker, reason in SKIPPED:
        holding = [b.where for b in PYTHON_BLOCKS if b.where.startswith(document + ":")
                   and marker in b.code]  # fmt: skip
        assert len(holding) == 1, f"{document}: {marker!r} ({reason}) is in {holding}"
    for include in ("oauth_web_app", "export_invoices_csv", "error_handling"):
        assert f"{include}.py" in (ROOT / "tests/test_examples.py").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def sage() -> Iterator[SageSandbox]:
    with SageSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sage: SageSandbox) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "downloads").mkdir()
    monkeypatch.setenv("SAGE_BASE_URL", sage.base_url)  # how a user points the SDK at a sandbox
    return tmp_path


def names_from_the_page(sage: SageSandbox, is_async: bool) -> dict[str, Any]:
    """What a fragment's page introduces in prose: a client, a session, a first-poll cursor."""
    seen: dict[str, list[Any]] = {"upserted": [], "deleted": []}
    client: Any = sage.async_client() if is_async else sage.client()
    return {
        "__name__": "docs_example",
        "client": client,
        "session": OAuthSession(
            app := sage.oauth_app(), tokens=TokenSet.from_response(sage.issue_tokens(), app.clock())
        ),
        "cursor": None,
        "upsert": seen["upserted"].append,
        "delete": seen["deleted"].append,
        "_seen": seen,
    }


def run_python(code: str, where: str, namespace: dict[str, Any]) -> None:
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    compiled = compile(code, where, "exec", flags=flags)
    if inspect.CO_COROUTINE & compiled.co_flags:

        async def main() -> None:
            try:
                await eval(compiled, namespace)  # noqa: S307
            finally:
                await namespace["client"].close()

        asyncio.run(main())
    else:
        exec(compiled, namespace)  # noqa: S102


def oauth_app_on(sage: SageSandbox) -> Any:
    """OAuthApp with its Sage-host defaults (authorize, token, revoke URLs) on the sandbox."""
    return functools.partial(
        sage_accounting.OAuthApp, authorize_url=sage.authorize_url, token_url=sage.token_url,
        revoke_url=sage.revoke_url,
    )  # fmt: skip


def run_oauth(code: str, where: str, sage: SageSandbox, namespace: dict[str, Any]) -> None:
    """Up to the redirect, then the browser's part (follow the URL, take the callback), then on."""
    lines = code.splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if "redirect" in line and line.startswith("#"))
    before, after = "".join(lines[:cut]), "".join(lines[cut:])
    tree = ast.parse(before)
    imports: list[ast.stmt] = [
        node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
    ]
    rest = [node for node in tree.body if node not in imports]
    for part in (imports, rest):
        exec(compile(ast.Module(part, []), where, "exec"), namespace)  # noqa: S102
        namespace["OAuthApp"] = oauth_app_on(sage)  # after the block's import, its Sage host
    flow = namespace.get("flow") or namespace["request"]
    answer = httpx.get(flow.url, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    namespace["callback_url"] = answer.headers["location"]
    exec(compile("\n" * cut + after, where, "exec"), namespace)  # noqa: S102


def run_pytest_file(code: str, tmp: Path) -> None:
    """A block of tests, run as a user runs them: pytest, with the sandbox plugin installed."""
    (tmp / "test_from_docs.py").write_text(code, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
         str(tmp / "test_from_docs.py")],
        cwd=tmp, capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("SAGE_")},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


RUNNABLE = [block for block in PYTHON_BLOCKS if skipped_reason(block) is None]


@pytest.mark.parametrize("block", RUNNABLE, ids=[block.where for block in RUNNABLE])
def test_the_python_example_runs_as_written(block: Block, sage: SageSandbox, in_tmp: Path) -> None:
    code = fill_placeholders(block.code, sage)
    if re.search(r"^def test_", code, re.M):
        run_pytest_file(code, in_tmp)
        return
    is_async = "async " in code or "await " in code
    namespace = names_from_the_page(sage, is_async)
    if "OAuthApp(" in code:
        run_oauth(code, block.where, sage, namespace)
        client = namespace["client"]
        assert isinstance(client, SageAccounting)
        assert client.contacts.list().first_page().total  # the grant works
        assert (in_tmp / "tokens.json").exists()
        return
    run_python(code, block.where, namespace)
    if "invoice" in namespace and "release" in code:
        invoice = sage.records("sales_invoices")[namespace["invoice"].id]
        assert invoice["status"]["id"] == "UNPAID"
    if "changes(" in code:
        assert namespace["_seen"]["upserted"] and namespace["cursor"] is not None
    if "write_to" in code:
        assert (in_tmp / "downloads" / "invoice.pdf").read_bytes() == b"%PDF-1.4 demo"


# sh lines that cannot run here, by how they begin: (pattern, reason). Each must still match a line.
SH_SKIPPED: list[tuple[str, str]] = [
    (r"make ", "a maintainer's command on this repository (the suite itself, the docs build)"),
    (r"pip install", "installs from PyPI: the test runs in the installed environment"),
    (r"sudo ", "creates a system user: not on a test machine"),
    (r"flask ", "a web server, run by tests/test_examples.py"),
    (r"sage-accounting login", "a browser login (tests/test_cli_login.py drives it)"),
    (r"python -m sage_accounting.testing", "starts a sandbox server that runs until stopped"),
    (r"(SAGE_AGENT_KEY=\S+ )?sage-accounting mcp", "an MCP server that runs until stopped"),
    (
        r"(SAGE_APPROVER_KEY=\S+ )?sage-accounting (agents|audit) ",
        "needs a policy.toml with agents' keys and an audit log (tests/test_agents_cli.py)",
    ),
    (r"python examples/\S+ .*--token-file", "needs the web app's token file (a real login)"),
    (r"export SAGE_CLIENT_ID", "an OAuth app's registration, for `login` (skipped above)"),
    (r"sage-accounting sync --to postgresql://", "needs PostgreSQL at the host db"),
    (
        r"sage-accounting sync --all-businesses --to postgresql://",
        "needs PostgreSQL and a lease database",
    ),
    (
        r"sage-accounting logout",
        "would revoke the module's one sandbox grant; tests/test_cli_login.py",
    ),
]


def sh_lines() -> list[tuple[str, str]]:
    """Every command of the sh blocks (continuations joined), with its block's place."""
    found = []
    for block in SH_BLOCKS:
        joined = block.code.replace("\\\n", " ")
        for line in joined.splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                found.append((block.where, line.strip()))
    return found


def skip_reason(line: str) -> str | None:
    return next((reason for pattern, reason in SH_SKIPPED if re.match(pattern, line)), None)


def test_every_sh_skip_still_matches_a_line() -> None:
    lines = [line for _, line in sh_lines()]
    for pattern, reason in SH_SKIPPED:
        assert any(re.match(pattern, line) for line in lines), f"{pattern!r} ({reason}) is stale"


def test_the_sh_examples_run_as_written(sage: SageSandbox, tmp_path: Path) -> None:
    """Each self-contained command, in order, through a shell as a user types it."""
    bin_dir = Path(sys.executable).parent
    (tmp_path / "examples").symlink_to(ROOT / "examples")  # `python examples/...` from the repo
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAGE_")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["SAGE_CONFIG_DIR"] = str(tmp_path / "config")
    documented = {  # what `export SAGE_...=...` lines stand for, from the sandbox
        "SAGE_ACCESS_TOKEN": sage.access_token,
        "SAGE_BUSINESS_ID": sage.lead_business,
        "SAGE_BASE_URL": sage.base_url,
    }
    contact = next(iter(sage.records("contacts")))
    ran = []
    for where, line in sh_lines():
        if skip_reason(line):
            continue
        if line.startswith("export "):
            for name, _ in re.findall(r"(SAGE_\w+)=(\S+)", line):
                env[name] = documented[name]
            continue
        command = line.replace("4f7c...", contact).replace("7e2a...", sage.lead_business)
        command = command.replace("CONTACT_ID", contact)
        command = command.replace("91c0...", sage.state.businesses[1])
        command = re.sub(
            r"^python ", present(shutil.which("python", path=str(bin_dir))) + " ", command
        )
        env.setdefault("SAGE_ACCESS_TOKEN", sage.access_token)
        env.setdefault("SAGE_BASE_URL", sage.base_url)
        result = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, f"{where}: {line}\n{result.stdout}\n{result.stderr}"
        ran.append(line)
    assert len(ran) >= 12, ran
    assert (tmp_path / "unpaid.csv").read_text(encoding="utf-8").startswith("id")
