"""What an agent's call can meet before it reaches Sage: all ``SageError`` subclasses."""

from __future__ import annotations

from typing import Any

from .._runtime import SageError


class PolicyError(SageError):
    """The policy file cannot be used; the message names the line and the closest valid name."""


class AuditError(SageError):
    """The audit log cannot be read: missing, unreadable, or not an audit log."""


class AccessDenied(SageError):
    """The agent's policy does not allow this call; nothing was sent to Sage."""

    def __init__(self, message: str, *, agent: str, operation_id: str) -> None:
        super().__init__(message)
        self.agent = agent
        self.operation_id = operation_id


class BudgetExceeded(AccessDenied):
    """The agent used its calls for this minute or day; nothing was sent to Sage."""


class ApprovalRequired(AccessDenied):
    """A person must approve this write first (an approver of the policy, with their key), then
    the call is repeated with ``idempotency_id=error.idempotency_id``: it runs once. The message
    (what an agent reads) does not say how to approve."""

    def __init__(
        self, message: str, *, agent: str, operation_id: str, approval_id: str,
        idempotency_id: str | None, preview: dict[str, Any],
    ) -> None:  # fmt: skip
        super().__init__(message, agent=agent, operation_id=operation_id)
        self.approval_id = approval_id
        self.idempotency_id = idempotency_id
        self.preview = preview
