"""Sage's wire facts have one home (``_runtime/wire.py``), read alike by the client, the apps and
the sandbox: a copy that disagrees shows here as a difference a user meets."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import httpx
import pytest
from policies import READER_POLICY

from sage_accounting import SageAccounting
from sage_accounting._runtime import wire
from sage_accounting.agents import MemoryAuditSink, for_agent, parse_policy

ROOT = Path(__file__).resolve().parents[1]
POLICY = READER_POLICY
EMPTY = {"$items": [], "$total": 0, "$page": 1, "$next": None, "$back": None}


@pytest.mark.parametrize("spelling", ["X-Request-Id", "x_request_id", "request-id"])
def test_the_audit_keeps_sages_request_id_in_every_spelling_the_client_reads(
    spelling: str,
) -> None:
    """Sage writes ``x_request_id`` (docs/sage-api-notes.md); the audit read only X-Request-Id,
    so the record that should let a person find the call at Sage had none."""

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"X-Business": "biz-lead", spelling: "req-42"}
        return httpx.Response(200, content=json.dumps(EMPTY).encode(), headers=headers)

    audit = MemoryAuditSink()
    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        client = SageAccounting(access_token="t", business_id="biz-lead", http_client=http)
        agent = for_agent(client, parse_policy(POLICY), "reader", audit=audit)
        raw = agent.contacts.with_raw_response.list()
    assert raw.request_id == "req-42"  # what the client reads ...
    (record,) = audit.records
    assert record.request_id == "req-42"  # ... is what the audit keeps


def test_timestamps_are_written_and_read_one_way() -> None:
    utc = dt.datetime(2026, 1, 31, 9, 30, tzinfo=dt.UTC)
    assert wire.format_timestamp(utc) == "2026-01-31T09:30:00Z"
    assert wire.format_timestamp(utc.timestamp()) == "2026-01-31T09:30:00Z"
    assert wire.format_timestamp(utc.replace(microsecond=5)) == "2026-01-31T09:30:00.000005Z"
    paris = dt.datetime(2026, 1, 31, 10, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert wire.format_timestamp(paris) == "2026-01-31T09:30:00Z"
    with pytest.raises(ValueError, match="no timezone"):
        wire.format_timestamp(dt.datetime(2026, 1, 31))
    for text in ("2026-01-31T09:30:00Z", "2026-01-31T09:30:00z", "2026-01-31T10:30:00+01:00"):
        assert wire.parse_timestamp(text) == utc, text
    assert wire.parse_timestamp(wire.format_timestamp(utc)) == utc
    assert wire.parse_timestamp("2026-01-31T09:30:00").tzinfo is None  # the caller's rule
    for garbage in ("", "yesterday", "2026-13-01T00:00:00Z", None, 12):
        with pytest.raises(ValueError):
            wire.parse_timestamp(garbage)  # type: ignore[arg-type]


def test_the_cli_and_the_sandbox_read_a_time_as_the_client_writes_it() -> None:
    from sage_accounting.cli._resources import parse_value
    from sage_accounting.testing._state import parse_time, timestamp

    utc = dt.datetime(2026, 1, 31, 9, 30, tzinfo=dt.UTC)
    written = wire.format_timestamp(utc)
    assert parse_value("datetime", written) == utc
    assert parse_value("datetime", written.lower().replace("t", "T")) == utc
    assert parse_time(written) == utc.timestamp()
    assert parse_time(written.replace("Z", "+00:00").replace("+", " ")) == utc.timestamp()
    assert timestamp(utc.timestamp()) == written
    with pytest.raises(ValueError, match="no time zone"):
        parse_value("datetime", "2026-01-31T09:30:00")


def test_only_the_users_paths_take_no_business() -> None:
    from sage_accounting._runtime import all_operations

    outside = {op.path for op in all_operations().values() if not wire.takes_business(op.path)}
    assert outside == {"/businesses", "/businesses/{key}", "/user"}
    assert wire.takes_business("/user_defined_things")  # a resource named like one, not one


def test_the_generator_and_the_runtime_agree_on_the_facts_both_hold() -> None:
    """The generator keeps what it needs in sage_rules.py (its diff and an up-to-date check run
    without the SDK): the two must not drift apart."""
    from sage_accounting._runtime import DEFAULT_BASE_URL
    from sage_codegen import sage_rules

    assert sage_rules.LIST_ENVELOPE_ITEMS == wire.ITEMS
    assert sage_rules.CHANGE_FEED_PARAMETERS == frozenset(wire.CHANGE_FEED_PARAMETERS)
    assert sage_rules.BODY_IDEMPOTENCY_FIELD == wire.IDEMPOTENCY_FIELD
    assert DEFAULT_BASE_URL == wire.API_ORIGIN + wire.API_VERSION_PATH


# Respellings of a wire fact outside its home, in the hand-written code (all of it, sync/ too).
RESPELLINGS = re.compile(
    r"""["'](\$items|\$total|\$page|\$next|\$back|\$itemsPerPage|\$items_per_page|X-Business|"""
    r"""x-business|x-request-id|x_request_id|Retry-After|retry-after|items_per_page|"""
    r"""updated_or_created_since|deleted_since)["']|%Y-%m-%dT%H"""
)


def test_no_wire_fact_is_spelt_twice() -> None:
    home = ROOT / "src/sage_accounting/_runtime/wire.py"
    found = []
    for path in sorted((ROOT / "src/sage_accounting").rglob("*.py")):
        if path == home:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if RESPELLINGS.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == [], "\n".join(found)
