"""Click commands: ``agents`` (check, key, approver-key, pending, approve, reject), ``audit``
(verify, show)
and ``mcp``. The ``sage-accounting`` console script adds ``COMMANDS``; ``python -m
sage_accounting.agents`` runs them on their own."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import secrets
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .._runtime.wire import format_timestamp
from ..cli import plugin_api
from ..cli.exit_codes import EXIT_AUTH, EXIT_MISSING_EXTRA, EXIT_USAGE, missing_extra
from ..cli.plugin_api import CommandError
from . import levels, words
from .approvals import ApprovalStore
from .audit import (
    DECISIONS,
    AuditDecision,
    AuditRecord,
    SQLiteAuditSink,
    head,
    read_records,
    verify,
)
from .errors import AuditError, PolicyError
from .policy import AgentPolicy, Policy, hash_key, load_policy, operations
from .tools import agent_tools

if TYPE_CHECKING:
    from .server import Stores

APPROVER_KEY_VARIABLE = "SAGE_APPROVER_KEY"


def _load(path: str) -> Policy:
    try:
        return load_policy(path)
    except PolicyError as exc:  # the command's input is wrong: a usage error
        raise CommandError(str(exc), EXIT_USAGE) from None


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


@agents.command("approver-key")
def approver_key() -> None:
    """Make a new approver key: the person keeps the key, the policy gets the public key."""
    from .signing import new_key

    private, public = new_key()
    click.echo(f"key:        {private}\n"
               f"public_key = \"{public}\"\n"
               f"Keep the key where only this person can read it (a password manager) and give "
               f"it as ${APPROVER_KEY_VARIABLE} or at the prompt of `agents approve`; never to "
               "an agent or its host.")  # fmt: skip


@agents.command()
@where_stored
def pending(policy: str | None, db: str | None) -> None:
    """List writes waiting for a person."""
    for write in ApprovalStore(_db(policy, db)).pending():
        # What an agent wrote is shown escaped: it cannot redraw the approver's terminal.
        click.echo(escaped(f"{write.id}  {write.agent}  {write.preview.get('request')}  "
                           f"{write.preview.get('reason')}"))  # fmt: skip
        click.echo(f"    {json.dumps(write.preview.get('body'))}")  # ASCII, escapes included


def _approver_key() -> str:
    key = os.environ.get(APPROVER_KEY_VARIABLE)
    if key is None and sys.stdin.isatty():
        key = click.prompt("approver key", hide_input=True, default="", show_default=False)
    if not key:
        raise click.ClickException(
            f"deciding needs an approver's key: set {APPROVER_KEY_VARIABLE} or type it at the "
            "prompt (make one with `agents approver-key`; its public key goes in the policy)"
        )
    return key


def _decide(approval_id: str, policy: str, approve: bool) -> None:
    from .signing import public_key_of, sign

    loaded = _load(policy)
    key = _approver_key()
    public = public_key_of(key)
    approver = next((a for a in loaded.approvers.values() if a.public_key == public), None)
    if approver is None:
        raise click.ClickException(f"that key is not the key of an approver of {policy}")
    path = _db(policy, None)
    store = ApprovalStore(path)
    write = store.get(approval_id)
    signature = sign(key, write.signed_text()) if write and approve else None
    if write is None or not store.decide(approval_id, approve, approver.key, signature):
        state = write.status if write else "unknown"
        raise click.ClickException(f"no pending write {approval_id} ({state})")
    op = operations()[write.operation_id]
    decision: AuditDecision = "approved" if approve else "rejected"
    method, _, url = str(write.preview.get("request", "")).partition(" ")
    agent = loaded.agents.get(write.agent)
    agent_name = agent.name if agent else write.agent
    sink = SQLiteAuditSink(path)
    sink.write(
        AuditRecord(
            time=format_timestamp(time.time()),
            agent=write.agent, business_id=write.preview.get("business_id"),
            business_name=loaded.businesses.get(write.preview.get("business_id") or ""),
            operation_id=write.operation_id, method=method, path=op.path, target_id=None,
            summary=f"{approver.identity} {decision} {agent_name}'s request to "
                    f"{words.action(op, False)}",
            decision=decision, reason=f"{write.id}: {write.preview.get('reason')}",
        )
    )  # fmt: skip
    sink.close()
    click.echo(f"{decision} {approval_id}: {method} {url}")


POLICY_OPTION = click.option("--policy", required=True, type=click.Path(dir_okay=False),
                             help="the policy naming the approvers")  # fmt: skip


@agents.command()
@click.argument("approval_id")
@POLICY_OPTION
def approve(approval_id: str, policy: str) -> None:
    """Approve a waiting write with an approver's key ($SAGE_APPROVER_KEY, or typed at the
    prompt): the agent's next call with its id sends it, once."""
    _decide(approval_id, policy, True)


@agents.command()
@click.argument("approval_id")
@POLICY_OPTION
def reject(approval_id: str, policy: str) -> None:
    """Reject a waiting write (an approver's key, as for approve)."""
    _decide(approval_id, policy, False)


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
        count = sum(1 for _ in read_records(path))
    except AuditError as exc:
        raise click.ClickException(str(exc)) from None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--expect-head") from None
    if problems:
        for problem in problems:
            click.echo(problem, err=True)
        raise click.ClickException(f"{path}: the audit chain is broken")
    click.echo(f"{path}: {count} records, chain intact, head {head(path) or 'none'}")


