"""The MCP server, driven by the real ``mcp`` client session over stdio and streamable HTTP,
against the fake Sage server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp_http import http_session, mcp_over_http

from sage_accounting import FileTokenStore, TokenSet
from sage_accounting.agents import for_agent, load_policy, verify
from sage_accounting.agents.cli import agents, audit
from sage_accounting.agents.policy import hash_key
from sage_accounting.agents.signing import new_key
from sage_accounting.agents.tools import agent_tools

BOOKKEEPER_KEY = "sk-agent-bookkeeper-test"
APPROVER_KEY, APPROVER_PUBLIC = new_key()
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

[approvers.alice]
name = "Alice Finance"
public_key = "{APPROVER_PUBLIC}"

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
        assert {"contacts_list", "sales_invoices_create", "search_operations"} <= names
        assert "contacts_delete" not in names and "sales_invoices_delete" not in names

        # An allowed list reaches the fake, one page at a time, with a cursor to read on.
        page = result_of(await session.call_tool("contacts_list", {"items_per_page": 20}))
        assert len(page["items"]) == 20 and page["total"] == 30 and page["next_cursor"]
        rest = result_of(await session.call_tool("contacts_list", {"cursor": page["next_cursor"]}))
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
        answer = await session.call_tool("contacts_list", {"business_id": "biz-second"})
        assert answer.is_error and "not biz-second" in result_of(answer)["error"]
        assert all(business != "biz-second" for _m, _p, business in fake_sage.state.requests)

        # A write over the amount: preview and approval id; approved; runs exactly once.
        line = {"description": "Work", "ledger_account_id": "led1", "unit_price": "1500.00"}
        invoice = {"contact_id": "con1", "date": "2026-11-23", "invoice_lines": [line],
                   "total_amount": "1500.00"}  # fmt: skip
        waiting = result_of(
            await session.call_tool("sales_invoices_create", {"sales_invoice": invoice})
        )
        assert waiting["status"] == "awaiting approval"
        assert waiting["preview"]["body"]["sales_invoice"]["total_amount"] == "1500.00"
        approval_id = waiting["approval_id"]
        assert fake_sage.count("POST /sales_invoices") == 0
        early = await session.call_tool("sales_invoices_create", {"approval_id": approval_id})
        assert early.is_error and "is pending, not approved" in result_of(early)["error"]
        assert "sage-accounting" not in waiting["message"]  # nothing says how to approve
        assert "approve " not in waiting["message"].lower()
        approved = CliRunner().invoke(
            agents, ["approve", approval_id, "--policy", str(policy_file)],
            env={"SAGE_APPROVER_KEY": APPROVER_KEY},
        )  # fmt: skip
        assert approved.exit_code == 0, approved.output
        done = result_of(
            await session.call_tool("sales_invoices_create", {"approval_id": approval_id})
        )
        assert done["status"] == 201
        again = await session.call_tool("sales_invoices_create", {"approval_id": approval_id})
        assert again.is_error and "executed" in result_of(again)["error"]
        assert len(fake_sage.records("sales_invoices")) == 1

        found = result_of(await session.call_tool("search_operations", {"query": "invoice"}))
        assert "sales_invoices_create" in [o["name"] for o in found["operations"]]

    records = audit_records(policy_file)
    decisions = [r["decision"] for r in records]
    assert decisions == ["allowed", "allowed", "denied", "denied", "awaiting approval",
                         "approved", "sending", "allowed"]  # fmt: skip
    assert records[2]["summary"] == (
        "Bookkeeping Agent tried to delete contact con00000001 in Business One: denied"
    )
    assert "1,500.00" in records[-1]["summary"]
    assert "approved by Alice Finance (alice)" in records[-1]["reason"]
    verified = CliRunner().invoke(audit, ["verify", "--policy", str(policy_file)])
    assert verified.exit_code == 0 and "8 records, chain intact" in verified.output
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
    assert done.returncode == 2  # a policy error: a usage error, one line
    assert "SAGE_AGENT_KEY holds no agent's key" in done.stderr


@pytest.fixture
def http_server(fake_sage: Any, policy_file: Path) -> Iterator[str]:
    with mcp_over_http(policy_file, server_env(fake_sage)) as url:
        yield url


async def test_http_serves_each_agent_its_own_tools_by_key(
    fake_sage: Any, policy_file: Path, http_server: str
) -> None:
    policy = load_policy(policy_file)
    async with http_session(http_server, READER_KEY) as reader:
        names = {t.name for t in (await reader.list_tools()).tools}
        assert names == {t.name for t in agent_tools(policy.agent("reader"))}
        assert "contacts_get" in names and "search_operations" not in names
        assert "contacts_create" not in names and "sales_invoices_list" not in names
        # All businesses: the second one too.
        answer = await reader.call_tool("contacts_list", {"business_id": "biz-second"})
        assert not answer.is_error, answer.content
        # The budget of 3 calls a minute trips on the fourth, which is not sent.
        for _ in range(2):
            assert not (await reader.call_tool("contacts_list", {})).is_error
        tripped = await reader.call_tool("contacts_list", {})
        assert tripped.is_error and "budget of 3 calls a minute" in result_of(tripped)["error"]
        assert fake_sage.count("GET /contacts") == 3
    async with http_session(http_server, BOOKKEEPER_KEY) as bookkeeper:
        names = {t.name for t in (await bookkeeper.list_tools()).tools}
        assert names == {t.name for t in agent_tools(policy.agent("bookkeeper"))}
        assert "sales_invoices_create" in names


async def test_http_refuses_a_wrong_key_with_401(http_server: str) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    for headers in ({"Authorization": "Bearer not-a-key"}, {}):
        answer = httpx.post(http_server, json=body, headers=headers, timeout=TIMEOUT)
        assert answer.status_code == 401


TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")  # what Claude, OpenAI, Gemini and Cursor accept


async def test_tool_arguments_are_checked_against_the_operation_before_sending(
    fake_sage: Any, policy_file: Path
) -> None:
    env = server_env(fake_sage, SAGE_AGENT_KEY=BOOKKEEPER_KEY)
    line = {"description": "Work", "ledger_account_id": "led1", "unit_price": "10.00"}
    good = {"contact_id": "con1", "date": "2026-11-23", "invoice_lines": [line]}
    async with stdio_session(policy_file, env) as session:
        cases: list[tuple[str, dict[str, Any], str]] = [
            ("sales_invoices_create", {"sales_invoice": "an invoice"}, "sales_invoice"),
            ("sales_invoices_create", {"sales_invoice": {**good, "colour": "red"}}, "colour"),
            ("sales_invoices_create", {"sales_invoice": {"date": "2026-11-23"}}, "contact_id"),
            ("sales_invoices_create", {"sales_invoice": {**good, "date": 5}}, "date"),
            ("contacts_get", {}, "key is required"),
            ("contacts_get", {"key": 5}, "key must be a non-empty string"),
            ("contacts_get", {"key": ""}, "key must be a non-empty string"),
            ("contacts_list", {"items_per_page": 1e300}, "items_per_page"),
            ("contacts_list", {"items_per_page": "lots"}, "items_per_page"),
            ("contacts_list", {"colour": "red"}, "unknown argument 'colour'"),
            ("call_operation", {"name": "contacts_get", "arguments": {}}, "key is required"),
            ("call_operation", {"name": "contacts_get", "arguments": []}, "must be an object"),
            ("search_operations", {"query": 5}, "query must be"),
            # Another area through an id, or headers the token travels with: refused.
            ("contacts_get", {"key": "../bank_accounts"}, "dot segments and slashes"),
            ("contacts_get", {"key": ".."}, "is not an id"),
            (
                "contacts_list",
                {"extra_headers": {"X-HTTP-Method-Override": "DELETE"}},
                "unknown argument 'extra_headers'",
            ),
            # A total over the approval amount, however it is split, waits (not an error).
        ]
        for name, arguments, words in cases:
            answer = await session.call_tool(name, arguments)
            assert answer.is_error, (name, arguments, answer.content)
            assert words in result_of(answer)["error"], (name, arguments, answer.content)
        # Left out of tools = ["contacts", "sales_invoices"]: not callable by its name; the
        # meta-tool reaches it (the policy permits it).
        answer = await session.call_tool("sales_quotes_list", {})
        assert answer.is_error and "is not one of" in result_of(answer)["error"]
        reached = await session.call_tool("call_operation", {"name": "sales_quotes_list"})
        assert not reached.is_error, reached.content
        split = {**good, "invoice_lines": [{**line, "unit_price": "900.00"}] * 10}
        for body in (split, {**good, "invoice_lines": [{**line, "quantity": "1000"}]}):
            waiting = result_of(await session.call_tool("call_operation", {
                "name": "sales_invoices_create", "arguments": {"sales_invoice": body}}))  # fmt: skip
            assert waiting.get("status") == "awaiting approval", waiting
            assert "a total of at least" in waiting["message"]
        # An amount the request model cannot read never reaches the guard, let alone Sage.
        unreadable = {**good, "invoice_lines": [{**line, "unit_price": "1,500.00"}]}
        answer = await session.call_tool("sales_invoices_create", {"sales_invoice": unreadable})
        assert answer.is_error and "unit_price" in result_of(answer)["error"]
    assert fake_sage.count("POST /sales_invoices") == 0
    assert fake_sage.count("GET /contacts") == 0
    assert fake_sage.count("GET /sales_quotes") == 1
    mode = (policy_file.parent / "audit.sqlite").stat().st_mode & 0o777
    assert mode == 0o600


def test_the_server_refuses_a_policy_value_that_means_something_else(
    fake_sage: Any, policy_file: Path
) -> None:
    text = policy_file.read_text()
    for bad, message in (
        ("meta_tools = false", 'meta_tools = "false"'),
        (f'key_sha256 = "{hash_key(READER_KEY)}"', "key_sha256 = 123"),
    ):
        policy_file.write_text(text.replace(bad, message))
        done = subprocess.run(
            [sys.executable, "-m", "sage_accounting.agents", "mcp", "--policy", str(policy_file)],
            env={**server_env(fake_sage, SAGE_AGENT_KEY=READER_KEY), "PATH": "/usr/bin:/bin"},
            capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert done.returncode == 2, done
        assert f"{policy_file}:" in done.stderr and "Traceback" not in done.stderr
    policy_file.write_bytes(text.encode() + b"\n# caf\xe9\n")
    done = subprocess.run(
        [sys.executable, "-m", "sage_accounting.agents", "mcp", "--policy", str(policy_file)],
        env={**server_env(fake_sage, SAGE_AGENT_KEY=READER_KEY), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 2 and "not UTF-8" in done.stderr and "Traceback" not in done.stderr


async def test_an_overflowing_number_is_a_tool_error_not_a_protocol_error() -> None:
    from sage_accounting import AsyncSageAccounting
    from sage_accounting.agents import MemoryAuditSink, parse_policy
    from sage_accounting.agents.runner import Runner

    policy = parse_policy('[agents.r]\nareas = { Contacts = "read" }\n')
    client = AsyncSageAccounting(access_token="t", base_url="http://127.0.0.1:9")
    runner = Runner(for_agent(client, policy, "r", audit=MemoryAuditSink()), policy.agent("r"))
    for value in (float("inf"), float("nan"), 1.0):
        result, is_error = await runner.call("contacts_list", {"items_per_page": value})
        assert is_error and "invalid arguments: items_per_page" in result["error"], result
    result, is_error = await runner.call("contacts_list", [])  # not even an object
    assert is_error and "arguments must be an object" in result["error"]


async def test_tools_have_portable_names_annotations_and_typed_meta_tools(
    fake_sage: Any, policy_file: Path
) -> None:
    env = server_env(fake_sage, SAGE_AGENT_KEY=BOOKKEEPER_KEY)
    async with stdio_session(policy_file, env) as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert all(TOOL_NAME.fullmatch(name) for name in tools), sorted(tools)
        hints = {
            name: (t.annotations.read_only_hint, t.annotations.destructive_hint,
                   t.annotations.idempotent_hint, t.annotations.open_world_hint)
            for name, t in tools.items() if t.annotations
        }  # fmt: skip
        assert len(hints) == len(tools)
        assert hints["contacts_list"] == (True, False, True, True)
        assert hints["sales_invoices_create"] == (False, False, False, True)
        assert hints["sales_invoices_update"] == (False, True, True, True)
        assert hints["search_operations"] == (True, False, True, False)
        call = tools["call_operation"].input_schema
        assert "sales_quotes_list" in call["properties"]["name"]["enum"]
        assert "contacts_delete" not in call["properties"]["name"]["enum"]
        assert call["properties"]["arguments"]["type"] == "object"
        found = result_of(await session.call_tool("search_operations", {"query": "contact"}))
        (get,) = [o for o in found["operations"] if o["name"] == "contacts_get"]
        assert get["parameters"]["required"] == ["key"]
        assert "show_balance" in get["parameters"]["properties"]


async def test_a_restarted_server_keeps_counting_the_budget(
    fake_sage: Any, policy_file: Path
) -> None:
    fake_sage.seed("contacts", 1)
    env = server_env(fake_sage, SAGE_AGENT_KEY=READER_KEY)
    for _ in range(2):  # two servers one after the other: 2 + 1 calls on a budget of 3
        async with stdio_session(policy_file, env) as session:
            assert not (await session.call_tool("contacts_list", {})).is_error
    async with stdio_session(policy_file, env) as session:
        assert not (await session.call_tool("contacts_list", {})).is_error
        tripped = await session.call_tool("contacts_list", {})
        assert tripped.is_error and "budget of 3 calls a minute" in result_of(tripped)["error"]
    assert fake_sage.count("GET /contacts") == 3


# -- the MCP Inspector (npm), as a client other than the Python SDK ------------------------------

ROOT = Path(__file__).resolve().parents[1]
INSPECTOR = Path(os.environ.get("SAGE_MCP_INSPECTOR_DIR") or ROOT / "build" / "inspector")


def inspector(*args: str, tool_error: bool = False) -> Any:
    """The Inspector's CLI (``make inspector`` installs it, with the Node it needs); its JSON."""
    node, cli = INSPECTOR / "node_modules/.bin/node", INSPECTOR / "node_modules/.bin/mcp-inspector"
    if not cli.exists():
        if os.environ.get("SAGE_REQUIRE_INSPECTOR"):
            pytest.fail(f"the MCP Inspector is not installed in {INSPECTOR}: run `make inspector`")
        pytest.skip(f"the MCP Inspector is not installed in {INSPECTOR} (`make inspector`)")
    done = subprocess.run(
        [str(node if node.exists() else "node"), str(cli), "--cli", *args],
        capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    # It exits 5 when the tool answered isError (and prints the answer all the same).
    assert done.returncode == (5 if tool_error else 0), done.stderr + done.stdout
    return json.loads(done.stdout)


def test_the_inspector_checks_the_server_over_stdio(fake_sage: Any, policy_file: Path) -> None:
    fake_sage.seed("contacts", 2)
    variables = server_env(fake_sage, SAGE_AGENT_KEY=READER_KEY)
    env = [part for k, v in variables.items() for part in ("-e", f"{k}={v}")]
    server = [*env, sys.executable, "-m", "sage_accounting.agents", "mcp", "--policy",
              str(policy_file)]  # fmt: skip
    listed = inspector(*server, "--method", "tools/list")
    tools = {t["name"]: t for t in listed["tools"]}
    assert set(tools) == {t.name for t in agent_tools(load_policy(policy_file).agent("reader"))}
    assert tools["contacts_list"]["annotations"] == {
        "readOnlyHint": True, "destructiveHint": False, "idempotentHint": True,
        "openWorldHint": True,
    }  # fmt: skip
    called = inspector(*server, "--method", "tools/call", "--tool-name", "contacts_list")
    assert not called.get("isError"), called
    assert len(json.loads(called["content"][0]["text"])["items"]) == 2
    refused = inspector(*server, "--method", "tools/call", "--tool-name", "contacts_get",
                        tool_error=True)  # fmt: skip
    assert refused["isError"] and "key is required" in refused["content"][0]["text"]


def test_the_inspector_checks_the_server_over_http(http_server: str) -> None:
    auth = ["--transport", "http", "--header", f"Authorization: Bearer {BOOKKEEPER_KEY}"]
    listed = inspector(http_server, *auth, "--method", "tools/list")
    names = {t["name"] for t in listed["tools"]}
    assert {"contacts_list", "sales_invoices_create", "call_operation"} <= names
    call = next(t for t in listed["tools"] if t["name"] == "call_operation")
    assert call["inputSchema"]["properties"]["name"]["enum"]
    found = inspector(http_server, *auth, "--method", "tools/call", "--tool-name",
                      "search_operations", "--tool-arg", "query=invoice")  # fmt: skip
    operations = json.loads(found["content"][0]["text"])["operations"]
    assert any(o["name"] == "sales_invoices_create" and o["parameters"] for o in operations)
