"""The agent boundary attacked over the Python client (``for_agent``): amounts, approvals,
paths, budgets, the audit and the policy file. The MCP side is in test_agents_mcp.py."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sage_accounting import SageAccounting, SageError
from sage_accounting._runtime import all_operations
from sage_accounting.agents import (
    AccessDenied,
    ApprovalRequired,
    ApprovalStore,
    AuditError,
    BudgetExceeded,
    MemoryAuditSink,
    PolicyError,
    SQLiteAuditSink,
    flush_audit,
    for_agent,
    parse_policy,
    verify,
)
from sage_accounting.agents.audit import read_records
from sage_accounting.agents.cli import agents as agents_cli
from sage_accounting.agents.cli import audit as audit_cli
from sage_accounting.agents.policy import hash_key
from sage_accounting.agents.signing import new_key
from sage_accounting.testing import Fault

APPROVER_KEY, APPROVER_PUBLIC = new_key()

POLICY = f"""
[businesses]
"biz-lead" = "Business One"

[approvers.alice]
name = "Alice Finance"
public_key = "{APPROVER_PUBLIC}"

[agents.bookkeeper]
name = "Bookkeeping Agent"
businesses = ["biz-lead"]
areas = {{ Sales = "write", Contacts = "write" }}
approval = {{ over_amount = "1000.00" }}

