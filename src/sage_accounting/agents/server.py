"""The MCP server, with the official ``mcp`` SDK: each agent sees only its own tools.

Over stdio one agent is served, chosen by its key in ``SAGE_AGENT_KEY``. Over streamable HTTP on
127.0.0.1 every agent with a ``key_sha256`` is served at ``/mcp``; the bearer key picks the agent
and a wrong one gets 401. The Sage token lives here (an ``OAuthSession`` over a token store) and
never reaches an agent.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._runtime import __version__
from .approvals import ApprovalStore
from .audit import AuditSink, SQLiteAuditSink
from .budget import BudgetStore
from .errors import PolicyError
from .guard import flush_audit, for_agent
from .policy import AgentPolicy, Policy, hash_key
from .runner import Runner, tool_text
from .tools import agent_tools

if TYPE_CHECKING:
    from .._runtime import AsyncClient, QuotaBackend, TokenStore

KEY_VARIABLE = "SAGE_AGENT_KEY"


@dataclass(frozen=True)
class Stores:
    """Where servers on several hosts meet (``agents mcp --tokens/--quota/--budgets``): the
    grant's tokens (one refresh per grant, whichever server makes it), Sage's quota ledger and
    the agents' budgets. Each left out is this server's own: the policy's token file, a ledger
    in this process, the audit database's budget counts."""

    tokens: TokenStore | None = None
    quota: QuotaBackend | None = None
    budgets: BudgetStore | None = None


def sage_client(policy: Policy, stores: Stores = Stores()) -> AsyncClient:
    """The async client the server calls Sage with, from the policy's [sage] table (and the
    shared stores, where given)."""
    from .. import AsyncSageAccounting, FileTokenStore, OAuthApp, OAuthSession, Quota

    sage = policy.sage
    for key in ("base_url", "token_url"):
        if key in sage and not sage[key]:  # an empty setting is not Sage's production server
            raise PolicyError(f"{policy.source}: [sage] {key} is empty: leave it out for Sage's")
    if stores.tokens is None and not sage.get("token_store"):
        raise PolicyError(
            f"{policy.source}: [sage] token_store (or a shared store, --tokens) is needed to "
            "serve agents"
        )
    secret_variable = str(sage.get("client_secret_env", "SAGE_CLIENT_SECRET"))
    client_id = str(sage.get("client_id") or os.environ.get("SAGE_CLIENT_ID", ""))
    secret = os.environ.get(secret_variable, "")
    if not client_id or not secret:
        raise PolicyError(
            f"{policy.source}: set [sage] client_id (or SAGE_CLIENT_ID) and {secret_variable}"
        )
    # Left out (None): Sage's token endpoint and API. The app only refreshes: no redirect URI.
    app = OAuthApp(client_id, secret, token_url=sage.get("token_url"))
    store = stores.tokens if stores.tokens is not None else FileTokenStore(sage["token_store"])
    quota = Quota(stores.quota) if stores.quota is not None else None
    return AsyncSageAccounting(
        session=OAuthSession(app, store), quota=quota, base_url=sage.get("base_url")
    )


class Shared:
    """What every agent of one server shares: the Sage client, the audit sink, approvals."""

    def __init__(
        self, policy: Policy, client: AsyncClient | None = None, stores: Stores = Stores()
    ) -> None:
        self.policy = policy
        self.client = client if client is not None else sage_client(policy, stores)
        self.budgets = stores.budgets
        path = policy.audit_path or Path(policy.source).resolve().parent / "audit.sqlite"
        self.audit: AuditSink = SQLiteAuditSink(path)
        self.approvals = ApprovalStore(path)


