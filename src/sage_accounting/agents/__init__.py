"""Per-agent access to Sage: policies, enforcement, an audit log, tools and an MCP server.

    pip install 'sage-accounting[agents]'

    from sage_accounting.agents import for_agent

    client = for_agent(SageAccounting(session=session), "policy.toml", "bookkeeper")
    client.contacts.list()        # checked against the policy, then sent, then audited
    client.contacts.delete("c1")  # AccessDenied: "Contacts: read only; deleting needs full"

Not imported by ``import sage_accounting``, nor by the client: the agent guard is one of the
client's request hooks (``client.with_hooks``), which ``for_agent`` adds to a copy.
"""

from .approvals import ApprovalStore, PendingWrite
from .audit import AuditRecord, AuditSink, MemoryAuditSink, SQLiteAuditSink, head, verify
from .errors import AccessDenied, ApprovalRequired, AuditError, BudgetExceeded, PolicyError
from .guard import AgentGuard, flush_audit, for_agent
from .policy import AgentPolicy, Policy, load_policy, parse_policy
from .tools import Tool, agent_tools, as_anthropic, as_gemini, as_openai

__all__ = [
    "AccessDenied", "AgentGuard", "AgentPolicy", "ApprovalRequired", "ApprovalStore",
    "AuditError", "AuditRecord", "AuditSink", "BudgetExceeded", "MemoryAuditSink", "PendingWrite",
    "Policy", "PolicyError", "SQLiteAuditSink", "Tool", "agent_tools", "as_anthropic", "as_gemini",
    "as_openai", "flush_audit", "for_agent", "head", "load_policy", "parse_policy", "verify",
]  # fmt: skip
