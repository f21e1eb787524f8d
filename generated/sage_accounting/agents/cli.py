"""Click commands: ``agents`` (check, key, pending, approve, reject), ``audit`` (verify, show)
and ``mcp``. The ``sage-accounting`` console script adds ``COMMANDS``; ``python -m
sage_accounting.agents`` runs them on their own."""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import click

from ..cli._errors import EXIT_MISSING_EXTRA, EXIT_USAGE, CommandError
from . import levels, words
from .approvals import ApprovalStore
from .audit import AuditRecord, SQLiteAuditSink, head, read_records, verify
from .errors import PolicyError
from .policy import AgentPolicy, Policy, hash_key, load_policy, operations
from .tools import agent_tools


def _load(path: str) -> Policy:
    try:
        return load_policy(path)
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from None


def _db(policy: str | None, db: str | None) -> Path:
    if db:
        return Path(db)
    if policy:
        loaded = _load(policy)
        return loaded.audit_path or Path(policy).resolve().parent / "audit.sqlite"
    raise click.UsageError("name the audit database with --db or the policy with --policy")


F = TypeVar("F", bound=Callable[..., Any])


def where_stored(command: F) -> F:
    """--policy (its [audit] path) or --db: where the audit log and approvals are."""
    command = click.option("--db", type=click.Path(dir_okay=False), help="the audit database")(
        command
    )
    return click.option("--policy", type=click.Path(dir_okay=False))(command)


@click.group()
def agents() -> None:
    """AI agents' access to Sage: check a policy, approve waiting writes."""


@agents.command()
@click.argument("policy", type=click.Path(dir_okay=False))
def check(policy: str) -> None:
    """Print what each agent of POLICY may do, by area; exit 1 on a bad policy."""
    loaded = _load(policy)
    for agent in loaded.agents.values():
        click.echo(describe_agent(loaded, agent))


def describe_agent(policy: Policy, agent: AgentPolicy) -> str:
    ops = operations()
    lines = [f"{agent.name} ({agent.key})"]
    if agent.businesses is None:
        lines.append("  businesses: all of the authorizing user's")
    else:
        named = [f"{policy.businesses.get(b, b)} ({b})" for b in agent.businesses]
        lines.append(f"  businesses: {', '.join(named)}")
    if agent.per_minute is not None or agent.per_day is not None:
        parts = [f"{agent.per_minute} calls a minute" if agent.per_minute is not None else "",
                 f"{agent.per_day} calls a day" if agent.per_day is not None else ""]  # fmt: skip
        lines.append(f"  budget: {', '.join(p for p in parts if p)}")
    approval = [f"writes in {a}" for a in sorted(agent.approval_areas)]
    if agent.approval_over is not None:
        approval.append(f"writes with an amount over {agent.approval_over}")
    if approval:
        lines.append(f"  needs a person's approval for: {'; '.join(approval)}")
    grouped: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    permitted = agent.permitted()
    for op_id in permitted:
        op = ops[op_id]
        reason = agent.decide(op_id).reason
        area = reason.split(":")[0] if not reason.startswith("the policy") else "Allowed by name"
        grouped[area][op.resource.replace("_", " ")].append(op.name)
    for area in [*levels.AREAS, "Allowed by name"]:
        level = agent.areas.get(area)
        if area in grouped or level:
            heading = f"{area}: {levels.LEVEL_WORDS[level]}" if level else area
            lines.append(f"  {heading}")
            for resource, names in sorted(grouped.get(area, {}).items()):
                lines.append(f"    {resource}: {', '.join(names)}")
            if area not in grouped:
                lines.append("    nothing")
    if agent.deny:
        lines.append(f"  denied by name: {', '.join(agent.deny)}")
    tools = agent_tools(agent)
    meta = 2 if agent.meta_tools else 0
    lines.append(f"  {len(permitted)} operations permitted; {len(tools)} tools "
                 f"({len(tools) - meta} operations, {meta} meta-tools)")  # fmt: skip
    return "\n".join(lines) + "\n"


@agents.command()
def key() -> None:
    """Make a new agent key: give the key to the agent, put the hash in the policy."""
    secret = "sk-agent-" + secrets.token_urlsafe(24)
    click.echo(f'key:        {secret}\nkey_sha256 = "{hash_key(secret)}"')


@agents.command()
@where_stored
def pending(policy: str | None, db: str | None) -> None:
    """List writes waiting for a person."""
    for write in ApprovalStore(_db(policy, db)).pending():
        click.echo(f"{write.id}  {write.agent}  {write.preview.get('request')}  "
                   f"{write.preview.get('reason')}")  # fmt: skip
        click.echo(f"    {json.dumps(write.preview.get('body'))}")