def build_server(shared: Shared, agent: AgentPolicy) -> Any:
    import anyio.to_thread
    from mcp import types
    from mcp.server.lowlevel import Server

    guarded = for_agent(
        shared.client,
        shared.policy,
        agent.key,
        audit=shared.audit,
        approvals=shared.approvals,
        budgets=shared.budgets,
    )
    runner = Runner(guarded, agent)
    listed = [
        types.Tool(
            name=t.name, description=t.description, input_schema=t.input_schema,
            annotations=types.ToolAnnotations(
                read_only_hint=t.annotations["readOnlyHint"],
                destructive_hint=t.annotations["destructiveHint"],
                idempotent_hint=t.annotations["idempotentHint"],
                open_world_hint=t.annotations["openWorldHint"],
            ) if t.annotations else None,
        )
        for t in agent_tools(agent)
    ]  # fmt: skip

    async def list_tools(_ctx: Any, _params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=listed)

    async def call_tool(_ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        result, is_error = await runner.call(params.name, params.arguments or {})
        # The audit log is complete before the agent hears back (others may read it at once).
        await anyio.to_thread.run_sync(flush_audit, guarded)
        return types.CallToolResult(
            content=[types.TextContent(text=tool_text(result))],
            structured_content=result,
            is_error=is_error,
        )

    return Server(
        "sage-accounting",
        version=__version__,
        instructions=f"Sage Accounting for {agent.name}: only what its policy allows.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


async def serve_stdio(
    policy: Policy,
    key: str | None = None,
    client: AsyncClient | None = None,
    stores: Stores = Stores(),
) -> None:
    from mcp.server.stdio import stdio_server

    key = key if key is not None else os.environ.get(KEY_VARIABLE, "")
    agent = policy.agent_for_key(key) if key else None
    if agent is None:
        raise PolicyError(f"{KEY_VARIABLE} holds no agent's key of {policy.source}")
    server = build_server(Shared(policy, client, stores), agent)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def http_app(policy: Policy, client: AsyncClient | None = None, stores: Stores = Stores()) -> Any:
    """One ASGI app for every agent with a key: the bearer key picks the agent's server."""
    shared = Shared(policy, client, stores)
    by_hash: dict[str, tuple[Any, Any]] = {}
    for agent in policy.agents.values():
        if agent.key_sha256:
            server = build_server(shared, agent)
            by_hash[agent.key_sha256] = (server, server.streamable_http_app())

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, [server for server, _app in by_hash.values()])
            return
        headers = dict(scope.get("headers") or [])
        auth = headers.get(b"authorization", b"").decode("latin-1")
        chosen = None
        if auth.startswith("Bearer "):
            agent = policy.agent_for_key(auth[len("Bearer ") :])
            chosen = by_hash.get(agent.key_sha256 or "") if agent else None
        if chosen is None:
            await _unauthorized(send)
            return
        await chosen[1](scope, receive, send)

    return app


async def _lifespan(receive: Any, send: Any, servers: list[Any]) -> None:
    async with contextlib.AsyncExitStack() as stack:
        await receive()  # lifespan.startup
        for server in servers:
            await stack.enter_async_context(server.session_manager.run())
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
    await send({"type": "lifespan.shutdown.complete"})


async def _unauthorized(send: Any) -> None:
    body = json.dumps({"error": "unknown or missing agent key"}).encode()
    await send({"type": "http.response.start", "status": 401, "headers": [
        (b"content-type", b"application/json"), (b"www-authenticate", b"Bearer"),
        (b"content-length", str(len(body)).encode())]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


def serve_http(
    policy: Policy,
    port: int = 8765,
    client: AsyncClient | None = None,
    stores: Stores = Stores(),
) -> None:
    """Serve on 127.0.0.1 only; prints the URL (with the port chosen, for port 0) once the
    policy's agents are ready to be served (a policy refused is never announced as served)."""
    import uvicorn

    app = http_app(policy, client, stores)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    print(f"serving MCP on http://127.0.0.1:{sock.getsockname()[1]}/mcp", flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


__all__ = [
    "KEY_VARIABLE",
    "Stores",
    "build_server",
    "hash_key",
    "http_app",
    "serve_http",
    "serve_stdio",
]