[agents.reader]
name = "Reader"
businesses = ["biz-lead"]
areas = {{ Contacts = "read" }}
budget = {{ per_minute = 2 }}
"""

OPS = all_operations()


@pytest.fixture
def client(fake_sage: Any) -> Any:
    tokens = fake_sage.issue_tokens()
    with SageAccounting(access_token=tokens["access_token"], base_url=fake_sage.base_url) as c:
        yield c


def line(price: Any, quantity: Any = None, **more: Any) -> dict[str, Any]:
    found = {"description": "Work", "ledger_account_id": "led1", "unit_price": price, **more}
    if quantity is not None:
        found["quantity"] = quantity
    return found


def invoice(*lines: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"contact_id": "con1", "date": "2026-11-23", "invoice_lines": list(lines), **more}


def raw_create(agent: Any, body: dict[str, Any]) -> Any:
    """The public prepare/send path, without the request model (what the guard must still see)."""
    request = agent.prepare(OPS["postSalesInvoices"], body=body)
    return agent.send(request)


# -- 1. amounts: a conservative total, fail closed -----------------------------------------------


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (invoice(line("999.00", "1000")), "total of at least 999000.00"),
        (invoice(*[line("900.00") for _ in range(10)]), "total of at least 9000.00"),
        (invoice(line("600.00"), line("600.00")), "total of at least 1200.00"),
        (invoice(line("800.00", tax_amount="300.00")), "total of at least 1100.00"),
        (invoice(line("900.00"), shipping_net_amount="50.00", shipping_tax_amount="60.00"),
         "total of at least 1010.00"),
        (invoice(line("10.00"), total_amount="5000.00"), "total of at least 5000.00"),
        (invoice(line("950.00"), tax_amount="100.00"), "total of at least 1050.00"),
    ],
)  # fmt: skip
def test_a_total_over_the_amount_waits_however_it_is_split(
    fake_sage: Any, client: Any, body: dict[str, Any], why: str
) -> None:
    agent = for_agent(client, parse_policy(POLICY), "bookkeeper", audit=MemoryAuditSink())
    with pytest.raises(ApprovalRequired) as caught:
        agent.sales_invoices.create(sales_invoice=body)
    assert why in str(caught.value) and "over the approval amount 1000.00" in str(caught.value)
    assert fake_sage.count("POST /sales_invoices") == 0


@pytest.mark.parametrize("amount", ["1,500.00", "£1500", "1500abc", "NaN", "Infinity", True, {}])
def test_an_amount_that_cannot_be_read_waits_for_a_person(
    fake_sage: Any, client: Any, amount: Any
) -> None:
    agent = for_agent(client, parse_policy(POLICY), "bookkeeper", audit=MemoryAuditSink())
    with pytest.raises(ApprovalRequired, match="cannot be read as an amount"):
        raw_create(agent, {"sales_invoice": invoice(line(amount))})
    with pytest.raises(ApprovalRequired, match="cannot be read as an amount"):
        raw_create(agent, {"sales_invoice": invoice(line("1.00", quantity=amount))})
    assert fake_sage.count("POST /sales_invoices") == 0


def test_a_total_under_the_amount_is_sent(fake_sage: Any, client: Any) -> None:
    agent = for_agent(client, parse_policy(POLICY), "bookkeeper", audit=MemoryAuditSink())
    agent.sales_invoices.create(sales_invoice=invoice(line("90.00", "10"), line("-50.00")))
    assert fake_sage.count("POST /sales_invoices") == 1


@pytest.mark.parametrize(
    ("value", "message"),
    [('"0"', "must be positive"), ('"-5"', "must be positive"), ('"NaN"', "must be finite"),
     ('"Infinity"', "must be finite"), ("1000.5", "write it as a string")],
)  # fmt: skip
def test_over_amount_must_be_a_finite_positive_amount(value: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(f"[agents.a]\napproval = {{ over_amount = {value} }}\n")


# -- 2. approvals need an approver's credential --------------------------------------------------


def written_policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY + '\n[audit]\npath = "audit.sqlite"\n')
    return path


def test_approving_needs_an_approvers_key_and_records_who(
    fake_sage: Any, client: Any, tmp_path: Path
) -> None:
    policy = written_policy(tmp_path)
    agent = for_agent(client, policy, "bookkeeper")
    with pytest.raises(ApprovalRequired) as caught:
        agent.sales_invoices.create(sales_invoice=invoice(line("1500.00")))
    waiting = caught.value
    # Nothing the agent reads says how to approve.
    assert "approve " not in str(waiting).lower() and "sage-accounting" not in str(waiting)
    runner = CliRunner()
    args = ["approve", waiting.approval_id, "--policy", str(policy)]
    other_key, _public = new_key()  # a well-formed key that is not the policy's approver's
    for env in ({}, {"SAGE_APPROVER_KEY": "sk-guess"}, {"SAGE_APPROVER_KEY": other_key}):
        refused = runner.invoke(agents_cli, args, env={"USER": "alice", **env})
        assert refused.exit_code != 0 and "approver" in refused.output, refused.output
    still = ApprovalStore(tmp_path / "audit.sqlite").get(waiting.approval_id)
    assert still is not None and still.status == "pending"
    approved = runner.invoke(agents_cli, args, env={"SAGE_APPROVER_KEY": APPROVER_KEY})
    assert approved.exit_code == 0, approved.output
    stored = ApprovalStore(tmp_path / "audit.sqlite").get(waiting.approval_id)
    assert stored is not None and stored.decided_by == "alice"
    created = agent.sales_invoices.create(
        sales_invoice=invoice(line("1500.00")), idempotency_id=waiting.idempotency_id
    )
    assert created.id
    flush_audit(agent)
    records = [r for _s, r in read_records(tmp_path / "audit.sqlite")]
    (decision,) = [r for r in records if r.decision == "approved"]
    assert decision.summary.startswith("Alice Finance (alice) approved Bookkeeping Agent's")
    assert "approved by Alice Finance (alice)" in records[-1].reason


def test_an_approval_written_into_the_database_is_not_honoured(
    fake_sage: Any, client: Any, tmp_path: Path
) -> None:
    """Write access to the database is not a credential: an approval must name one of the
    policy's approvers, and be signed with that approver's key."""
    policy = written_policy(tmp_path)
    agent = for_agent(client, policy, "bookkeeper")
    with pytest.raises(ApprovalRequired) as caught:
        agent.sales_invoices.create(sales_invoice=invoice(line("1500.00")))
    with sqlite3.connect(tmp_path / "audit.sqlite") as db:
        db.execute(
            "UPDATE approvals SET status = 'approved', decided_by = 'alice' WHERE id = ?",
            (caught.value.approval_id,),
        )
    with pytest.raises(ApprovalRequired):
        agent.sales_invoices.create(
            sales_invoice=invoice(line("1500.00")), idempotency_id=caught.value.idempotency_id
        )
    assert fake_sage.count("POST /sales_invoices") == 0


def test_an_approvers_public_key_must_be_one_and_their_own() -> None:
    with pytest.raises(PolicyError, match=r"<policy>:2: public_key of approver 'a' must be"):
        parse_policy('[approvers.a]\npublic_key = "abc"\n[agents.b]\n')
    with pytest.raises(PolicyError, match=r"<policy>:4: public_key of approver 'b' is also"):
        parse_policy(
            f'[approvers.a]\npublic_key = "{APPROVER_PUBLIC}"\n'
            f'[approvers.b]\npublic_key = "{APPROVER_PUBLIC}"\n[agents.c]\n'
        )


# -- 3. admission checks the request, not only the operation -------------------------------------


@pytest.mark.parametrize(
    "tail",
    ["/bank_accounts", "/contacts/../bank_accounts", "/contacts/%2e%2e/bank_accounts",
     "/contacts/./con1", "/contacts/%2E/x", "/contacts/a/b", "/contacts/con1?_method=DELETE",
     "/contacts/con1?attributes=all&extra=1"],
)  # fmt: skip
def test_a_request_sent_elsewhere_than_its_operation_is_refused(
    fake_sage: Any, client: Any, tail: str
) -> None:
    audit = MemoryAuditSink()
    agent = for_agent(client, parse_policy(POLICY), "reader", audit=audit)
    request = agent.prepare(OPS["getContactsKey"], path={"key": "con1"})
    with pytest.raises(AccessDenied, match="not a request of"):
        agent.send(request.with_url(agent.base_url + tail))
    assert fake_sage.state.requests == []
    (record,) = audit.records
    assert record.decision == "denied" and record.path == tail.split("?")[0]


def test_a_next_link_to_another_path_is_refused(fake_sage: Any, client: Any) -> None:
    fake_sage.seed("contacts", 3)
    agent = for_agent(client, parse_policy(POLICY), "reader", audit=MemoryAuditSink())
    pager = agent.contacts.list(items_per_page=1)
    first = pager.first_page()
    assert first.items
    for link in ("/bank_accounts?page=2", "/contacts/../bank_accounts?page=2"):
        request = agent.prepare(OPS["getContacts"])
        with pytest.raises(AccessDenied, match="not a request of"):
            agent.send(request.with_url(agent.base_url + link))
    assert fake_sage.count("GET /bank_accounts") == 0


def test_an_operation_made_by_hand_is_refused(fake_sage: Any, client: Any) -> None:
    """The operation's id decides the policy; its method and path must be the SDK's."""
    audit = MemoryAuditSink()
    agent = for_agent(client, parse_policy(POLICY), "reader", audit=audit)
    forged = OPS["getContactsKey"]._replace(method="DELETE")
    with pytest.raises(AccessDenied, match="is not the SDK's operation getContactsKey"):
        agent.send(agent.prepare(forged, path={"key": "con1"}))
    request = agent.prepare(OPS["getContactsKey"], path={"key": "con1"})
    request.operation = OPS["getContactsKey"]._replace(path="/bank_accounts/{key}")
    with pytest.raises(AccessDenied, match="is not the SDK's operation"):
        agent.send(request.with_url(agent.base_url + "/bank_accounts/con1"))
    request = agent.prepare(OPS["getContactsKey"], path={"key": "con1"})
    request.headers["x-business"] = "biz-second"  # beside the X-Business checked
    with pytest.raises(AccessDenied, match="X-Business header"):
        agent.send(request)
    assert fake_sage.state.requests == []
    assert [r.decision for r in audit.records] == ["denied", "denied", "denied"]


def test_a_guarded_client_cannot_be_guarded_again(client: Any) -> None:
    policy = parse_policy(POLICY)
    agent = for_agent(client, policy, "reader", audit=MemoryAuditSink())
    with pytest.raises(AccessDenied, match="already acts as agent 'reader'"):
        for_agent(agent, policy, "bookkeeper")
    with pytest.raises(AccessDenied, match="already acts as agent 'reader'"):
        for_agent(agent.with_business("biz-lead"), policy, "reader")


# -- 5. budgets count attempts, shared, across restarts -------------------------------------------


def test_retries_count_against_the_budget(fake_sage: Any, client: Any) -> None:
    fake_sage.inject(Fault.server_error(503, times=30, path="/contacts"))
    agent = for_agent(client, parse_policy(POLICY), "reader", audit=MemoryAuditSink())
    with pytest.raises(BudgetExceeded, match="budget of 2 calls a minute"):
        agent.contacts.get("con1", max_retries=25)
    assert fake_sage.count("GET /contacts/con1") == 2


def test_every_copy_and_every_restart_shares_one_budget(
    fake_sage: Any, client: Any, tmp_path: Path
) -> None:
    fake_sage.seed("contacts", 1)
    db = tmp_path / "audit.sqlite"
    policy = parse_policy(POLICY)
    for_agent(client, policy, "reader", audit=db).contacts.list().first_page()
    for_agent(client, policy, "reader", audit=db).contacts.list().first_page()
    # A new process (a restarted server) reads the same store.
    script = (
        "import sys\nfrom sage_accounting import SageAccounting\n"
        "from sage_accounting.agents import parse_policy, BudgetExceeded, for_agent\n"
        f"c = SageAccounting(access_token='t', base_url={fake_sage.base_url!r})\n"
        f"a = for_agent(c, parse_policy({POLICY!r}), 'reader', audit={str(db)!r})\n"
        "try:\n    a.contacts.list().first_page()\nexcept BudgetExceeded as e:\n"
        "    print('refused:', e)\n"
    )
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert "refused:" in done.stdout and "budget of 2 calls a minute" in done.stdout, done
    assert fake_sage.count("GET /contacts") == 2


def test_copies_without_a_database_share_the_budget_in_the_process(client: Any) -> None:
    policy = parse_policy(POLICY)
    for _ in range(2):
        for_agent(client, policy, "reader", audit=MemoryAuditSink()).contacts.list().first_page()
    with pytest.raises(BudgetExceeded):
        for_agent(client, policy, "reader", audit=MemoryAuditSink()).contacts.list().first_page()


def test_agents_of_two_policies_on_one_shared_budget_store_count_apart(client: Any) -> None:
    """One Redis for several teams' servers: the "reader" of one policy (its own key) is not
    the "reader" of another, whose budget it must not spend; one policy's reader on two hosts
    (the same key) still counts once."""
    from sage_accounting._runtime import MemoryBackend

    shared = MemoryBackend()  # as a shared Redis would: one count for every caller
    budget = "budget = { per_minute = 2 }"
    team_a, team_b = (
        parse_policy(POLICY.replace(budget, f'{budget}\nkey_sha256 = "{hash_key(key)}"'))
        for key in ("sk-team-a", "sk-team-b")
    )
    for policy in (team_a, team_a, team_b, team_b):  # two calls each: each within its own 2
        for_agent(client, policy, "reader", audit=MemoryAuditSink(), budgets=shared
                  ).contacts.list().first_page()  # fmt: skip
    with pytest.raises(BudgetExceeded, match="budget of 2 calls a minute"):
        for_agent(client, team_a, "reader", audit=MemoryAuditSink(), budgets=shared
                  ).contacts.list().first_page()  # fmt: skip


# -- 6. the audit: intent before sending, strict verify, 0600, escaped output ---------------------


def test_a_write_is_recorded_before_it_is_sent(fake_sage: Any, client: Any, tmp_path: Path) -> None:
    """Read the log while the create is at Sage (the sandbox holds it for 0.5 s): its intent
    is already in the file, as it would be if the process were killed there."""
    import threading

    db = tmp_path / "audit.sqlite"
    agent = for_agent(client, parse_policy(POLICY), "bookkeeper", audit=db)
    fake_sage.inject(Fault.latency(0.5, path="/sales_invoices"))
    done = threading.Event()

    def create() -> None:
        with contextlib.suppress(SageError):
            agent.sales_invoices.create(sales_invoice=invoice(line("10.00")), max_retries=0)
        done.set()

    thread = threading.Thread(target=create)
    thread.start()
    while not done.is_set() and fake_sage.count("POST /sales_invoices") == 0:
        done.wait(0.01)
    while_at_sage = [r.decision for _s, r in read_records(db)]
    thread.join(30)
    assert not done.is_set() or while_at_sage, "the create finished before the log was read"
    assert while_at_sage == ["sending"]
    flush_audit(agent)
    assert [r.decision for _s, r in read_records(db)] == ["sending", "allowed"]


def test_a_process_killed_while_a_write_is_at_sage_leaves_its_record(
    fake_sage: Any, tmp_path: Path
) -> None:
    import signal
    import subprocess
    import sys
    import time

    db = tmp_path / "audit.sqlite"
    token = fake_sage.issue_tokens()["access_token"]
    fake_sage.inject(Fault.latency(5, path="/sales_invoices"))
    script = (
        "from sage_accounting import SageAccounting\n"
        "from sage_accounting.agents import parse_policy, for_agent\n"
        f"c = SageAccounting(access_token={token!r}, base_url={fake_sage.base_url!r})\n"
        f"a = for_agent(c, parse_policy({POLICY!r}), 'bookkeeper', audit={str(db)!r})\n"
        f"a.sales_invoices.create(sales_invoice={invoice(line('10.00'))!r})\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 30
    while fake_sage.count("POST /sales_invoices") == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    assert fake_sage.count("POST /sales_invoices") == 1
    (record,) = [r for _s, r in read_records(db)]
    assert record.decision == "sending" and record.operation_id == "postSalesInvoices"


@pytest.mark.parametrize("kind", ["missing", "empty", "not sqlite", "other table", "unreadable"])
def test_verify_refuses_what_is_not_an_audit_log(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "audit.sqlite"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "not sqlite":
        path.write_text("hello")
    elif kind == "other table":
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE other (x)")
    elif kind == "unreadable":
        SQLiteAuditSink(path).close()
        path.chmod(0)
    if kind == "unreadable" and os.geteuid() == 0:
        pytest.skip("root reads any file")
    with pytest.raises(AuditError, match=str(path)):
        verify(path)
    out = CliRunner().invoke(audit_cli, ["verify", "--db", str(path)])
    assert out.exit_code == 1 and "chain intact" not in out.output
    assert str(path) in out.output


def test_the_audit_database_and_its_journal_are_private(
    fake_sage: Any, client: Any, tmp_path: Path
) -> None:
    old = os.umask(0o022)
    try:
        db = tmp_path / "audit.sqlite"
        agent = for_agent(client, parse_policy(POLICY), "reader", audit=db)
        agent.contacts.list().first_page()
        flush_audit(agent)
    finally:
        os.umask(old)
    for name in ("audit.sqlite", "audit.sqlite-wal", "audit.sqlite-shm"):
        mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))


def test_audit_show_escapes_control_characters(fake_sage: Any, client: Any, tmp_path: Path) -> None:
    db = tmp_path / "audit.sqlite"
    agent = for_agent(client, parse_policy(POLICY), "bookkeeper", audit=db)
    agent.contacts.create(
        contact={"name": "Evil\x1b[2J\nLtd", "contact_type_ids": ["CUSTOMER"],
                 "reference": "R\x1b]0;owned\x07\n2026-01-01T00:00:00Z  allowed  200  fake"}
    )  # fmt: skip
    flush_audit(agent)
    out = CliRunner().invoke(audit_cli, ["show", "--db", str(db)]).output
    assert "\x1b" not in out and "\x07" not in out
    assert len(out.splitlines()) == 2  # sending, allowed: one line each
    assert "\\x1b" in out and "\\n" in out
    as_json = CliRunner().invoke(audit_cli, ["show", "--db", str(db), "--json"]).output
    assert "\x1b" not in as_json and "\x07" not in as_json
    records = [json.loads(line) for line in as_json.splitlines()]
    assert "Evil\x1b[2J\nLtd" in records[-1]["summary"]  # the same text, escaped as JSON


# -- 8. policy values that load but mean something else -------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[agents.a]\nmeta_tools = "false"\n', "<policy>:2: meta_tools of agent 'a' must be true or false"),
        ("[agents.a]\nkey_sha256 = 123\n", "<policy>:2: key_sha256 of agent 'a' must be 64 lowercase hex"),
        ('[agents.a]\nkey_sha256 = "ABC"\n', "<policy>:2: key_sha256 of agent 'a' must be 64 lowercase hex"),
        (f'[agents.a]\nkey_sha256 = "{"A" * 64}"\n', "must be 64 lowercase hex"),
        (f'[agents.a]\nkey_sha256 = "{"a" * 64}"\n[agents.b]\nkey_sha256 = "{"a" * 64}"\n',
         "<policy>:4: key_sha256 of agent 'b' is also agent 'a''s"),
        ('[agents.a]\nname = "Bad\\nName"\n', "<policy>:2: name of agent 'a' must be one line of text"),
        ('[agents.a]\nname = 5\n', "<policy>:2: name of agent 'a' must be one line of text"),
        ('[agents."a\\u0007"]\n', "agent name 'a\\x07' must be one line of text"),
        ('[businesses]\n"b1" = "One\\u001b"\n[agents.a]\n', "<policy>:2: business 'b1' must be one line"),
        ('[agents.a]\nbudget = { per_minute = true }\n', "<policy>:2: budgets are whole numbers"),
        ('[agents.a]\nareas = { Sales = 1 }\n', "has level 1"),
        ('[agents.a]\nallow = [1]\n', "<policy>:2: allow names unknown"),
        ('[agents.a]\ntools = "contacts"\n', "<policy>:2: tools of agent 'a' must be a list"),
        ('[agents.a]\napproval = { areas = "Bank" }\n', "<policy>:2: approval areas of agent 'a' must be a list"),
        ("[agents.a]\n[audit]\npath = 5\n", "<policy>:3: [audit] path must be a string"),
        ("[agents.a]\n[sage]\nbase_url = 5\n", "<policy>:3: [sage] base_url must be a string"),
    ],
)  # fmt: skip
def test_a_policy_value_of_the_wrong_type_is_refused_at_its_line(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    assert message in str(caught.value)


def test_a_policy_that_is_not_utf8_is_a_policy_error(tmp_path: Path) -> None:
    from sage_accounting.agents import load_policy

    path = tmp_path / "policy.toml"
    path.write_bytes(b'[agents.a]\nname = "caf\xe9"\n')
    with pytest.raises(PolicyError, match=rf"{path}:2: not UTF-8"):
        load_policy(path)
