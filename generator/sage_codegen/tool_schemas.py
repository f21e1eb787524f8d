"""One JSON Schema per operation, for AI agents' tools: written as ``_tool_schemas.json``.

``sage_accounting.agents`` turns these into MCP tools and the function-calling formats of model
APIs. They come from the IR, not from the pydantic models at run time, so an agent's tool list
builds in milliseconds. Request models are shared ``$defs``; each operation lists the ones it
reaches, so a tool carries only its own. Money (decimal) is a string in decimal form: a model
that writes JSON numbers would round it through a float.
"""

from __future__ import annotations

import json
from typing import Any, assert_never

from .ir import Api, Field, Model, Operation, Parameter, TypeKind, TypeRef

DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"


def type_schema(t: TypeRef) -> dict[str, Any]:
    match t.kind:
        case TypeKind.STRING:
            return {"type": "string", "enum": list(t.enum)} if t.enum else {"type": "string"}
        case TypeKind.INTEGER:
            return {"type": "integer"}
        case TypeKind.DECIMAL:
            return {"type": "string", "format": "decimal", "pattern": DECIMAL_PATTERN}
        case TypeKind.BOOLEAN:
            return {"type": "boolean"}
        case TypeKind.DATE:
            return {"type": "string", "format": "date"}
        case TypeKind.DATETIME:
            return {"type": "string", "format": "date-time"}
        case TypeKind.BINARY:
            return {"type": "string", "contentEncoding": "base64"}
        case TypeKind.ANY:
            return {}
        case TypeKind.DICT:
            return {"type": "object"}
        case TypeKind.LIST:
            assert t.item is not None
            return {"type": "array", "items": type_schema(t.item)}
        case TypeKind.MODEL:
            return {"$ref": f"#/$defs/{t.model}"}
    assert_never(t.kind)


def _with_description(schema: dict[str, Any], text: str) -> dict[str, Any]:
    text = " ".join(text.split())
    if text and "$ref" not in schema:
        return {**schema, "description": text[:300]}
    return schema


def model_schema(model: Model) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {f.name: _with_description(type_schema(f.type), f.description)
                       for f in model.fields},  # fmt: skip
        "required": [f.name for f in model.fields if f.required],
    }


NOT_MONEY = ("quantity", "rate", "percentage")


def is_money(f: Field) -> bool:
    """A decimal that is an amount of money (quantities, rates and percentages are decimals too):
    what an approval threshold compares."""
    return f.type.kind is TypeKind.DECIMAL and not any(word in f.name for word in NOT_MONEY)


def _reachable(start: str, models: dict[str, Model]) -> list[str]:
    seen: list[str] = []
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen or name not in models:
            continue
        seen.append(name)
        for f in models[name].fields:
            if f.type.referenced_model:
                todo.append(f.type.referenced_model)
    return sorted(seen)


def _param_schema(p: Parameter) -> dict[str, Any]:
    schema = type_schema(p.type)
    if p.type.kind is TypeKind.LIST:  # Sage takes lists in the query as comma-separated text
        schema = {"type": "string", "description": "comma-separated"}
    return _with_description(schema, p.description)


def describe(op: Operation) -> str:
    parts = [(op.summary.strip() or f"{op.method} {op.path}").rstrip(".") + "."]
    parts.append(f"Access: {op.access.describe()}." if op.access else "Access: not stated.")
    if op.availability:
        parts.append(f"Available in: {op.availability.describe()}.")
    return " ".join(" ".join(parts).split())


def operation_entry(op: Operation, models: dict[str, Model]) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for p in op.parameters:
        properties[p.name] = _param_schema(p)
        if p.required:
            required.append(p.name)
    defs: list[str] = []
    money: set[str] = set()
    if op.body is not None:
        properties[op.body.key] = {"$ref": f"#/$defs/{op.body.model}"}
        required.append(op.body.key)
        defs = _reachable(op.body.model, models)
        money = {f.name for d in defs for f in models[d].fields if is_money(f)}
    return {
        "operation_id": op.operation_id,
        "resource": op.resource,
        "method": op.py_name,
        "kind": op.kind,
        "http": f"{op.method} {op.path}",
        "description": describe(op),
        "input": {"type": "object", "properties": properties, "required": required},
        "defs": defs,
        "money_fields": sorted(money),
    }


def render_tool_schemas(api: Api) -> str:
    """The JSON document, deterministic: keys in spec order, one operation a line."""
    models = {m.name: m for m in api.models}
    used = sorted({d for op in api.operations if op.body
                   for d in _reachable(op.body.model, models)})  # fmt: skip
    operations = {op.operation_id: operation_entry(op, models) for op in api.operations}
    lines = ['{"spec_digest": ' + json.dumps(api.spec_digest) + ","]
    lines.append('"$defs": {')
    lines.append(",\n".join(f"{json.dumps(n)}: {_dump(model_schema(models[n]))}" for n in used))
    lines.append('},\n"operations": {')
    lines.append(",\n".join(f"{json.dumps(k)}: {_dump(v)}" for k, v in operations.items()))
    lines.append("}}")
    return "\n".join(lines) + "\n"


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
