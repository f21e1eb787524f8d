"""An agent's tools: the operations its policy allows, as JSON Schemas, in MCP's shape and in
the function-calling formats of the main model APIs.

The schemas come from the generated ``_tool_schemas.json`` (built from the IR), so building a
tool list needs no pydantic. What the policy denies is absent from the list, not merely refused.
By default every permitted operation is a tool; ``tools = [resources]`` in the policy narrows the
direct tools to those resources (a tool left out cannot be called by its name), and two
meta-tools (search the permitted operations by words, call one by name) reach the rest unless
``meta_tools = false``.

Tool names are ``resource_method`` (``contacts_list``): letters, digits and underscores, valid
for every major MCP client and model API as they are. Each tool carries MCP annotations derived
from its operation's method (``readOnlyHint``, ``destructiveHint``, ``idempotentHint``,
``openWorldHint``).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .policy import AgentPolicy

SEARCH = "search_operations"
CALL = "call_operation"
PAGE_SIZE = 20


@functools.cache
def schemas() -> dict[str, Any]:
    path = Path(__file__).resolve().parents[1] / "_tool_schemas.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@dataclass(frozen=True)
class Tool:
    name: str  # "sales_invoices_create"
    description: str
    input_schema: dict[str, Any]
    operation_id: str | None = None  # None for the meta-tools
    annotations: dict[str, bool] | None = None  # MCP's hints, by their wire names


def tool_name(entry: dict[str, Any]) -> str:
    """ "sales_invoices_create": the policy's ``sales_invoices.create`` as a tool name."""
    return f"{entry['resource']}_{entry['method']}"


def hints(method: str, kind: str) -> dict[str, bool]:
    """MCP's hints from an operation's facts: a GET only reads; a create adds (POST, not
    idempotent); an update (PUT) or a delete changes what exists, and repeating it changes
    nothing more; any other POST (release, void, ...) changes what exists. All reach Sage."""
    read_only = method == "GET"
    return {
        "readOnlyHint": read_only,
        "destructiveHint": not read_only and not (method == "POST" and kind == "create"),
        "idempotentHint": method in ("GET", "PUT", "DELETE"),
        "openWorldHint": True,
    }


def operation_tool(operation_id: str, agent: AgentPolicy) -> Tool:
    data = schemas()
    entry = data["operations"][operation_id]
    given = entry["input"]
    properties = dict(given["properties"])
    properties["business_id"] = {
        "type": "string", "description": "The business to act on (default: the agent's)."
    }  # fmt: skip
    if entry["kind"] == "list":
        properties["cursor"] = {
            "type": "string", "description": "next_cursor of the previous page, to read on."
        }  # fmt: skip
    if entry["http"].split()[0] != "GET" and (agent.approval_areas or agent.approval_over):
        properties["approval_id"] = {
            "type": "string",
            "description": "The approval id a previous call returned, once a person approved it.",
        }
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "required": list(given["required"])}  # fmt: skip
    if entry["defs"]:
        schema["$defs"] = {name: data["$defs"][name] for name in entry["defs"]}
    method = entry["http"].split()[0]
    return Tool(tool_name(entry), entry["description"], schema, operation_id,
                hints(method, entry["kind"]))  # fmt: skip


def meta_tools(agent: AgentPolicy) -> list[Tool]:
    names = sorted(tool_name(schemas()["operations"][op_id]) for op_id in agent.permitted())
    return [
        Tool(
            SEARCH,
            "Search the Sage operations this agent may use, by words (e.g. 'unpaid invoices'). "
            "Returns their names, descriptions and parameters (a JSON Schema); call one with "
            "call_operation.",
            {"type": "object",
             "properties": {"query": {"type": "string", "minLength": 1,
                                      "description": "Words the operation's name or "
                                                     "description contains."}},
             "required": ["query"], "additionalProperties": False},  # fmt: skip
            annotations={"readOnlyHint": True, "destructiveHint": False,
                         "idempotentHint": True, "openWorldHint": False},  # fmt: skip
        ),
        Tool(
            CALL,
            "Call a permitted Sage operation by name (e.g. 'contacts_list') with its arguments, "
            "as search_operations describes them.",
            {"type": "object",
             "properties": {
                 "name": {"type": "string", "enum": names,
                          "description": "The operation, as search_operations names it."},
                 "arguments": {"type": "object", "description": "The operation's parameters "
                                                               "(its schema: search_operations)."},
             },
             "required": ["name"], "additionalProperties": False},  # fmt: skip
            annotations={"readOnlyHint": False, "destructiveHint": True,
                         "idempotentHint": False, "openWorldHint": True},  # fmt: skip
        ),
    ]


def agent_tools(agent: AgentPolicy) -> list[Tool]:
    """The agent's tool list: permitted operations (of its ``tools`` resources when the policy
    names some) and, unless turned off, the two meta-tools."""
    entries = schemas()["operations"]
    chosen = [
        op_id for op_id in agent.permitted()
        if agent.tools is None or entries[op_id]["resource"] in agent.tools
    ]  # fmt: skip
    tools = [operation_tool(op_id, agent) for op_id in chosen]
    return tools + meta_tools(agent) if agent.meta_tools else tools


def search(agent: AgentPolicy, query: str, limit: int = 15) -> list[dict[str, Any]]:
    """Permitted operations ranked by how many of the query's words their name and
    description contain, each with its parameters (the input schema its tool has)."""
    wanted = [w for w in re.findall(r"[a-z0-9]+", query.lower()) if len(w) > 1]
    entries = schemas()["operations"]
    scored = []
    for op_id in agent.permitted():
        entry = entries[op_id]
        text = f"{tool_name(entry)} {entry['description']}".lower().replace("_", " ")
        score = sum(1 for w in wanted if w in text or w.rstrip("s") in text)
        if score:
            scored.append((-score, tool_name(entry), entry["description"], op_id))
    return [
        {"name": n, "description": d, "parameters": operation_tool(op_id, agent).input_schema}
        for _s, n, d, op_id in sorted(scored)[:limit]
    ]


# -- the formats of model APIs ------------------------------------------------------------------------


def function_name(tool: Tool) -> str:
    """Model APIs want [A-Za-z0-9_-]{1,64}: tool names are already that."""
    return tool.name


def as_openai(tools: list[Tool]) -> list[dict[str, Any]]:
    return [
        {"type": "function", "function": {"name": function_name(t), "description": t.description,
                                          "parameters": t.input_schema}}
        for t in tools
    ]  # fmt: skip


def as_anthropic(tools: list[Tool]) -> list[dict[str, Any]]:
    return [
        {"name": function_name(t), "description": t.description, "input_schema": t.input_schema}
        for t in tools
    ]


def as_gemini(tools: list[Tool]) -> dict[str, Any]:
    return {
        "function_declarations": [
            {"name": function_name(t), "description": t.description,
             "parameters_json_schema": t.input_schema}
            for t in tools
        ]
    }  # fmt: skip
