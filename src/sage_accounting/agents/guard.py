"""Enforcement: the client's agent guard checks every request before it is sent, and records
every decision in the audit log.

``for_agent(client, policy, "bookkeeper")`` puts an ``AgentGuard`` on a copy of the client; the
client calls ``admit`` before each HTTP request (first pages, later pages, change feeds, both
sync and async; ``retry=True`` before each further attempt of one) and ``observe`` with each
answer. Denied calls raise before anything is sent.

What is admitted is the request itself, not only the operation it claims: its method and raw
URL must be the operation's path template under the base URL (dot segments refused before any
normalising), with only the operation's query parameters. The guard is a limit on what code
running with the client asks for; it is not a sandbox for untrusted code in the same process
(that code can read the token wherever the client can): the MCP server, run as its own OS user,
is the boundary for untrusted agents (docs/agents.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from .._runtime import RequestHook, SageClient, loads, refused_header, request_id_of
from .._runtime.wire import BUSINESS_HEADER, format_timestamp
from . import words
from .approvals import ApprovalStore, PendingWrite
from .audit import AuditDecision, AuditRecord, AuditSink, SQLiteAuditSink
from .budget import Budget, BudgetStore, SQLiteBudgetStore
from .errors import AccessDenied, ApprovalRequired, BudgetExceeded
from .policy import AgentPolicy, Policy, load_policy, operations

if TYPE_CHECKING:
    from .._runtime import PreparedRequest

MULTI_USER_DENIED = "MultiUserAccessDenied"
Approver = Callable[[PendingWrite], bool]


class AgentGuard(RequestHook):
    """An agent's policy, budget and audit as a request hook (what ``for_agent`` adds)."""

    def before_send(self, request: PreparedRequest, *, retry: int) -> None:
        self.admit(request, retry > 0)

    def after_response(self, request: PreparedRequest, response: httpx.Response) -> None:
        self.observe(request, response)

    def on_error(self, request: PreparedRequest, error: httpx.TransportError) -> None:
        self.observe_error(request, error)

    def __init__(
        self,
        policy: Policy,
        agent: AgentPolicy,
        *,
        audit: AuditSink | None = None,
        approvals: ApprovalStore | None = None,
        approver: Approver | None = None,
        base_url: str = "",
        budgets: BudgetStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy
        self.agent = agent
        self.audit = audit
        self.approvals = approvals or ApprovalStore(None)
        self.approver = approver
        self.base_url = base_url
        self._budget = Budget(
            budget_name(agent), agent.per_minute, agent.per_day, budgets or agent.budget_store,
            clock,
        )  # fmt: skip
        self._started: dict[int, float] = {}
        self._approved: dict[int, str] = {}  # request -> who approved it, and its approval id
        self._lock = threading.Lock()

    # -- before the request -------------------------------------------------------------------------

    def admit(self, request: PreparedRequest, retry: bool = False) -> None:
        """Return if the agent may send ``request``; else record why and raise. ``retry``: a
        further attempt of a request admitted already, which only counts against the budget."""
        if retry:
            self._take_budget(request)
            return
        op = request.operation
        wrong = self._not_the_operation(request)
        if wrong:
            self._refuse(request, wrong)
        decision = self.agent.decide(request.operation_id)
        if not decision.allowed:
            self._refuse(request, decision.reason)
        if not self.agent.may_act_on(request.business_id):
            allowed = ", ".join(self.agent.businesses or ())
            chosen = request.business_id or "the lead business (no X-Business)"
            self._refuse(request, f"{self.agent.name} may act on {allowed} only, not {chosen}")
        self._take_budget(request)
        if op.method != "GET":
            why = self.agent.needs_approval(op) or self._over_amount(request)
            if why:
                self._approval(request, why)
        with self._lock:
            self._started[id(request)] = time.perf_counter()
        if op.method != "GET":  # in the file before it leaves: a crash cannot lose a write
            self._record(request, "sending", decision.reason, durable=True)

    def _take_budget(self, request: PreparedRequest) -> None:
        over = self._budget.take()
        if over:
            self._refuse(request, over, BudgetExceeded)

    def _not_the_operation(self, request: PreparedRequest) -> str | None:
        """Why the request is not one of its operation's (the SDK's operation of that id, with
        its method, path template and query), or None when it is."""
        op = request.operation
        if operations().get(op.id) != op:  # an Operation made or edited by hand
            return (f"{op.method} {op.path} is not the SDK's operation {op.id}: requests are "
                    "admitted for the operations the SDK declares")  # fmt: skip
        header = refused_header(request.headers)
        if header:
            return f"it carries header {header!r}, which no request may set"
        sent = [v for k, v in request.headers.items() if k.lower() == BUSINESS_HEADER.lower()]
        if sent != ([request.business_id] if request.business_id else []):
            return (f"its X-Business header ({', '.join(sent) or 'none'}) is not the business "
                    f"it was prepared for ({request.business_id or 'the lead business'})")  # fmt: skip
        claimed = f"{request.method} {_path_of(request.url, self.base_url)}"
        wrong = f"{claimed} is not a request of {op.resource}.{op.name} ({op.method} {op.path})"
        if not request.url.startswith(self.base_url + "/"):
            return f"{wrong}: it is not under the base URL"
        path, _, query = request.url[len(self.base_url) :].partition("?")
        if "#" in request.url:
            return f"{wrong}: it has a fragment"
        segments, template = path.split("/")[1:], op.path.split("/")[1:]
        if len(segments) != len(template):
            return wrong
        for segment, pattern in zip(segments, template, strict=True):
            decoded = urllib.parse.unquote(segment)
            if decoded in (".", "..") or "/" in decoded or "\\" in decoded:
                return f"{wrong}: dot segments and slashes in ids are refused"
            if pattern.startswith("{") and pattern.endswith("}"):
                if not segment or segment.startswith("{"):
                    return wrong
            elif segment != pattern:
                return wrong
        for name, _value in urllib.parse.parse_qsl(query, keep_blank_values=True):
            if name not in op.query:
                return f"{wrong}: it has query parameter {name!r}, which the operation has not"
        return None

    def _refuse(self, request: PreparedRequest, reason: str,
                error: type[AccessDenied] = AccessDenied) -> None:  # fmt: skip
        self._record(request, "denied", reason)
        raise error(
            f"{self.agent.name} may not {words.action(request.operation, False)}: {reason}",
            agent=self.agent.key, operation_id=request.operation_id,
        )  # fmt: skip

    def _over_amount(self, request: PreparedRequest) -> str | None:
        """Why the write waits for its amount: a conservative total of it over the approval
        amount, or an amount that cannot be read (fail closed)."""
        limit = self.agent.approval_over
        if limit is None or not request.content:
            return None
        from .tools import schemas

        money = frozenset(schemas()["operations"][request.operation_id]["money_fields"])
        try:
            total = conservative_total(loads(request.content), money)
        except ValueError as exc:  # not JSON, or an amount that is not a number
            return f"{exc}, so its total is unknown (approval amount {limit})"
        if total > limit:
            return f"a total of at least {total} is over the approval amount {limit}"
        return None

    def _approval(self, request: PreparedRequest, why: str) -> None:
        fingerprint = _fingerprint(request)
        done = self.approvals.take_approved(self.agent.key, fingerprint, self._signed_by)
        if done:
            with self._lock:
                self._approved[id(request)] = f"{done[1]} ({done[0]})"
            return
        pending = self.approvals.create(
            self.agent.key, request.operation_id, fingerprint, preview(request, why)
        )
        if self.approver is not None:  # the application's own code decides, in process
            approved = bool(self.approver(pending))
            self.approvals.decide(pending.id, approved, by="callback")
            self._record(request, "approved" if approved else "rejected", f"{why} ({pending.id})")
            if approved and self.approvals.mark_executed(pending.id):
                with self._lock:
                    self._approved[id(request)] = f"the approver callback ({pending.id})"
                return
            self._refuse(request, f"a person rejected it ({pending.id})")
        self._record(request, "awaiting approval", f"{why}; approval id {pending.id}")
        raise ApprovalRequired(
            f"{self.agent.name} needs a person's approval to "
            f"{words.action(request.operation, False)}: {why}. It waits as {pending.id}; once a "
            "person has approved it, repeat the call.",
            agent=self.agent.key, operation_id=request.operation_id, approval_id=pending.id,
            idempotency_id=pending.preview.get("idempotency_id"), preview=pending.preview,
        )  # fmt: skip

    def _signed_by(self, write: PendingWrite) -> str | None:
        """The identity of the policy's approver who signed ``write``; None if none did."""
        from .signing import verifies

        approver = self.policy.approvers.get(write.decided_by or "")
        if approver is None or not write.signature:
            return None
        if not verifies(approver.public_key, write.signed_text(), write.signature):
            return None
        return approver.identity

    # -- after the request ----------------------------------------------------------------------------

    def observe(self, request: PreparedRequest, response: httpx.Response) -> None:
        """Record Sage's answer: allowed (it succeeded) or failed, with status and request id."""
        status = response.status_code
        with self._lock:
            started = self._started.pop(id(request), None)
            approval = self._approved.pop(id(request), None) if status < 300 else None
        duration = (time.perf_counter() - started) * 1000 if started is not None else None
        request_id = request_id_of(response.headers)  # every spelling Sage uses
        if status < 300:  # the client raises for the rest (redirects are never followed)
            reason = self.agent.decide(request.operation_id).reason
            if approval:
                reason += f"; approved by {approval}"
            detail = words.describe_record(response.content) if request.method != "GET" else ""
            self._record(request, "allowed", reason, status, request_id, duration, detail)
            return
        reason = f"Sage answered {status}"
        if status == 403 and MULTI_USER_DENIED.encode() in response.content:
            reason = ("Sage refused it (MultiUserAccessDenied): the authorizing user's role in "
                      "Sage denies this, not the agent's policy")  # fmt: skip
        self._record(request, "failed", reason, status, request_id, duration)

    def observe_error(self, request: PreparedRequest, error: Exception) -> None:
        with self._lock:
            started = self._started.pop(id(request), None)
        duration = (time.perf_counter() - started) * 1000 if started is not None else None
        self._record(request, "failed", f"no answer from Sage: {type(error).__name__}",
                     duration=duration)  # fmt: skip

    def _record(self, request: PreparedRequest, decision: AuditDecision, reason: str,
                status: int | None = None, request_id: str | None = None,
                duration: float | None = None, detail: str = "",
                durable: bool = False) -> None:  # fmt: skip
        """Write one record (``durable``: in the file before this returns)."""
        if self.audit is None:
            return
        op = request.operation
        business = self.business_name(request.business_id)
        path = _path_of(request.url, self.base_url)  # what is sent, not what was claimed
        target = words.target_id(op.path, path)
        done = decision in ("allowed",)
        self.audit.write(
            AuditRecord(
                time=format_timestamp(time.time()),
                agent=self.agent.key,
                business_id=request.business_id,
                business_name=self.policy.businesses.get(request.business_id or ""),
                operation_id=request.operation_id,
                method=request.method,
                path=path,
                target_id=target,
                summary=words.summary(self.agent.name, op, done=done, target=target,
                                      detail=detail, business=business, decision=decision),
                decision=decision,
                reason=reason,
                status=status,
                request_id=request_id,
                duration_ms=round(duration, 3) if duration is not None else None,
            )
        )  # fmt: skip
        if durable:
            self.flush()

    def flush(self) -> None:
        """Wait until every record so far is written (sinks that write in the background)."""
        flush = getattr(self.audit, "flush", None)
        if flush is not None:
            flush()

    def business_name(self, business_id: str | None) -> str:
        if not business_id:
            return "the lead business"
        return self.policy.businesses.get(business_id) or business_id


def preview(request: PreparedRequest, why: str) -> dict[str, Any]:
    """The exact request a person approves (without headers: they hold the token)."""
    # Decimals as their exact digits, in strings: the preview is stored and shown as JSON.
    body = json.loads(json.dumps(loads(request.content), default=str)) if request.content else None
    idempotency_id = None
    if isinstance(body, dict) and len(body) == 1:
        inner = next(iter(body.values()))
        if isinstance(inner, dict):
            idempotency_id = inner.get("idempotency_id")
    return {
        "operation_id": request.operation_id,
        "request": f"{request.method} {request.url}",
        "business_id": request.business_id,
        "body": body,
        "reason": why,
        "idempotency_id": idempotency_id,
    }


def _fingerprint(request: PreparedRequest) -> str:
    digest = hashlib.sha256(f"{request.method} {request.url} {request.business_id}\n".encode())
    digest.update(request.content or b"")
    return digest.hexdigest()


AMOUNT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
CARRIAGE = ("shipping_net_amount", "shipping_tax_amount")


def amount_of(name: str, value: Any) -> Decimal:
    """A money value as Sage would read it: a finite number (a JSON number or a numeric string,
    never a bool); else ValueError naming it."""
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        found = Decimal(value)
    elif isinstance(value, str) and AMOUNT.fullmatch(value.strip()):
        found = Decimal(value.strip())
    else:
        raise ValueError(f"{name} {value!r} cannot be read as an amount")
    if not found.is_finite():
        raise ValueError(f"{name} {value!r} cannot be read as an amount")
    return abs(found)


def conservative_total(value: Any, money: frozenset[str]) -> Decimal:
    """At least what a write is worth, never less: the largest of its money fields, and of
    quantity x unit price plus tax of each line summed over every list of lines, plus carriage
    and header tax. Negative amounts count as positive (a credit line lowers nothing)."""
    if isinstance(value, list):
        return sum((conservative_total(item, money) for item in value), Decimal(0))
    if not isinstance(value, dict):
        return Decimal(0)
    present = {k: v for k, v in value.items() if v is not None}
    candidates = [amount_of(k, v) for k, v in present.items() if k in money]
    if "unit_price" in present:
        quantity = amount_of("quantity", present["quantity"]) if "quantity" in present else 1
        line = quantity * amount_of("unit_price", present["unit_price"])
        candidates.append(line + amount_of("tax_amount", present.get("tax_amount", 0)))
    nested = sum(
        (conservative_total(v, money) for v in present.values() if isinstance(v, (list, dict))),
        Decimal(0),
    )
    if nested:
        extra = sum((amount_of(k, present[k]) for k in CARRIAGE if k in present), Decimal(0))
        if "shipping_total_amount" in present:
            extra = max(extra, amount_of("shipping_total_amount", present["shipping_total_amount"]))
        if "unit_price" not in present and "tax_amount" in present:
            extra += amount_of("tax_amount", present["tax_amount"])
        candidates.append(nested + extra)
    return max(candidates, default=Decimal(0))


def _path_of(url: str, base_url: str) -> str:
    """The path a URL names below the base URL (the whole URL when it is not below it)."""
    if base_url and url.startswith(base_url + "/"):
        return url[len(base_url) :].partition("?")[0]
    return url


def agent_guard_of(client: SageClient) -> AgentGuard | None:
    """The guard of a client made by ``for_agent`` (one of its request hooks), else None."""
    return next((hook for hook in client.hooks if isinstance(hook, AgentGuard)), None)


def flush_audit(client: SageClient) -> None:
    """Wait until an agent client's audit records so far are written."""
    guard = agent_guard_of(client)
    if guard is not None:
        guard.flush()


ClientT = TypeVar("ClientT", bound=SageClient)


def budget_name(agent: AgentPolicy) -> str:
    """Whose budget an attempt counts in: the agent's name and, when it has an MCP key, its
    key's hash. One policy's agent on many hosts (the same key) counts once; the agents of two
    policies sharing one store (a Redis for several teams) that happen to share a name do not
    spend each other's budget."""
    return f"{agent.key}@{agent.key_sha256[:16]}" if agent.key_sha256 else agent.key


def for_agent(
    client: ClientT,
    policy: Policy | str | os.PathLike[str],
    agent: str,
    *,
    audit: AuditSink | str | os.PathLike[str] | None = None,
    approvals: ApprovalStore | None = None,
    approver: Approver | None = None,
    budgets: BudgetStore | None = None,
    clock: Callable[[], float] = time.time,
) -> ClientT:
    """A copy of ``client`` (sync or async, sharing its pool) acting as one agent of a policy
    (a ``Policy`` or the path of its TOML file): every call checked against it before any
    request, and audited. Its guard is an ``AgentGuard``, one of the copy's request hooks
    (``client.with_hooks``).

    ``audit`` is a sink or a SQLite path (default: the policy's ``[audit] path``, else none).
    ``approvals``/``approver``: where writes that need a person's approval wait, and who may
    approve them at once. Budgets are counted in the audit database when there is one (every
    process sharing the file shares them), else in the process (every copy of this policy's
    agent shares them). An agent limited to one business acts on it when the client names
    none. A client that already acts as an agent cannot be made another (or the same one
    afresh).
    """
    current = agent_guard_of(client)
    if current is not None:
        raise AccessDenied(
            f"this client already acts as agent {current.agent.key!r}: make agents from the "
            "client before for_agent", agent=current.agent.key, operation_id="for_agent",
        )  # fmt: skip
    if not isinstance(policy, Policy):
        policy = load_policy(os.fspath(policy))
    chosen = policy.agent(agent)
    if audit is None and policy.audit_path is not None:
        audit = policy.audit_path
    if isinstance(audit, (str, os.PathLike)):
        sink: AuditSink | None = SQLiteAuditSink(os.fspath(audit))
        approvals = approvals or ApprovalStore(os.fspath(audit))
    else:
        sink = audit
    if budgets is None and isinstance(sink, SQLiteAuditSink):
        budgets = SQLiteBudgetStore(sink.path)
    guarded = client  # with_hooks copies it
    if guarded.business_id is None and chosen.businesses and len(chosen.businesses) == 1:
        guarded = guarded.with_business(chosen.businesses[0])
    return guarded.with_hooks(AgentGuard(
        policy, chosen, audit=sink, approvals=approvals, approver=approver,
        base_url=client.base_url, budgets=budgets, clock=clock,
    ))  # fmt: skip
