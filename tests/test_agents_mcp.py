"""The MCP server, driven by the real ``mcp`` client session over stdio and streamable HTTP,
against the fake Sage server."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from click.testing import CliRunner
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from sage_accounting import FileTokenStore, TokenSet
from sage_accounting.agents import load_policy, verify
from sage_accounting.agents.cli import agents, audit
from sage_accounting.agents.policy import hash_key
from sage_accounting.agents.tools import agent_tools

BOOKKEEPER_KEY = "sk-agent-bookkeeper-test"
READER_KEY = "sk-agent-reader-test"
TIMEOUT = 60


@pytest.fixture
def policy_file(fake_sage: Any, tmp_path: Path) -> Path:
    FileTokenStore(tmp_path / "tokens.json").save(
        TokenSet.from_response(fake_sage.issue_tokens(), time.time())
    )
    path = tmp_path / "policy.toml"
    path.write_text(f"""
[businesses]
"biz-lead" = "Business One"
"biz-second" = "Business Two"

[audit]
path = "audit.sqlite"

[sage]
base_url = "{fake_sage.base_url}"
token_url = "{fake_sage.token_url}"
token_store = "tokens.json"
client_id = "{fake_sage.state.client_id}"

[agents.bookkeeper]
name = "Bookkeeping Agent"
businesses = ["biz-lead"]
areas = {{ Sales = "write", Contacts = "read" }}
tools = ["contacts", "sales_invoices"]
approval = {{ over_amount = "1000.00" }}
key_sha256 = "{hash_key(BOOKKEEPER_KEY)}"

