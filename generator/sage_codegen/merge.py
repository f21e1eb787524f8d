"""Merge several OpenAPI 3.0 documents describing one API into one, by documented rules.

Sage publishes one API as many module documents, each with its own copy of the definitions it
uses. The rules, applied to documents in file-name order so the result is deterministic:

- documents must share one server: a document for another host is another API and is refused;
- a path or operationId defined twice is an error, unless the two path items are equal;
- copies of a definition that are equal are one definition (the norm, not reported);
- copies that differ only in text (``description``, ``title``, ``example``, vendor extensions
  ``x-...``) keep the first copy's text: a warning;
- copies that really differ are merged: the union of their properties; a property present in one
  copy only is kept and optional; a property typed differently is widened to a type that accepts
  both on the wire (integer|number -> number, number|string -> number, read as the lenient
  Decimal that accepts numeric strings; one type with other keywords differing keeps the type,
  enums united; anything else -> untyped); ``required`` keeps only what every copy requires. Each merged property is a warning naming both pointers. Any other
  difference (the definition's own type, say) is an error.
"""

from __future__ import annotations

from typing import Any

from .errors import SpecError, escape_pointer_token, pointer
from .report import Report
from .swagger2 import HTTP_METHODS, SOURCE_KEY

TEXT_KEYS = {"description", "title", "example"}
# (type a, type b) -> the type that accepts a value of either on the wire; sorted pairs.
WIDENED = {("integer", "number"): "number", ("number", "string"): "number"}


def merge(documents: list[dict[str, Any]], names: list[str], report: Report) -> dict[str, Any]:
    merged: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": documents[0].get("info") or {},
        "paths": {},
        "components": {"schemas": {}},
    }
    if "servers" in documents[0]:
        merged["servers"] = documents[0]["servers"]
    tags: dict[str, Any] = {}
    owner_of_path: dict[str, str] = {}
    owner_of_op_id: dict[str, str] = {}
    schemas: dict[str, Any] = merged["components"]["schemas"]
    for doc, name in zip(documents, names, strict=True):
        if doc.get("servers") != merged.get("servers"):
            title = (doc.get("info") or {}).get("title", "")
            raise SpecError(
                name,
                "/host",
                f"another API ({title!r} at {_server(doc)}), not {_server(merged)} of {names[0]}: "
                "documents of one API must share host and base path",
            )
        for tag in doc.get("tags") or []:
            tags.setdefault(tag["name"], tag)
        for path, item in doc["paths"].items():
            if path in owner_of_path:
                if _plain(merged["paths"][path]) == _plain(item):
                    report.warn(
                        "duplicate-path",
                        name,
                        pointer("paths", path),
                        f"path also defined, identically, in {owner_of_path[path]}: one kept",
                    )
                    continue
                raise SpecError(
                    name, pointer("paths", path), f"path also defined in {owner_of_path[path]}"
                )
            owner_of_path[path] = name
            merged["paths"][path] = item
            for method, op in item.items():
                if method not in HTTP_METHODS:
                    continue
                op_id = op["operationId"]
                if op_id in owner_of_op_id:
                    raise SpecError(
                        name,
                        pointer("paths", path, method, "operationId"),
                        f"duplicate operationId {op_id!r} (first at {owner_of_op_id[op_id]})",
                    )
                owner_of_op_id[op_id] = op[SOURCE_KEY]
        for schema_name, schema in ((doc.get("components") or {}).get("schemas") or {}).items():
            if schema_name in schemas:
                schemas[schema_name] = merge_definition(schemas[schema_name], schema, report)
            else:
                schemas[schema_name] = schema
    if tags:
        merged["tags"] = list(tags.values())
    return merged


def merge_definition(
    first: dict[str, Any], other: dict[str, Any], report: Report
) -> dict[str, Any]:
    """One definition from two copies (see the module's rules); ``first`` wins on text."""
    if _plain(first) == _plain(other):
        return first
    here, there = str(first[SOURCE_KEY]), str(other[SOURCE_KEY])
    if _without_text(first) == _without_text(other):
        report.warn(
            "definition-text-differs",
            *_split(there),
            f"copy differs from {here} only in descriptions or x- extensions: first kept",
        )
        return first
    return _merge_object(first, other, here, there, report)


