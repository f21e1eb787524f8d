"""MCP servers on several hosts serving one policy: one grant refreshed once, one budget, one
quota, all in a shared Redis (`agents mcp --tokens/--quota/--budgets`), against the sandbox.
Each server is its own process, as on its own host (own audit database)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from mcp_http import http_session, mcp_over_http

from sage_accounting import TokenSet
from sage_accounting.agents.cli import mcp
from sage_accounting.agents.policy import hash_key
from sage_accounting.scale import token_store_at

READER_KEY = "sk-agent-reader-shared"


def policy_on(fake_sage: Any, folder: Path) -> Path:
    """The policy, with no token file: the grant lives in the shared store."""
    folder.mkdir()
    path = folder / "policy.toml"
    path.write_text(f"""
[businesses]
"biz-lead" = "Business One"

[audit]
path = "audit.sqlite"

[sage]
base_url = "{fake_sage.base_url}"
token_url = "{fake_sage.token_url}"
client_id = "{fake_sage.state.client_id}"

[agents.reader]
name = "Reader"
businesses = ["biz-lead"]
areas = {{ Contacts = "read" }}
budget = {{ per_minute = 3 }}
key_sha256 = "{hash_key(READER_KEY)}"
""")
    return path


def error_of(answer: Any) -> str:
    return str(json.loads(answer.content[0].text).get("error", ""))


@pytest.mark.parametrize("kind", ["redis", "sqlite", "postgres"])
async def test_servers_on_two_hosts_share_one_grant_one_budget_and_one_quota(
    fake_sage: Any, tmp_path: Path, request: pytest.FixtureRequest, kind: str
) -> None:
    """On each store --tokens/--quota/--budgets take (SQLite: servers of one host)."""
    url = (
        f"sqlite:///{tmp_path / 'shared.db'}"
        if kind == "sqlite"
        else str(request.getfixturevalue(f"{kind}_url"))
    )
    fake_sage.seed("contacts", 2)
    # The grant, its access token already stale: both servers need a refresh at once.
    token_store_at(url, "books").save(
        TokenSet.from_response(fake_sage.issue_tokens(expires_in=1), time.time() - 60)
    )
    shared = ["--tokens", url, "--grant", "books", "--quota", url, "--budgets", url]
    host_a, host_b = policy_on(fake_sage, tmp_path / "a"), policy_on(fake_sage, tmp_path / "b")
    env = {"SAGE_CLIENT_SECRET": fake_sage.state.client_secret}
    with mcp_over_http(host_a, env, *shared) as url_a, mcp_over_http(host_b, env, *shared) as url_b:
        async with http_session(url_a, READER_KEY) as on_a, http_session(url_b, READER_KEY) as on_b:
            first = await asyncio.gather(
                on_a.call_tool("contacts_list", {}), on_b.call_tool("contacts_list", {})
            )
            assert [answer.is_error for answer in first] == [False, False], first
            assert not (await on_a.call_tool("contacts_list", {})).is_error
            # The budget of 3 a minute is the agent's, whichever host it calls.
            tripped = await on_b.call_tool("contacts_list", {})
            assert tripped.is_error and "budget of 3 calls a minute" in error_of(tripped)
    assert fake_sage.count("GET /contacts") == 3  # the fourth was never sent
    counts = fake_sage.state.counts
    assert counts["rotation"] == 1 and counts["grant killed"] == 0  # refreshed once, alive
    # The rotated pair is in the shared store, where the next server takes it.
    stored = token_store_at(url, "books").load()
    assert stored is not None and stored.refresh_token in fake_sage.state.refresh_tokens
    assert stored.refresh_token not in fake_sage.state.used_refresh_tokens
    # Each host kept its own audit log of what it did (two records on each).
    assert (tmp_path / "a" / "audit.sqlite").exists() and (tmp_path / "b" / "audit.sqlite").exists()


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["--tokens", "tokens.json"], "Invalid value for --tokens: is not a store's URL"),
        (["--budgets", "localhost:6379"], "Invalid value for --budgets: is not a store's URL"),
        (["--quota", "mysql://u@h/db"], "Invalid value for --quota"),
    ],
)
def test_a_store_option_that_names_no_store_is_one_line_before_serving(
    fake_sage: Any, tmp_path: Path, options: list[str], said: str
) -> None:
    policy = policy_on(fake_sage, tmp_path / "p")
    done = CliRunner().invoke(mcp, ["--policy", str(policy), *options])
    assert done.exit_code == 2, done.output
    assert said in done.output and "Traceback" not in done.output


def test_an_empty_shared_store_says_how_to_fill_it(
    fake_sage: Any, redis_url: str, tmp_path: Path
) -> None:
    policy = policy_on(fake_sage, tmp_path / "p")
    done = CliRunner().invoke(mcp, ["--policy", str(policy), "--tokens", redis_url, "--grant", "x"])
    assert done.exit_code == 3, done.output  # not logged in (cli/exit_codes.py)
    assert "holds no tokens for grant 'x'" in done.output and "--tokens-from-login" in done.output


@pytest.mark.parametrize("over", [[], ["--http", "--port", "0"]])
def test_without_a_token_file_or_a_shared_store_the_policy_is_refused(
    fake_sage: Any, tmp_path: Path, over: list[str]
) -> None:
    policy = policy_on(fake_sage, tmp_path / "p")
    done = CliRunner(env={"SAGE_AGENT_KEY": READER_KEY}).invoke(
        mcp, ["--policy", str(policy), *over]
    )
    assert done.exit_code == 2  # the policy is wrong: a usage error
    assert "[sage] token_store (or a shared store, --tokens) is needed" in done.output
    assert "serving MCP" not in done.output  # never announced


def test_an_unreachable_shared_store_is_one_line_with_the_exit_code_of_its_kind(
    fake_sage: Any, tmp_path: Path
) -> None:
    policy = policy_on(fake_sage, tmp_path / "p")
    done = subprocess.run(
        [sys.executable, "-m", "sage_accounting.agents", "mcp", "--policy", str(policy), "--http",
         "--tokens", "redis://:hunter2@127.0.0.1:1/0"],
        env={**os.environ, "SAGE_CLIENT_SECRET": "s"}, capture_output=True, text=True,
        timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr  # a token store's failure: as the main command
    assert done.stderr.startswith("error: ") and "cannot read the tokens" in done.stderr
    assert "Traceback" not in done.stderr and "hunter2" not in done.stderr
    assert "serving MCP" not in done.stdout


@pytest.mark.parametrize("key", ["base_url", "token_url"])
def test_an_empty_endpoint_in_the_policy_is_refused_not_taken_for_sages(
    fake_sage: Any, tmp_path: Path, key: str
) -> None:
    """``base_url = ""`` meant Sage's production API with the sandbox's grant."""
    policy = policy_on(fake_sage, tmp_path / "p")
    text = policy.read_text()
    start = text.index(f"{key} = ")
    policy.write_text(text[:start] + f'{key} = ""' + text[text.index("\n", start) :])
    done = CliRunner(env={"SAGE_AGENT_KEY": READER_KEY, "SAGE_CLIENT_SECRET": "s"}).invoke(
        mcp, ["--policy", str(policy), "--http", "--port", "0"]
    )
    assert done.exit_code == 2, done.output
    assert f"[sage] {key} is empty" in done.output and "serving MCP" not in done.output
