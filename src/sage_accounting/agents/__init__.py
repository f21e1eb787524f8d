"""Per-agent access to Sage: policies, enforcement, an audit log, tools and an MCP server.

    pip install 'sage-accounting[agents]'

    client = SageAccounting(session=session).for_agent("policy.toml", "bookkeeper")
    client.contacts.list()        # checked against the policy, then sent, then audited
    client.contacts.delete("c1")  # AccessDenied: "Contacts: read only; deleting needs full"

Not imported by ``import sage_accounting``: ``client.for_agent`` imports it when first used.
"""

from .approvals import ApprovalStore, PendingWrite
from .audit import AuditRecord, AuditSink, MemoryAuditSink, SQLiteAuditSink, head, verify
from .errors import AccessDenied, ApprovalRequired, AuditError, BudgetExceeded, PolicyError
from .guard import AgentGuard, agent_guard_of, flush_audit, guard_client
from .policy import AgentPolicy, Policy, load_policy, parse_policy
from .tools import Tool, agent_tools, as_anthropic, as_gemini, as_openai

__all__ = [
    "AccessDenied", "AgentGuard", "AgentPolicy", "ApprovalRequired", "ApprovalStore",
    "AuditError", "AuditRecord", "AuditSink", "BudgetExceeded", "MemoryAuditSink", "PendingWrite",
    "Policy", "PolicyError", "SQLiteAuditSink", "Tool", "agent_tools", "as_anthropic", "as_gemini",
    "agent_guard_of", "as_openai", "flush_audit", "guard_client", "head", "load_policy", "parse_policy", "verify",
]  # fmt: skip
