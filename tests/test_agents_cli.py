"""The agents and audit commands on a real audit database, and the README's example policy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sage_accounting import SageAccounting
from sage_accounting.agents import (
    AccessDenied,
    ApprovalRequired,
    agent_tools,
    as_anthropic,
    as_gemini,
    as_openai,
    flush_audit,
    for_agent,
    parse_policy,
)
from sage_accounting.agents.cli import agents, audit
from sage_accounting.agents.policy import hash_key
from sage_accounting.agents.signing import new_key

ROOT = Path(__file__).resolve().parents[1]

APPROVER_KEY, APPROVER_PUBLIC = new_key()
POLICY = f"""
[businesses]
"biz-lead" = "Business One"

[approvers.alice]
name = "Alice"
public_key = "{APPROVER_PUBLIC}"

[audit]
path = "audit.sqlite"

[agents.writer]
name = "Writer"
businesses = ["biz-lead"]
areas = {{ Contacts = "write" }}
approval = {{ areas = ["Contacts"] }}

[agents.reader]
name = "Reader"
areas = {{ Contacts = "read" }}
"""


@pytest.fixture
def used_policy(fake_sage: Any, tmp_path: Path) -> tuple[Path, str]:
    """A policy whose agents made calls: allowed, denied, and one write awaiting approval."""
    path = tmp_path / "policy.toml"
    path.write_text(POLICY)
    token = fake_sage.issue_tokens()["access_token"]
    with SageAccounting(access_token=token, base_url=fake_sage.base_url) as client:
        reader = for_agent(client, path, "reader")
        reader.contacts.list().first_page()
        with pytest.raises(AccessDenied):
            reader.contacts.delete("con1")
        writer = for_agent(client, path, "writer")
        with pytest.raises(ApprovalRequired) as caught:
            writer.contacts.create(contact={"name": "Acme", "contact_type_ids": ["CUSTOMER"]})
        flush_audit(reader)
        flush_audit(writer)
    return path, caught.value.approval_id


def run(command: Any, *args: str) -> Any:
    return CliRunner().invoke(command, list(args), env={"SAGE_APPROVER_KEY": APPROVER_KEY})


def test_audit_show_filters_and_prints_a_table_or_json_lines(used_policy: tuple[Path, str]) -> None:
    policy, _ = used_policy
    table = run(audit, "show", "--policy", str(policy))
    assert table.exit_code == 0
    lines = table.output.splitlines()
    assert len(lines) == 3
    assert "allowed" in lines[0] and "200  Reader listed contacts in the lead business" in lines[0]
    denied = run(audit, "show", "--policy", str(policy), "--decision", "denied", "--json")
    (record,) = [json.loads(line) for line in denied.output.splitlines()]
    assert record["agent"] == "reader" and record["target_id"] == "con1"
    assert record["reason"] == "Contacts: read only; deleting needs full"
    by_agent = run(audit, "show", "--policy", str(policy), "--agent", "writer", "--json")
    (waiting,) = [json.loads(line) for line in by_agent.output.splitlines()]
    assert waiting["decision"] == "awaiting approval"
    assert waiting["business_name"] == "Business One"
    future = run(audit, "show", "--policy", str(policy), "--since", "2999-01-01T00:00:00Z")
    assert future.output == ""


def test_pending_approve_and_reject(fake_sage: Any, used_policy: tuple[Path, str]) -> None:
    policy, approval_id = used_policy
    pending = run(agents, "pending", "--policy", str(policy))
    assert approval_id in pending.output and "POST " in pending.output
    assert '"name": "Acme"' in pending.output
    rejected = run(agents, "reject", approval_id, "--policy", str(policy))
    assert rejected.exit_code == 0 and f"rejected {approval_id}" in rejected.output
    again = run(agents, "approve", approval_id, "--policy", str(policy))
    assert (
        again.exit_code == 1 and "no pending write" in again.output and "rejected" in again.output
    )
    assert run(agents, "pending", "--policy", str(policy)).output == ""
    shown = run(audit, "show", "--policy", str(policy), "--decision", "rejected", "--json")
    assert json.loads(shown.output)["operation_id"] == "postContacts"
    assert run(audit, "verify", "--policy", str(policy)).exit_code == 0
    assert fake_sage.count("POST /contacts") == 0


def test_key_prints_a_key_and_its_hash() -> None:
    out = run(agents, "key").output.splitlines()
    key = out[0].split()[-1]
    assert out[1] == f'key_sha256 = "{hash_key(key)}"'
    assert parse_policy(f"[agents.a]\n{out[1]}\n").agent_for_key(key) is not None


def test_verify_needs_a_database() -> None:
    result = run(audit, "verify")
    assert result.exit_code == 2 and "--db" in result.output


def test_function_calling_formats_carry_the_same_tools() -> None:
    agent = parse_policy('[agents.a]\nareas = { Contacts = "read" }\n').agent("a")
    tools = agent_tools(agent)
    openai = as_openai(tools)
    assert openai[0]["type"] == "function"
    assert openai[0]["function"]["name"] == tools[0].name.replace(".", "__")
    assert openai[0]["function"]["parameters"] == tools[0].input_schema
    anthropic = as_anthropic(tools)
    assert [t["name"] for t in anthropic] == [f["function"]["name"] for f in openai]
    gemini = as_gemini(tools)["function_declarations"]
    assert len(gemini) == len(tools)
    for tool in openai:
        assert len(tool["function"]["name"]) <= 64
        assert set(tool["function"]["name"]) <= set("abcdefghijklmnopqrstuvwxyz0123456789_-")


def test_the_readme_shows_the_example_policy_as_it_is() -> None:
    example = (ROOT / "examples" / "agents" / "policy.toml").read_text()
    assert f"```toml\n{example}```" in (ROOT / "README.md").read_text()
