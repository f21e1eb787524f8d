"""for_agent(client, ...): every request checked before it is sent, every decision audited."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from sage_accounting import AsyncSageAccounting, SageAccounting, SageError
from sage_accounting.agents import (
    AccessDenied,
    ApprovalRequired,
    ApprovalStore,
    BudgetExceeded,
    MemoryAuditSink,
    flush_audit,
    for_agent,
    parse_policy,
    verify,
)
from sage_accounting.agents.signing import new_key, sign
from sage_accounting.testing import Fault

POLICY = """
[businesses]
"biz-lead" = "Business One"
"biz-second" = "Business Two"

[agents.bookkeeper]
name = "Bookkeeping Agent"
businesses = ["biz-lead"]
areas = { Sales = "write", Contacts = "read" }
approval = { over_amount = "1000.00" }

[agents.counter]
name = "Counter"
businesses = "all"
areas = { Contacts = "read" }
budget = { per_minute = 3 }
"""


def invoice(total: str, contact: str = "con1") -> dict[str, Any]:
    line = {"description": "Work", "ledger_account_id": "led1", "unit_price": total}
    return {"contact_id": contact, "date": "2026-11-23", "invoice_lines": [line],
            "total_amount": total}  # fmt: skip


@pytest.fixture
def client(fake_sage: Any) -> Any:
    tokens = fake_sage.issue_tokens()
    with SageAccounting(access_token=tokens["access_token"], base_url=fake_sage.base_url) as c:
        yield c


def test_an_allowed_call_reaches_sage_and_is_audited(fake_sage: Any, client: Any) -> None:
    fake_sage.seed("contacts", 2)
    audit = MemoryAuditSink()
    agent = for_agent(client, parse_policy(POLICY), "bookkeeper", audit=audit)
    assert agent.business_id == "biz-lead"  # its only business, chosen for it
    assert len(list(agent.contacts.list())) == 2
    assert fake_sage.count("GET /contacts") == 1
    (record,) = audit.records
    assert record.decision == "allowed" and record.status == 200
    assert record.request_id and record.duration_ms is not None
    assert record.summary == "Bookkeeping Agent listed contacts in Business One: allowed"
    assert record.business_name == "Business One"


def test_a_denied_call_sends_nothing_and_says_why(fake_sage: Any, client: Any) -> None:
    audit = MemoryAuditSink()
    agent = for_agent(client, parse_policy(POLICY), "bookkeeper", audit=audit)
    with pytest.raises(AccessDenied) as caught:
        agent.contacts.delete("con00000001")
    assert isinstance(caught.value, SageError)
    assert "Contacts: read only; deleting needs full" in str(caught.value)
    assert fake_sage.count("DELETE /contacts/con00000001") == 0
    (record,) = audit.records
    assert record.decision == "denied" and record.status is None
    assert record.target_id == "con00000001"
    assert record.summary == (
        "Bookkeeping Agent tried to delete contact con00000001 in Business One: denied"
    )


def test_another_business_is_refused_however_it_is_named(fake_sage: Any, client: Any) -> None:
    agent = for_agent(client, parse_policy(POLICY), "bookkeeper", audit=MemoryAuditSink())
    with pytest.raises(AccessDenied, match="may act on biz-lead only, not biz-second"):
        agent.with_business("biz-second").contacts.list().first_page()
    with pytest.raises(AccessDenied, match="not biz-second"):
        agent.contacts.get("x", business_id="biz-second")
    with pytest.raises(AccessDenied, match="not biz-second"):
        agent.with_options(timeout=5).with_business("biz-second").sales_invoices.get("x")
    assert fake_sage.state.requests == []


def test_later_pages_and_budgets_go_through_the_guard(fake_sage: Any, client: Any) -> None:
    fake_sage.seed("contacts", 25)
    audit = MemoryAuditSink()
    agent = for_agent(client, parse_policy(POLICY), "counter", audit=audit)
    pages = agent.contacts.list(items_per_page=10).pages()
    assert len(next(pages).items) == 10
    assert len(next(pages).items) == 10
    assert len(next(pages).items) == 5  # three requests: the budget of 3 a minute is used
    with pytest.raises(BudgetExceeded, match="budget of 3 calls a minute used"):
        agent.contacts.get("con00000001")
    assert fake_sage.count("GET /contacts") == 3
    assert [r.decision for r in audit.records] == ["allowed"] * 3 + ["denied"]


async def test_the_async_client_is_checked_the_same_way(fake_sage: Any) -> None:
    tokens = fake_sage.issue_tokens()
    audit = MemoryAuditSink()
    async with AsyncSageAccounting(
        access_token=tokens["access_token"], base_url=fake_sage.base_url
    ) as client:
        agent = for_agent(client, parse_policy(POLICY), "bookkeeper", audit=audit)
        await agent.contacts.list().first_page()
        with pytest.raises(AccessDenied):
            await agent.contacts.delete("con00000001")
    assert [r.decision for r in audit.records] == ["allowed", "denied"]
    assert fake_sage.count("DELETE /contacts/con00000001") == 0


def test_sage_refusing_for_the_users_role_is_recorded_as_such(fake_sage: Any, client: Any) -> None:
    fake_sage.inject(Fault(status=403, data_code="MultiUserAccessDenied", path="/contacts"))
    audit = MemoryAuditSink()
    agent = for_agent(client, parse_policy(POLICY), "bookkeeper", audit=audit)
    with pytest.raises(SageError):
        agent.contacts.list().first_page()
    (record,) = audit.records
    assert record.decision == "failed" and record.status == 403
    assert "the authorizing user's role in Sage denies this, not the agent's policy" in (
        record.reason
    )


def test_a_write_over_the_amount_waits_for_a_person_then_runs_once(
    fake_sage: Any, client: Any
) -> None:
    audit = MemoryAuditSink()
    approvals = ApprovalStore()
    agent = for_agent(client, parse_policy(POLICY), "bookkeeper", audit=audit, approvals=approvals)
    body = invoice("1200.00")
    with pytest.raises(ApprovalRequired) as caught:
        agent.sales_invoices.create(sales_invoice=body)
    waiting = caught.value
    assert "a total of at least 1200.00 is over the approval amount 1000.00" in str(waiting)
    assert waiting.preview["body"]["sales_invoice"]["total_amount"] == "1200.00"
    assert fake_sage.count("POST /sales_invoices") == 0
    with pytest.raises(ApprovalRequired):  # not approved yet: still waiting, same id
        agent.sales_invoices.create(sales_invoice=body, idempotency_id=waiting.idempotency_id)
    assert approvals.decide(waiting.approval_id, True, by="test")  # unsigned: not honoured
    with pytest.raises(ApprovalRequired):
        agent.sales_invoices.create(sales_invoice=body, idempotency_id=waiting.idempotency_id)
    assert fake_sage.count("POST /sales_invoices") == 0
    private, public = new_key()
    policy = parse_policy(POLICY + f'\n[approvers.ann]\nname = "Ann"\npublic_key = "{public}"\n')
    agent = for_agent(client, policy, "bookkeeper", audit=audit, approvals=approvals)
    with pytest.raises(ApprovalRequired) as caught:
        agent.sales_invoices.create(sales_invoice=body, idempotency_id=waiting.idempotency_id)
    waiting = caught.value
    pending = approvals.get(waiting.approval_id)
    assert pending is not None
    assert approvals.decide(pending.id, True, "ann", sign(private, pending.signed_text()))
    created = agent.sales_invoices.create(sales_invoice=body, idempotency_id=waiting.idempotency_id)
    assert created.total_amount == Decimal("1200.00")
    assert len(fake_sage.records("sales_invoices")) == 1
    with pytest.raises(ApprovalRequired):  # approved once: the same request waits again
        agent.sales_invoices.create(sales_invoice=body, idempotency_id=waiting.idempotency_id)
    assert len(fake_sage.records("sales_invoices")) == 1
    decisions = [r.decision for r in audit.records]
    assert decisions == ["awaiting approval"] * 4 + ["sending", "allowed", "awaiting approval"]
    assert audit.records[5].summary.startswith("Bookkeeping Agent created sales invoice ")
    assert audit.records[5].summary.endswith(", 1,200.00 GBP, in Business One: allowed")
    assert audit.records[5].reason.endswith(f"approved by Ann (ann) ({waiting.approval_id})")


def test_a_python_callback_can_approve_or_reject(fake_sage: Any, client: Any) -> None:
    seen: list[Any] = []

    def approver(write: Any) -> bool:
        seen.append(write)
        return write.preview["body"]["sales_invoice"]["total_amount"] == "2000.00"

    audit = MemoryAuditSink()
    agent = for_agent(client, parse_policy(POLICY), "bookkeeper", audit=audit, approver=approver)
    with pytest.raises(AccessDenied, match="a person rejected it"):
        agent.sales_invoices.create(sales_invoice=invoice("1500.00"))
    agent.sales_invoices.create(sales_invoice=invoice("2000.00"))
    assert len(seen) == 2 and len(fake_sage.records("sales_invoices")) == 1
    assert [r.decision for r in audit.records] == [
        "rejected", "denied", "approved", "sending", "allowed"
    ]  # fmt: skip


def test_the_audit_chain_shows_an_edited_or_deleted_record(
    fake_sage: Any, client: Any, tmp_path: Path
) -> None:
    db = tmp_path / "audit.sqlite"
    agent = for_agent(client, parse_policy(POLICY), "bookkeeper", audit=db)
    agent.contacts.list().first_page()
    for _ in range(2):
        with pytest.raises(AccessDenied):
            agent.contacts.delete("con1")
    flush_audit(agent)  # the SQLite sink writes on its own thread
    assert verify(db) == []
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE audit SET decision = 'allowed' WHERE seq = 2")
    assert verify(db) == ["record 2 was edited after it was written"]
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM audit WHERE seq = 2")
    problems = verify(db)
    assert "record 2 to 2 deleted" in problems
    assert "record 3: the record before it was changed or deleted" in problems


def test_a_head_noted_earlier_shows_the_log_cut_back(
    fake_sage: Any, client: Any, tmp_path: Path
) -> None:
    """Deleting the newest records leaves a chain that is whole: only a head noted before (an
    anchor kept elsewhere: a ticket, a monitoring system) can show it."""
    from click.testing import CliRunner

    from sage_accounting.agents import head
    from sage_accounting.agents.cli import audit as audit_cli

    db = tmp_path / "audit.sqlite"
    agent = for_agent(client, parse_policy(POLICY), "bookkeeper", audit=db)
    for _ in range(3):
        with pytest.raises(AccessDenied):
            agent.contacts.delete("con1")
    flush_audit(agent)
    noted = head(db)
    assert noted is not None and noted.startswith("3:")
    out = CliRunner().invoke(audit_cli, ["verify", "--db", str(db)])
    assert out.exit_code == 0 and f"head {noted}" in out.output
    assert verify(db, expect_head=noted) == []
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM audit WHERE seq = 3")
    assert verify(db) == []  # the two left are a whole chain
    assert verify(db, expect_head=noted) == [
        f"record 3 (head {noted}, noted earlier) is gone: the log was cut back"
    ]
    cut = CliRunner().invoke(audit_cli, ["verify", "--db", str(db), "--expect-head", noted])
    assert cut.exit_code == 1 and "the log was cut back" in cut.output
    wrong = CliRunner().invoke(audit_cli, ["verify", "--db", str(db), "--expect-head", "3"])
    assert wrong.exit_code == 2 and "not a head" in wrong.output
    assert verify(db, expect_head="2:" + "0" * 64) == [
        f"record 2 is not the one noted earlier (head 2:{'0' * 64}): the log was rewritten"
    ]


def test_no_secret_reaches_the_audit_log(fake_sage: Any, tmp_path: Path) -> None:
    tokens = fake_sage.issue_tokens()
    db = tmp_path / "audit.sqlite"
    with SageAccounting(access_token=tokens["access_token"], base_url=fake_sage.base_url) as c:
        agent = for_agent(c, parse_policy(POLICY), "bookkeeper", audit=db)
        agent.sales_invoices.create(sales_invoice=invoice("10.00"))
        flush_audit(agent)
    dump = "\n".join(sqlite3.connect(db).iterdump())
    assert tokens["access_token"] not in dump
    assert "contact_id" not in dump  # no body, only the summary


def test_change_feeds_go_through_the_guard(fake_sage: Any, client: Any) -> None:
    import datetime as dt

    fake_sage.seed("contacts", 2)
    audit = MemoryAuditSink()
    policy = parse_policy(POLICY + '\n[agents.blind]\nareas = { Bank = "read" }\n')
    since = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    reader = for_agent(client, policy, "counter", audit=audit)
    assert len(list(reader.contacts.changes(since=since))) == 2  # upserts, then deletions
    assert {r.decision for r in audit.records} == {"allowed"}
    sent = fake_sage.count("GET /contacts")
    blind = for_agent(client, policy, "blind", audit=audit)
    with pytest.raises(AccessDenied, match="Contacts: no access"):
        list(blind.contacts.changes(since=since))
    assert fake_sage.count("GET /contacts") == sent