def _decide(approval_id: str, policy: str | None, db: str | None, approve: bool) -> None:
    path = _db(policy, db)
    store = ApprovalStore(path)
    write = store.get(approval_id)
    by = os.environ.get("USER") or "a person"
    if write is None or not store.decide(approval_id, approve, by=by):
        state = write.status if write else "unknown"
        raise click.ClickException(f"no pending write {approval_id} ({state})")
    op = operations()[write.operation_id]
    decision = "approved" if approve else "rejected"
    method, _, url = str(write.preview.get("request", "")).partition(" ")
    sink = SQLiteAuditSink(path)
    sink.write(
        AuditRecord(
            time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            agent=write.agent, business_id=write.preview.get("business_id"),
            business_name=None, operation_id=write.operation_id, method=method,
            path=op.path, target_id=None,
            summary=f"{by} {decision} {write.agent}'s request to {words.action(op, False)}",
            decision=decision, reason=f"{write.id}: {write.preview.get('reason')}",
        )
    )  # fmt: skip
    sink.close()
    click.echo(f"{decision} {approval_id}: {method} {url}")


@agents.command()
@click.argument("approval_id")
@where_stored
def approve(approval_id: str, policy: str | None, db: str | None) -> None:
    """Approve a waiting write: the agent's next call with its id sends it, once."""
    _decide(approval_id, policy, db, True)


@agents.command()
@click.argument("approval_id")
@where_stored
def reject(approval_id: str, policy: str | None, db: str | None) -> None:
    """Reject a waiting write."""
    _decide(approval_id, policy, db, False)


@click.group()
def audit() -> None:
    """The audit log: verify its chain, show its records."""


@audit.command("verify")
@where_stored
@click.option(
    "--expect-head",
    metavar="SEQ:HASH",
    help="a head printed by an earlier verify: the log must still hold that record",
)
def verify_command(policy: str | None, db: str | None, expect_head: str | None) -> None:
    """Check that no record was edited or deleted; exit 1 if one was.

    Records deleted from the end leave a whole chain: note the head this prints somewhere the
    log's writer cannot reach, and pass it back with --expect-head."""
    path = _db(policy, db)
    try:
        problems = verify(path, expect_head)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--expect-head") from None
    count = sum(1 for _ in read_records(path))
    if problems:
        for problem in problems:
            click.echo(problem, err=True)
        raise click.ClickException(f"{path}: the audit chain is broken")
    click.echo(f"{path}: {count} records, chain intact, head {head(path) or 'none'}")


@audit.command()
@where_stored
@click.option("--agent")
@click.option("--business")
@click.option("--decision", type=click.Choice(["allowed", "denied", "awaiting approval",
                                               "approved", "rejected", "failed"]))  # fmt: skip
@click.option("--since", help="ISO time, e.g. 2026-11-23T09:00:00Z")
@click.option("--until", help="ISO time")
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table")
def show(policy: str | None, db: str | None, agent: str | None, business: str | None,
         decision: str | None, since: str | None, until: str | None, as_json: bool) -> None:  # fmt: skip
    """Show audit records, filtered."""
    for _seq, record in read_records(_db(policy, db)):
        if agent and record.agent != agent:
            continue
        if business and business not in (record.business_id, record.business_name):
            continue
        if decision and record.decision != decision:
            continue
        if (since and record.time < since) or (until and record.time > until):
            continue
        if as_json:
            click.echo(json.dumps(asdict(record), ensure_ascii=False))
        else:
            status = record.status if record.status is not None else "-"
            click.echo(f"{record.time}  {record.decision:<17} {status!s:>3}  {record.summary}")


@click.command()
@click.option("--policy", required=True, type=click.Path(dir_okay=False))
@click.option("--http", is_flag=True, help="streamable HTTP on 127.0.0.1 (default: stdio)")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
def mcp(policy: str, http: bool, port: int) -> None:
    """Serve the policy's agents over MCP (stdio: the agent whose key is in SAGE_AGENT_KEY)."""
    if importlib.util.find_spec("mcp") is None:  # [cli] without [agents]: say so, no traceback
        raise CommandError(
            "`mcp` needs the [agents] extra (missing module 'mcp'): "
            "pip install 'sage-accounting[agents]'",
            EXIT_MISSING_EXTRA,
        )
    import anyio

    from .server import serve_http, serve_stdio

    loaded = _load(policy)
    try:
        if http:
            try:
                serve_http(loaded, port)
            except OSError as exc:  # the port is taken: one line, a usage error
                raise CommandError(
                    f"cannot serve MCP on 127.0.0.1:{port}: {exc.strerror or exc} "
                    "(pick another --port)",
                    EXIT_USAGE,
                ) from None
        else:
            anyio.run(serve_stdio, loaded)
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from None


COMMANDS: list[Any] = [agents, audit, mcp]


def main() -> None:
    group = click.Group("sage-accounting", commands={c.name: c for c in COMMANDS})
    group(prog_name="python -m sage_accounting.agents")
