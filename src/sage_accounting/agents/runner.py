"""Carrying out an agent's tool call with its guarded (async) client.

Every call is checked against its operation before anything is sent: a direct call names one of
the agent's listed tools; path parameters are required non-empty strings, query parameters have
their declared types, and the body is validated by the operation's request model (wrong types,
unknown fields and missing required fields refused). Every failure is a tool error in plain
words, never a protocol error. Arguments are split into path, query and body as the operation's
table entry says, and sent as JSON as they are (money stays the decimal string the agent wrote).
Lists answer one page with a ``next_cursor`` to pass back: the SDK's page walk decides it
(``_pagination.PageWalk``: ``$next`` followed only under the base URL, ``$total`` where ``$next``
is missing) and the page size (the agent's 20 unless it asks, at most Sage's 200). Sage's numbers are decoded as Decimal
and reach the agent as strings of their exact digits (never through a float). Writes waiting for
a person answer with the approval id and a preview; the call that names the approved id sends
the very request approved, once.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from .._runtime import (
    AsyncClient,
    Operation,
    PageWalk,
    RequestOptions,
    SageArgumentError,
    SageError,
    WalkPoint,
    is_within,
    loads,
    page_number,
    page_of_body,
    with_page_size,
)
from .approvals import ApprovalStore
from .errors import AccessDenied, ApprovalRequired
from .guard import agent_guard_of
from .policy import AgentPolicy, operations
from .tools import CALL, PAGE_SIZE, SEARCH, agent_tools, schemas, search, tool_name

RESERVED = ("business_id", "cursor", "approval_id")


class ToolError(Exception):
    """A call the runner refuses before the SDK sees it (unknown tool, bad cursor, ...)."""


class Runner:
    def _approvals(self) -> ApprovalStore:
        """Where the agent's writes wait for approval: its guard's (the client's request hook)."""
        guard = agent_guard_of(self.client)
        if guard is None:
            raise TypeError("Runner needs a client made by for_agent")
        return guard.approvals

    def __init__(self, client: AsyncClient, agent: AgentPolicy) -> None:
        self.client = client  # an async client from for_agent
        self.agent = agent
        self._by_name: dict[str, str] = {}
        for op_id, entry in schemas()["operations"].items():
            self._by_name[tool_name(entry)] = op_id
            self._by_name[f"{entry['resource']}.{entry['method']}"] = op_id  # the policy's name
        self._listed = {t.name for t in agent_tools(agent)}

    async def call(self, name: str, arguments: Any) -> tuple[dict[str, Any], bool]:
        """(result, is_error) for the tool ``name``."""
        try:
            return await self._call(name, arguments, direct=True)
        except ApprovalRequired as exc:
            inner = arguments.get("arguments") if name == CALL else arguments
            self._approvals().set_arguments(
                exc.approval_id, {**inner, "idempotency_id": exc.idempotency_id}
            )
            return {
                "status": "awaiting approval",
                "approval_id": exc.approval_id,
                "message": str(exc) + " Call this tool again with approval_id once approved.",
                "preview": exc.preview,
            }, False
        except (AccessDenied, ToolError) as exc:
            return {"error": str(exc)}, True
        except SageArgumentError as exc:  # refused before anything was sent
            return {"error": f"invalid arguments: {exc}"}, True
        except SageError as exc:
            return {"error": f"{type(exc).__name__}: {exc}"}, True
        except Exception as exc:  # never a protocol error, never a traceback to the agent
            return {"error": f"the call failed ({type(exc).__name__}); nothing more is known"}, True

    async def _call(self, name: str, arguments: Any, direct: bool) -> tuple[dict[str, Any], bool]:
        if not isinstance(arguments, dict):
            raise ToolError("arguments must be an object")
        if name in (SEARCH, CALL) and not self.agent.meta_tools:
            raise ToolError(f"{name} is turned off for {self.agent.name}")
        if name == SEARCH:
            query = arguments.get("query")
            if not isinstance(query, str) or not query.strip():
                raise ToolError("query must be a non-empty string of words")
            return {"operations": search(self.agent, query)}, False
        if name == CALL:
            unknown = set(arguments) - {"name", "arguments"}
            if unknown:
                raise ToolError(f"unknown argument {sorted(unknown)[0]!r} of {CALL}")
            inner = arguments.get("arguments")
            inner = {} if inner is None else inner
            if not isinstance(arguments.get("name"), str):
                raise ToolError("name must be the name of an operation (search_operations)")
            return await self._call(arguments["name"], inner, direct=False)
        op_id = self._by_name.get(name)
        if direct and name not in self._listed:
            raise ToolError(f"{name!r} is not one of {self.agent.name}'s tools")
        if op_id is None:
            raise ToolError(f"no operation {name!r}")
        # A denied operation is not among the tools; named through call_operation it still
        # goes to the guard, which refuses it before any request and audits the attempt.
        if arguments.get("approval_id"):
            return await self._approved(op_id, str(arguments["approval_id"])), False
        return await self._run(op_id, arguments), False

    async def _approved(self, op_id: str, approval_id: str) -> dict[str, Any]:
        store = self._approvals()
        pending = store.get(approval_id)
        if pending is None or pending.agent != self.agent.key or pending.operation_id != op_id:
            raise ToolError(f"no approval {approval_id} for this agent and operation")
        if pending.status != "approved":
            raise ToolError(f"approval {approval_id} is {pending.status}, not approved")
        return await self._run(op_id, dict(pending.preview.get("arguments") or {}))

    async def _run(self, op_id: str, arguments: dict[str, Any]) -> dict[str, Any]:
        op = operations()[op_id]
        arguments = dict(arguments)
        cursor = arguments.pop("cursor", None)
        resumed: WalkPoint | None = None
        if cursor and op.kind == "list":
            arguments, resumed = _read_cursor(str(cursor), self.client.base_url)
        path_params, query, body, options = _split(op, arguments)
        if op.kind == "list":
            query = with_page_size(op, query, default=PAGE_SIZE)
        request = self.client.prepare(op, path=path_params, query=query, body=body,
                                      body_model=body_model(op_id), options=options)  # fmt: skip
        if resumed is not None:  # the page the walk said was next, as Sage's $next wrote it
            request = request.with_url(resumed.url)
        response = await self.client.send(request)
        data = loads(response.content) if response.content else None  # Decimal, never float
        if op.kind == "list" and isinstance(data, dict):
            base_url = self.client.base_url
            walk = (
                PageWalk.resume(base_url, resumed) if resumed else PageWalk(base_url, request.url)
            )
            page = page_of_body(response, data)
            new = walk.is_new(page)  # a page repeating the one before ends the walk, empty
            point = walk.point() if new and walk.next(page) else None
            return {"items": page.items if new else [], "total": page.total,
                    "page": page.page or page_number(request.url),
                    "next_cursor": _write_cursor(arguments, point) if point else None}  # fmt: skip
        return {"status": response.status_code, "result": data}


def _split(op: Operation, arguments: dict[str, Any]) -> tuple[
    dict[str, str], dict[str, Any], dict[str, Any] | None, RequestOptions
]:  # fmt: skip
    path_params: dict[str, str] = {}
    query: dict[str, Any] = {}
    body = None
    options: RequestOptions = {}
    for name, value in arguments.items():
        if "{" + name + "}" in op.path:
            if not isinstance(value, str) or not value:
                raise ToolError(f"{name} must be a non-empty string (an id), not {value!r}")
            path_params[name] = value
        elif name in op.query:
            query[name] = value
        elif name == op.body_key:
            body = value
        elif name == "business_id":
            options["business_id"] = str(value)
        elif name == "idempotency_id" and value:
            options["idempotency_id"] = str(value)
        elif name not in RESERVED:
            raise ToolError(f"unknown argument {name!r}")
    for name in re.findall(r"{(\w+)}", op.path):
        if name not in path_params:
            raise ToolError(f"{name} is required (the id of the record)")
    if op.method in ("POST", "PUT") and op.body_key and body is None:
        raise ToolError(f"{op.body_key} is required")
    return path_params, query, body, options


def body_model(op_id: str) -> Any:
    """The request model that checks the operation's body (None: it has none)."""
    entry = schemas()["operations"][op_id]
    key = operations()[op_id].body_key
    ref = entry["input"]["properties"].get(key, {}).get("$ref", "") if key else ""
    if not ref:
        return None
    from .. import models

    return getattr(models, ref.rsplit("/", 1)[-1])


def tool_text(result: dict[str, Any]) -> str:
    """A tool's result as the JSON text the agent reads (decimals as strings of their digits)."""
    return json.dumps(result, default=str, ensure_ascii=False)


def _write_cursor(arguments: dict[str, Any], point: WalkPoint) -> str:
    """Where an agent's walk goes on: the call's arguments and the walk's point (the next
    page's URL, Sage's ``$next``; the records seen; the last page's digest)."""
    state = {"arguments": arguments, "next": point.url, "seen": point.seen_items,
             "after": point.previous}  # fmt: skip
    return base64.urlsafe_b64encode(json.dumps(state, sort_keys=True).encode()).decode()


def _read_cursor(cursor: str, base_url: str) -> tuple[dict[str, Any], WalkPoint]:
    """A cursor's arguments and walk point; a ToolError for anything but a cursor this runner
    wrote, and for a next URL outside the client's base URL (a forged cursor must not take the
    token elsewhere; the guard then holds the URL to the operation's path)."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError:
        raise ToolError("cursor is not one this server gave") from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("arguments"), dict)
        or not isinstance(data.get("next"), str)
        or type(data.get("seen")) is not int
        or data["seen"] < 0
        or not isinstance(data.get("after"), str)
        or not is_within(data["next"], base_url)
    ):
        raise ToolError("cursor is not one this server gave")
    return data["arguments"], WalkPoint(data["next"], data["seen"], data["after"])
