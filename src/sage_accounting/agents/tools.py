"""An agent's tools: the operations its policy allows, as JSON Schemas, in MCP's shape and in
the function-calling formats of the main model APIs.

The schemas come from the generated ``_tool_schemas.json`` (built from the IR), so building a
tool list needs no pydantic. What the policy denies is absent from the list, not merely refused.
By default every permitted operation is a tool; ``tools = [resources]`` in the policy narrows the
direct tools to those resources, and two meta-tools (search the permitted operations by words,
call one by name) reach the rest.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
from dataclasses import dataclass
from typing import Any

from .policy import AgentPolicy

SEARCH = "search_operations"
CALL = "call_operation"
PAGE_SIZE = 20


@functools.cache
def schemas() -> dict[str, Any]:
    # Beside the generated package's __init__.py (in a checkout, another root than this file's).
    path = importlib.resources.files("sage_accounting") / "_tool_schemas.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@dataclass(frozen=True)
class Tool:
    name: str  # "sales_invoices.create": as in the policy
    description: str
    input_schema: dict[str, Any]
    operation_id: str | None = None  # None for the meta-tools


def tool_name(entry: dict[str, Any]) -> str:
    return f"{entry['resource']}.{entry['method']}"


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
    return Tool(tool_name(entry), entry["description"], schema, operation_id)


def meta_tools() -> list[Tool]:
    return [
        Tool(
            SEARCH,
            "Search the Sage operations this agent may use, by words (e.g. 'unpaid invoices'). "
            "Returns their names and descriptions; call one with call_operation.",
            {"type": "object", "properties": {"query": {"type": "string"}},
             "required": ["query"]},  # fmt: skip
        ),
        Tool(
            CALL,
            "Call a permitted Sage operation by name (e.g. 'contacts.list') with its arguments.",
            {"type": "object",
             "properties": {"name": {"type": "string"}, "arguments": {"type": "object"}},
             "required": ["name"]},  # fmt: skip
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
    return tools + meta_tools() if agent.meta_tools else tools


def search(agent: AgentPolicy, query: str, limit: int = 15) -> list[dict[str, str]]:
    """Permitted operations ranked by how many of the query's words their name and
    description contain."""
    wanted = [w for w in re.findall(r"[a-z0-9]+", query.lower()) if len(w) > 1]
    entries = schemas()["operations"]
    scored = []
    for op_id in agent.permitted():
        entry = entries[op_id]
        text = f"{tool_name(entry)} {entry['description']}".lower().replace("_", " ")
        score = sum(1 for w in wanted if w in text or w.rstrip("s") in text)
        if score:
            scored.append((-score, tool_name(entry), entry["description"]))
    return [{"name": n, "description": d} for _s, n, d in sorted(scored)[:limit]]


# -- the formats of model APIs ------------------------------------------------------------------------


def function_name(tool: Tool) -> str:
    """Model APIs want [A-Za-z0-9_-]: "sales_invoices.create" -> "sales_invoices__create"."""
    return tool.name.replace(".", "__")


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