def _merge_object(
    first: dict[str, Any], other: dict[str, Any], here: str, there: str, report: Report
) -> dict[str, Any]:
    rest_a = {k: v for k, v in _without_text(first).items() if k not in ("properties", "required")}
    rest_b = {k: v for k, v in _without_text(other).items() if k not in ("properties", "required")}
    if rest_a != rest_b or "properties" not in first or "properties" not in other:
        raise SpecError(*_split(there), f"definition conflicts with {here} beyond its properties")
    merged = dict(first)
    properties = dict(first["properties"])
    for prop, schema in other["properties"].items():
        token = f"/properties/{escape_pointer_token(prop)}"
        if prop not in properties:
            report.warn(
                "definition-conflict",
                *_split(there + token),
                f"property only in this copy, not in {here}: kept (union of properties)",
            )
            properties[prop] = schema
        elif _without_text(properties[prop]) != _without_text(schema):
            properties[prop] = _merge_property(
                properties[prop], schema, here + token, there + token, report
            )
    for prop in first["properties"]:
        if prop not in other["properties"]:
            report.warn(
                "definition-conflict",
                *_split(here + f"/properties/{escape_pointer_token(prop)}"),
                f"property not in the copy at {there}: kept (union of properties)",
            )
    merged["properties"] = properties
    required = [r for r in first.get("required") or [] if r in (other.get("required") or [])]
    if required:
        merged["required"] = required
    else:
        merged.pop("required", None)
    return merged


def _merge_property(
    a: dict[str, Any], b: dict[str, Any], here: str, there: str, report: Report
) -> dict[str, Any]:
    if "properties" in a and "properties" in b:
        return _merge_object(a, b, here, there, report)
    low, high = sorted((str(a.get("type")), str(b.get("type"))))
    widened = WIDENED.get((low, high))
    result = {k: v for k, v in a.items() if k in TEXT_KEYS or k.startswith("x-")}
    if low == high and "type" in a and "$ref" not in a and "$ref" not in b:
        # One type, other keywords differ (enum, format, items): keep the type, accept both.
        result["type"] = a["type"]
        if a.get("format") == b.get("format") and "format" in a:
            result["format"] = a["format"]
        if "enum" in a and "enum" in b:
            result["enum"] = list(dict.fromkeys([*a["enum"], *b["enum"]]))
        if "items" in a and "items" in b:
            result["items"] = a["items"] if a["items"] == b["items"] else {}
        outcome = f"kept as {a['type']}, accepting what either copy allows"
    elif widened:
        result["type"] = widened
        outcome = f"widened to {widened}"
    else:
        outcome = "read untyped (any value)"
    report.warn(
        "definition-conflict",
        *_split(there),
        f"type {_describe(b)} here, {_describe(a)} at {here}: {outcome}",
    )
    return result


def _describe(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    kind = str(schema.get("type", "untyped"))
    return f"{kind}({schema['format']})" if "format" in schema else kind


def _split(source: str) -> tuple[str, str]:
    file, _, where = source.partition("#")
    return file, where


def _plain(node: Any) -> Any:
    """``node`` without the generator's own source stamps."""
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items() if k != SOURCE_KEY}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _without_text(node: Any) -> Any:
    """``node`` without prose and vendor extensions: what a definition means on the wire.

    Property names are data, not keywords: a property called ``description`` stays."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == SOURCE_KEY or key in TEXT_KEYS or key.startswith("x-"):
                continue
            if key == "properties" and isinstance(value, dict):
                out[key] = {name: _without_text(prop) for name, prop in value.items()}
            else:
                out[key] = _without_text(value)
        return out
    if isinstance(node, list):
        return [_without_text(v) for v in node]
    return node


def _server(doc: dict[str, Any]) -> str:
    servers = doc.get("servers") or [{"url": "(none)"}]
    return str(servers[0]["url"])