@audit.command()
@where_stored
@click.option("--agent")
@click.option("--business")
@click.option("--decision", type=click.Choice(DECISIONS))
@click.option("--since", help="ISO time, e.g. 2026-11-23T09:00:00Z")
@click.option("--until", help="ISO time")
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table")
def show(policy: str | None, db: str | None, agent: str | None, business: str | None,
         decision: str | None, since: str | None, until: str | None, as_json: bool) -> None:  # fmt: skip
    """Show audit records, filtered. Text from Sage (names, references) is shown with control
    characters and line breaks escaped: one record, one line, no terminal escapes."""
    try:
        records = list(read_records(_db(policy, db)))
    except AuditError as exc:
        raise click.ClickException(str(exc)) from None
    for _seq, record in records:
        if agent and record.agent != agent:
            continue
        if business and business not in (record.business_id, record.business_name):
            continue
        if decision and record.decision != decision:
            continue
        if (since and record.time < since) or (until and record.time > until):
            continue
        if as_json:
            click.echo(json_escaped(json.dumps(asdict(record), ensure_ascii=False)))
        else:
            status = record.status if record.status is not None else "-"
            click.echo(escaped(f"{record.time}  {record.decision:<17} {status!s:>3}  "
                               f"{record.summary}"))  # fmt: skip


def json_escaped(text: str) -> str:
    """JSON text with every character that is not printable as a ``\\uXXXX`` escape: still the
    same JSON, and nothing a terminal acts on."""
    if text.isprintable():
        return text
    out = []
    for c in text:
        if c.isprintable():
            out.append(c)
        elif ord(c) > 0xFFFF:  # a surrogate pair, as JSON writes them
            high, low = divmod(ord(c) - 0x10000, 0x400)
            out.append(f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}")
        else:
            out.append(f"\\u{ord(c):04x}")
    return "".join(out)


def escaped(text: str) -> str:
    """``text`` with every character that is not printable (control characters, line breaks,
    bidirectional overrides) written as its Python escape: ``\\x1b``, ``\\n``, ``\\u202e``."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


@click.command()
@click.option("--policy", required=True, type=click.Path(dir_okay=False))
@click.option("--http", is_flag=True, help="streamable HTTP on 127.0.0.1 (default: stdio)")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option(
    "--tokens",
    "tokens_url",
    metavar="URL",
    envvar="SAGE_TOKENS_URL",
    help="The grant's tokens in a store every server shares (instead of the policy's "
    "token_store file), so that servers on several hosts refresh it exactly once: "
    "redis://host/0, postgresql+psycopg://... or sqlite:///path (the [scale] extra). "
    "Env: SAGE_TOKENS_URL.",
)
@plugin_api.grant_option
@click.option(
    "--quota",
    "quota_url",
    metavar="URL",
    envvar="SAGE_QUOTA_URL",
    help="Count Sage's limits in a ledger every server (and sync worker) shares: redis://host/0 "
    "or postgresql+psycopg://... (the [scale] extra). Env: SAGE_QUOTA_URL.",
)
@click.option(
    "--budgets",
    "budgets_url",
    metavar="URL",
    envvar="SAGE_BUDGETS_URL",
    help="Count the agents' call budgets where every server shares them (default: the audit "
    "database, shared by this host's servers only): redis://host/0 or postgresql+psycopg://... "
    "(the [scale] extra). Env: SAGE_BUDGETS_URL.",
)
def mcp(
    policy: str,
    http: bool,
    port: int,
    tokens_url: str | None,
    grant: str,
    quota_url: str | None,
    budgets_url: str | None,
) -> None:
    """Serve the policy's agents over MCP (stdio: the agent whose key is in SAGE_AGENT_KEY)."""
    if importlib.util.find_spec("mcp") is None:  # [cli] without [agents]: say so, no traceback
        raise CommandError(missing_extra("`mcp`", "agents", "mcp"), EXIT_MISSING_EXTRA)
    import anyio

    from .server import serve_http, serve_stdio

    loaded = _load(policy)
    stores = _stores(tokens_url, grant, quota_url, budgets_url)
    try:
        if http:
            try:
                serve_http(loaded, port, stores=stores)
            except OSError as exc:  # the port is taken: one line, a usage error
                raise CommandError(
                    f"cannot serve MCP on 127.0.0.1:{port}: {exc.strerror or exc} "
                    "(pick another --port)",
                    EXIT_USAGE,
                ) from None
        else:
            anyio.run(functools.partial(serve_stdio, loaded, stores=stores))
    except PolicyError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None


def _stores(
    tokens_url: str | None, grant: str, quota_url: str | None, budgets_url: str | None
) -> Stores:
    """The shared stores the options name (none: the server's own, as before)."""
    from .server import Stores

    if not (tokens_url or quota_url or budgets_url):
        return Stores()
    from .. import ArgumentValueError
    from ..scale import quota_backend_at, token_store_at  # MissingExtraError: exit 5

    try:  # each store's error names its option (the argument given to it)
        tokens = token_store_at(tokens_url, grant, "--tokens") if tokens_url else None
        quota = quota_backend_at(quota_url, "--quota") if quota_url else None
        budgets = quota_backend_at(budgets_url, "--budgets") if budgets_url else None
    except ArgumentValueError as exc:
        raise plugin_api.bad_option(exc) from None
    if tokens is not None and tokens.load() is None:  # not logged in: exit 3
        raise CommandError(
            f"{tokens!r} holds no tokens for grant {grant!r}: put the grant there first (e.g. "
            "`sage-accounting sync --tokens URL --grant NAME --tokens-from-login`)",
            EXIT_AUTH,
        )
    return Stores(tokens, quota, budgets)


COMMANDS: list[Any] = [agents, audit, mcp]


def main() -> None:
    group = plugin_api.OneLineGroup("sage-accounting", commands={c.name: c for c in COMMANDS})
    group(prog_name="python -m sage_accounting.agents")
