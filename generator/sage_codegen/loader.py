"""Read spec documents, upconvert them to OpenAPI 3.0, merge them into one API, validate it.

``load_spec(paths)`` is the single entry point used by ``generate``, ``inspect`` and ``diff``.
Any problem raises :class:`SpecError` naming the file and the JSON pointer at fault.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openapi_pydantic.v3.v3_0 import OpenAPI
from pydantic import ValidationError

from .errors import SpecError, pointer
from .swagger2 import HTTP_METHODS, SCHEMA_TYPES, SOURCE_KEY, Swagger2Converter


@dataclass(frozen=True)
class SpecDocument:
    """One input file as read: its display name, sha256 and parsed JSON."""

    name: str
    sha256: str
    data: dict[str, Any]


@dataclass(frozen=True)
class LoadedSpec:
    """The merged OpenAPI 3.0 document and the files it came from."""

    document: dict[str, Any]
    sources: tuple[SpecDocument, ...]

    @property
    def digest(self) -> str:
        """One short hash naming the whole input set (order-independent)."""
        joined = ",".join(sorted(f"{Path(s.name).name}:{s.sha256}" for s in self.sources))
        return hashlib.sha256(joined.encode()).hexdigest()[:16]


def expand_inputs(inputs: Iterable[Path]) -> list[Path]:
    """Files as given; a directory stands for the ``*.json`` files in it, sorted by name."""
    paths: list[Path] = []
    for path in inputs:
        if path.is_dir():
            found = sorted(
                p
                for p in path.glob("*.json")
                if not p.name.startswith(".") and not p.name.endswith(".lock.json")
            )
            if not found:
                raise SpecError(str(path), "", "directory holds no *.json spec document")
            paths.extend(found)
        else:
            paths.append(path)
    return paths


def load_spec(inputs: Sequence[Path]) -> LoadedSpec:
    documents = [read_document(path) for path in expand_inputs(inputs)]
    converted = [to_openapi3(doc) for doc in documents]
    merged = merge(converted, [doc.name for doc in documents])
    validate(merged)
    return LoadedSpec(merged, tuple(documents))


# -- reading ----------------------------------------------------------------------------------------


def read_document(path: Path) -> SpecDocument:
    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(name, "", f"cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
        data = json.loads(text)
    except UnicodeDecodeError as exc:
        raise SpecError(name, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        where = _pointer_at(text, exc.pos)
        raise SpecError(
            name, where, f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    if not isinstance(data, dict):
        raise SpecError(name, "", "a spec document must be a JSON object")
    return SpecDocument(name, hashlib.sha256(raw).hexdigest(), data)


def _pointer_at(text: str, pos: int) -> str:
    """The JSON pointer of the value being read at ``pos`` (best effort, for error messages)."""
    stack: list[list[Any]] = []  # [kind, key-or-index, expecting_key]
    i = 0
    last_string = ""
    while i < min(pos, len(text)):
        ch = text[i]
        if ch == '"':
            end = i + 1
            while end < len(text) and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            try:
                last_string = json.loads(text[i : end + 1])
            except json.JSONDecodeError:
                last_string = text[i + 1 : end]
            if stack and stack[-1][0] == "{" and stack[-1][2]:
                stack[-1][1] = last_string
            i = end + 1
            continue
        if ch == "{":
            stack.append(["{", None, True])
        elif ch == "[":
            stack.append(["[", 0, False])
        elif ch in "}]":
            if stack:
                stack.pop()
        elif ch == ":" and stack and stack[-1][0] == "{":
            stack[-1][2] = False
        elif ch == "," and stack:
            if stack[-1][0] == "[":
                stack[-1][1] += 1
            else:
                stack[-1][2] = True
        i += 1
    return pointer(*(frame[1] for frame in stack if frame[1] is not None))


# -- one document to OpenAPI 3.0 ---------------------------------------------------------------------


def to_openapi3(doc: SpecDocument) -> dict[str, Any]:
    data = doc.data
    if data.get("swagger") == "2.0":
        converted = Swagger2Converter(data, doc.name).convert()
    elif isinstance(data.get("openapi"), str) and data["openapi"].startswith("3.0"):
        converted = _check_openapi3(data, doc.name)
    elif "openapi" in data:
        raise SpecError(doc.name, "/openapi", f"unsupported OpenAPI version {data['openapi']!r}")
    else:
        raise SpecError(doc.name, "", "neither a Swagger 2.0 nor an OpenAPI 3.0 document")
    _synthesize_operation_ids(converted)
    return converted


def _check_openapi3(data: dict[str, Any], file: str) -> dict[str, Any]:
    """Check an OpenAPI 3.0 input the way the converter checks Swagger, and stamp sources."""
    doc: dict[str, Any] = json.loads(json.dumps(data))  # a private copy we may annotate
    schemas = (doc.get("components") or {}).get("schemas") or {}

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                prefix = "#/components/schemas/"
                if not ref.startswith(prefix):
                    raise SpecError(file, f"{where}/$ref", f"unsupported $ref {ref!r}")
                if ref[len(prefix) :] not in schemas:
                    raise SpecError(file, f"{where}/$ref", f"dangling $ref: {ref!r}")
            kind = node.get("type")
            if isinstance(kind, str) and where.rsplit("/", 1)[-1] != "properties":
                if kind not in SCHEMA_TYPES:
                    raise SpecError(file, f"{where}/type", f"unknown type {kind!r}")
            for key, value in node.items():
                walk(value, f"{where}{pointer(key)}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}/{index}")

    walk(doc, "")
    for path, item in (doc.get("paths") or {}).items():
        for method, op in item.items():
            if method in HTTP_METHODS and isinstance(op, dict):
                op[SOURCE_KEY] = f"{file}#{pointer('paths', path, method)}"
    for name, schema in schemas.items():
        if isinstance(schema, dict):
            schema[SOURCE_KEY] = f"{file}#{pointer('components', 'schemas', name)}"
    return doc


def _synthesize_operation_ids(doc: dict[str, Any]) -> None:
    """Give operations without an operationId one in Sage's own convention.

    Sage names ``GET /sales_invoices/{key}/release`` ``getSalesInvoicesKeyRelease``: the method,
    then each path segment in PascalCase with the braces dropped. The user-accounts document has no
    operationIds at all, so ``GET /businesses/{key}`` becomes ``getBusinessesKey``.
    """
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS and not op.get("operationId"):
                segments = [s.strip("{}") for s in path.split("/") if s]
                words = [w for s in segments for w in re.split(r"[_\-]", s) if w]
                op["operationId"] = method + "".join(w[:1].upper() + w[1:] for w in words)
                op["x-codegen-synthesized-id"] = True


# -- merging ---------------------------------------------------------------------------------------


def merge(documents: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    """Merge several OpenAPI 3.0 documents describing one API (same server) into one."""
    merged: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": documents[0].get("info") or {},
        "paths": {},
        "components": {"schemas": {}},
    }
    if "servers" in documents[0]:
        merged["servers"] = documents[0]["servers"]
    tags: dict[str, Any] = {}
    owner_of_schema: dict[str, str] = {}
    owner_of_path: dict[str, str] = {}
    owner_of_op_id: dict[str, str] = {}
    for doc, name in zip(documents, names, strict=True):
        if doc.get("servers") != merged.get("servers"):
            raise SpecError(
                name,
                "/host",
                f"server {_server(doc)} differs from {_server(merged)} in {names[0]}: "
                "documents of one API must share host and base path",
            )
        for tag in doc.get("tags") or []:
            tags.setdefault(tag["name"], tag)
        for path, item in doc["paths"].items():
            if path in owner_of_path:
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
        schemas = (doc.get("components") or {}).get("schemas") or {}
        for schema_name, schema in schemas.items():
            if schema_name in owner_of_schema:
                previous = merged["components"]["schemas"][schema_name]
                if _without_source(previous) != _without_source(schema):
                    raise SpecError(
                        name,
                        schema[SOURCE_KEY].split("#", 1)[1],
                        f"definition {schema_name!r} is also defined, differently, "
                        f"in {owner_of_schema[schema_name]}",
                    )
                continue
            owner_of_schema[schema_name] = name
            merged["components"]["schemas"][schema_name] = schema
    if tags:
        merged["tags"] = list(tags.values())
    return merged


def _server(doc: dict[str, Any]) -> str:
    servers = doc.get("servers") or [{"url": "(none)"}]
    return str(servers[0]["url"])


def _without_source(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != SOURCE_KEY}


# -- validation ------------------------------------------------------------------------------------


def validate(document: dict[str, Any]) -> None:
    """Validate the merged document with openapi-pydantic; map the first error to its source."""
    try:
        OpenAPI.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        location = [str(part) for part in first["loc"]]
        file, where = source_of(document, location)
        raise SpecError(file, where, f"invalid OpenAPI: {first['msg']}") from None


def source_of(document: dict[str, Any], location: list[str]) -> tuple[str, str]:
    """Map a location in the merged document to ``(file, pointer)`` in the source document.

    Walks down ``location`` remembering the deepest node stamped with ``x-codegen-source``; the
    rest of the location is appended to that node's source pointer.
    """
    node: Any = document
    file, base, consumed = "(merged)", "", 0
    for depth, part in enumerate(location):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            break
        if isinstance(node, dict) and SOURCE_KEY in node:
            file, base = node[SOURCE_KEY].split("#", 1)
            consumed = depth + 1
    rest = location[consumed:]
    if file == "(merged)":
        return file, pointer(*location)
    return file, base + pointer(*rest)
