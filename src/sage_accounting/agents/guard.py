"""Enforcement: the client's agent guard checks every request before it is sent, and records
every decision in the audit log.

``client.for_agent(policy, "bookkeeper")`` puts an ``AgentGuard`` on a copy of the client; the
client calls ``admit`` before each HTTP request (first pages, later pages, change feeds, both
sync and async) and ``observe`` with each answer. Denied calls raise before anything is sent.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from .._runtime._encoding import loads
from . import words
from .approvals import ApprovalStore, PendingWrite
from .audit import AuditRecord, AuditSink, SQLiteAuditSink
from .budget import Budget
from .errors import AccessDenied, ApprovalRequired, BudgetExceeded
from .policy import AgentPolicy, Policy, load_policy

if TYPE_CHECKING:
    from .._runtime._client import _BaseClient
    from .._runtime._prepare import PreparedRequest

MULTI_USER_DENIED = "MultiUserAccessDenied"
Approver = Callable[[PendingWrite], bool]


class AgentGuard:
    def __init__(
        self,
        policy: Policy,
        agent: AgentPolicy,
        *,
        audit: AuditSink | None = None,
        approvals: ApprovalStore | None = None,
        approver: Approver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self.agent = agent
        self.audit = audit
        self.approvals = approvals or ApprovalStore(None)
        self.approver = approver
        self._budget = Budget(agent.per_minute, agent.per_day, clock)
        self._started: dict[int, float] = {}
        self._approved: dict[int, str] = {}  # request -> the approval it carries out
        self._lock = threading.Lock()

    # -- before the request -------------------------------------------------------------------------

    def admit(self, request: PreparedRequest) -> None:
        """Return if the agent may send ``request``; else record why and raise."""
        op = request.operation
        decision = self.agent.decide(request.operation_id)
        if not decision.allowed:
            self._refuse(request, decision.reason)
        if not self.agent.may_act_on(request.business_id):
            allowed = ", ".join(self.agent.businesses or ())
            chosen = request.business_id or "the lead business (no X-Business)"
            self._refuse(request, f"{self.agent.name} may act on {allowed} only, not {chosen}")
        over = self._budget.take()
        if over:
            self._refuse(request, over, BudgetExceeded)
        if op.method != "GET":
            why = self.agent.needs_approval(op) or self._over_amount(request)
            if why:
                self._approval(request, why)
        with self._lock:
            self._started[id(request)] = time.perf_counter()

    def _refuse(self, request: PreparedRequest, reason: str,
                error: type[AccessDenied] = AccessDenied) -> None:  # fmt: skip
        self._record(request, "denied", reason)
        raise error(
            f"{self.agent.name} may not {words.action(request.operation, False)}: {reason}",
            agent=self.agent.key, operation_id=request.operation_id,
        )  # fmt: skip

    def _over_amount(self, request: PreparedRequest) -> str | None:
        limit = self.agent.approval_over
        if limit is None or not request.content:
            return None
        from .tools import schemas

        money = set(schemas()["operations"][request.operation_id]["money_fields"])
        for name, value in _fields(loads(request.content)):  # numbers as Decimal, never float
            if name in money:
                try:
                    amount = Decimal(str(value))
                except InvalidOperation:
                    continue
                if abs(amount) > limit:
                    return f"{name} {amount} is over the approval amount {limit}"
        return None

    def _approval(self, request: PreparedRequest, why: str) -> None:
        fingerprint = _fingerprint(request)
        done = self.approvals.take_approved(self.agent.key, fingerprint)
        if done:
            with self._lock:
                self._approved[id(request)] = done
            return
        pending = self.approvals.create(
            self.agent.key, request.operation_id, fingerprint, preview(request, why)
        )
        if self.approver is not None:
            approved = bool(self.approver(pending))
            self.approvals.decide(pending.id, approved, by="callback")
            self._record(request, "approved" if approved else "rejected", f"{why} ({pending.id})")
            if approved:
                self._approval(request, why)
                return
            self._refuse(request, f"a person rejected it ({pending.id})")
        self._record(request, "awaiting approval", f"{why}; approval id {pending.id}")
        raise ApprovalRequired(
            f"{self.agent.name} needs a person's approval to "
            f"{words.action(request.operation, False)}: {why}. Approve with "
            f"`sage-accounting agents approve {pending.id}`, then repeat the call.",
            agent=self.agent.key, operation_id=request.operation_id, approval_id=pending.id,
            idempotency_id=pending.preview.get("idempotency_id"), preview=pending.preview,
        )  # fmt: skip

    # -- after the request ----------------------------------------------------------------------------

    def observe(self, request: PreparedRequest, response: httpx.Response) -> None:
        """Record Sage's answer: allowed (it succeeded) or failed, with status and request id."""
        with self._lock:
            started = self._started.pop(id(request), None)
            approval = self._approved.pop(id(request), None)
        status = response.status_code
        duration = (time.perf_counter() - started) * 1000 if started is not None else None
        request_id = response.headers.get("x-request-id")
        if status < 300:  # the client raises for the rest (redirects are never followed)
            reason = self.agent.decide(request.operation_id).reason
            if approval:
                reason += f"; approved by a person ({approval})"
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

    def _record(self, request: PreparedRequest, decision: str, reason: str,
                status: int | None = None, request_id: str | None = None,
                duration: float | None = None, detail: str = "") -> None:  # fmt: skip
        if self.audit is None:
            return
        op = request.operation
        business = self.business_name(request.business_id)
        target = words.target_id(op.path, request.path)
        done = decision in ("allowed",)
        self.audit.write(
            AuditRecord(
                time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                agent=self.agent.key,
                business_id=request.business_id,
                business_name=self.policy.businesses.get(request.business_id or ""),
                operation_id=request.operation_id,
                method=request.method,
                path=request.path,
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


def _fields(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) in a JSON document, nested ones too."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from _fields(item)
    elif isinstance(value, list):
        for item in value:
            yield from _fields(item)


def flush_audit(client: Any) -> None:
    """Wait until an agent client's audit records so far are written."""
    guard: AgentGuard | None = getattr(client, "_agent_guard", None)
    if guard is not None:
        guard.flush()


ClientT = TypeVar("ClientT", bound="_BaseClient[Any]")


def guard_client(
    client: ClientT,
    policy: Policy | str | Path,
    agent: str,
    *,
    audit: AuditSink | str | Path | None = None,
    approvals: ApprovalStore | None = None,
    approver: Approver | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> ClientT:
    """A copy of ``client`` acting as ``agent``: what ``client.for_agent`` returns.

    ``audit`` is a sink or a SQLite path (default: the policy's ``[audit] path``, else none).
    An agent limited to one business acts on it when the client names none.
    """
    if not isinstance(policy, Policy):
        policy = load_policy(policy)
    chosen = policy.agent(agent)
    if audit is None and policy.audit_path is not None:
        audit = policy.audit_path
    if isinstance(audit, (str, Path)):
        sink: AuditSink | None = SQLiteAuditSink(audit)
        approvals = approvals or ApprovalStore(audit)
    else:
        sink = audit
    guarded = client._copy()
    if guarded.business_id is None and chosen.businesses and len(chosen.businesses) == 1:
        guarded = guarded.with_business(chosen.businesses[0])
    guarded._agent_guard = AgentGuard(
        policy, chosen, audit=sink, approvals=approvals, approver=approver, clock=clock
    )
    return guarded