[agents.reader]
name = "Reader"
businesses = "all"
areas = {{ Contacts = "read" }}
budget = {{ per_minute = 3 }}
meta_tools = false
key_sha256 = "{hash_key(READER_KEY)}"
""")
    return path


def server_env(fake_sage: Any, **extra: str) -> dict[str, str]:
    return {"SAGE_CLIENT_SECRET": fake_sage.state.client_secret, **extra}


@asynccontextmanager
async def stdio_session(policy: Path, env: dict[str, str]) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "sage_accounting.agents", "mcp", "--policy", str(policy)],
        env=env,
    )
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write, read_timeout_seconds=TIMEOUT) as session:
            await session.initialize()
            yield session


def result_of(answer: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(answer.content[0].text)
    return data


def audit_records(policy: Path) -> list[dict[str, Any]]:
    out = CliRunner().invoke(audit, ["show", "--policy", str(policy), "--json"]).output
    return [json.loads(line) for line in out.splitlines()]


async def test_stdio_tools_calls_denials_approval_and_audit(
    fake_sage: Any, policy_file: Path
) -> None:
    fake_sage.seed("contacts", 30)
    expected = {t.name for t in agent_tools(load_policy(policy_file).agent("bookkeeper"))}
    env = server_env(fake_sage, SAGE_AGENT_KEY=BOOKKEEPER_KEY)
    async with stdio_session(policy_file, env) as session:
        names = {t.name for t in (await session.list_tools()).tools}
        assert names == expected
        assert {"contacts.list", "sales_invoices.create", "search_operations"} <= names
        assert "contacts.delete" not in names and "sales_invoices.delete" not in names

        # An allowed list reaches the fake, one page at a time, with a cursor to read on.
        page = result_of(await session.call_tool("contacts.list", {"items_per_page": 20}))
        assert len(page["items"]) == 20 and page["total"] == 30 and page["next_cursor"]
        rest = result_of(await session.call_tool("contacts.list", {"cursor": page["next_cursor"]}))
        assert len(rest["items"]) == 10 and rest["next_cursor"] is None
        assert fake_sage.count("GET /contacts") == 2

        # A denied operation is not a tool; called through the meta-tool it is refused, unsent.
        answer = await session.call_tool(
            "call_operation", {"name": "contacts.delete", "arguments": {"key": "con00000001"}}
        )
        assert answer.is_error
        assert "Contacts: read only; deleting needs full" in result_of(answer)["error"]
        assert fake_sage.count("DELETE /contacts/con00000001") == 0

        # Its one business only.
        answer = await session.call_tool("contacts.list", {"business_id": "biz-second"})
        assert answer.is_error and "not biz-second" in result_of(answer)["error"]
        assert all(business != "biz-second" for _m, _p, business in fake_sage.state.requests)

        # A write over the amount: preview and approval id; approved; runs exactly once.
        line = {"description": "Work", "ledger_account_id": "led1", "unit_price": "1500.00"}
        invoice = {"contact_id": "con1", "date": "2026-11-23", "invoice_lines": [line],
                   "total_amount": "1500.00"}  # fmt: skip
        waiting = result_of(
            await session.call_tool("sales_invoices.create", {"sales_invoice": invoice})
        )
        assert waiting["status"] == "awaiting approval"
        assert waiting["preview"]["body"]["sales_invoice"]["total_amount"] == "1500.00"
        approval_id = waiting["approval_id"]
        assert fake_sage.count("POST /sales_invoices") == 0
        early = await session.call_tool("sales_invoices.create", {"approval_id": approval_id})
        assert early.is_error and "is pending, not approved" in result_of(early)["error"]
        approved = CliRunner().invoke(
            agents, ["approve", approval_id, "--policy", str(policy_file)]
        )
        assert approved.exit_code == 0, approved.output
        done = result_of(
            await session.call_tool("sales_invoices.create", {"approval_id": approval_id})
        )
        assert done["status"] == 201
        again = await session.call_tool("sales_invoices.create", {"approval_id": approval_id})
        assert again.is_error and "executed" in result_of(again)["error"]
        assert len(fake_sage.records("sales_invoices")) == 1

        found = result_of(await session.call_tool("search_operations", {"query": "invoice"}))
        assert "sales_invoices.create" in [o["name"] for o in found["operations"]]

    records = audit_records(policy_file)
    decisions = [r["decision"] for r in records]
    assert decisions == ["allowed", "allowed", "denied", "denied", "awaiting approval",
                         "approved", "allowed"]  # fmt: skip
    assert records[2]["summary"] == (
        "Bookkeeping Agent tried to delete contact con00000001 in Business One: denied"
    )
    assert "1,500.00" in records[-1]["summary"]
    assert "approved by a person" in records[-1]["reason"]
    verified = CliRunner().invoke(audit, ["verify", "--policy", str(policy_file)])
    assert verified.exit_code == 0 and "7 records, chain intact" in verified.output
    db = policy_file.parent / "audit.sqlite"
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE audit SET summary = 'nothing happened' WHERE seq = 3")
    broken = CliRunner().invoke(audit, ["verify", "--db", str(db)])
    assert broken.exit_code == 1 and "record 3 was edited" in broken.output
    assert verify(db) == ["record 3 was edited after it was written"]


async def test_stdio_refuses_an_unknown_key(fake_sage: Any, policy_file: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sage_accounting.agents", "mcp", "--policy", str(policy_file)],
        env={**server_env(fake_sage, SAGE_AGENT_KEY="wrong"), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 1
    assert "SAGE_AGENT_KEY holds no agent's key" in done.stderr


@pytest.fixture
def http_server(fake_sage: Any, policy_file: Path) -> Iterator[str]:
    import os

    process = subprocess.Popen(
        [sys.executable, "-m", "sage_accounting.agents", "mcp", "--policy", str(policy_file),
         "--http", "--port", "0"],
        env={**os.environ, **server_env(fake_sage)}, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("serving MCP on "), line
        url = line.split()[-1]
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:  # until uvicorn accepts connections
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=TIMEOUT)


@asynccontextmanager
async def http_session(url: str, key: str) -> AsyncIterator[ClientSession]:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx2.AsyncClient(headers=headers, timeout=TIMEOUT) as http:
        async with streamable_http_client(url, http_client=http) as (read, write, *_):
            async with ClientSession(read, write, read_timeout_seconds=TIMEOUT) as session:
                await session.initialize()
                yield session


async def test_http_serves_each_agent_its_own_tools_by_key(
    fake_sage: Any, policy_file: Path, http_server: str
) -> None:
    policy = load_policy(policy_file)
    async with http_session(http_server, READER_KEY) as reader:
        names = {t.name for t in (await reader.list_tools()).tools}
        assert names == {t.name for t in agent_tools(policy.agent("reader"))}
        assert "contacts.get" in names and "search_operations" not in names
        assert "contacts.create" not in names and "sales_invoices.list" not in names
        # All businesses: the second one too.
        answer = await reader.call_tool("contacts.list", {"business_id": "biz-second"})
        assert not answer.is_error, answer.content
        # The budget of 3 calls a minute trips on the fourth, which is not sent.
        for _ in range(2):
            assert not (await reader.call_tool("contacts.list", {})).is_error
        tripped = await reader.call_tool("contacts.list", {})
        assert tripped.is_error and "budget of 3 calls a minute" in result_of(tripped)["error"]
        assert fake_sage.count("GET /contacts") == 3
    async with http_session(http_server, BOOKKEEPER_KEY) as bookkeeper:
        names = {t.name for t in (await bookkeeper.list_tools()).tools}
        assert names == {t.name for t in agent_tools(policy.agent("bookkeeper"))}
        assert "sales_invoices.create" in names


async def test_http_refuses_a_wrong_key_with_401(http_server: str) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    for headers in ({"Authorization": "Bearer not-a-key"}, {}):
        answer = httpx.post(http_server, json=body, headers=headers, timeout=TIMEOUT)
        assert answer.status_code == 401
