"""The spec's schemas as the IR builder reads them: class names, ``$ref`` walking, types, fields.

``Schemas`` is the state every part of the builder shares: a copy of the document's
definitions (definitions inferred from examples are added to it, never to the loaded document),
the class name of each definition and of each inline object, and the reading of a schema into a
``TypeRef`` or a model's fields.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .errors import SpecError, escape_pointer_token
from .ir import Field, ModelRole, TypeKind, TypeRef
from .naming import pascal, python_identifier
from .sage_rules import is_named_list
from .swagger2 import SOURCE_KEY

SCHEMA_PREFIX = "#/components/schemas/"


def spec_error(source: str, suffix: str, message: str) -> SpecError:
    """A SpecError at ``source`` (``file#pointer``) plus ``suffix`` (more pointer tokens)."""
    file, _, where = source.partition("#")
    return SpecError(file, where + suffix, message)


def is_inline_object(schema: dict[str, Any]) -> bool:
    return "$ref" not in schema and bool(schema.get("properties"))


def refs(node: Any) -> Iterator[str]:
    """The definitions a schema (or any part of the document) refers to, in document order."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref[len(SCHEMA_PREFIX) :]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


class Schemas:
    def __init__(self, definitions: dict[str, dict[str, Any]]) -> None:
        self.definitions: dict[str, dict[str, Any]] = dict(definitions)
        self.model_names = {name: pascal(name) for name in self.definitions}
        self.inline_name: dict[str, str] = {}  # pointer of an inline object -> its class name

    def add(self, name: str, schema: dict[str, Any]) -> None:
        """A definition the spec does not have (inferred from examples)."""
        self.definitions[name] = schema
        self.model_names[name] = pascal(name)

    def source(self, name: str) -> str:
        return str(self.definitions[name].get(SOURCE_KEY, f"(merged)#/components/schemas/{name}"))

    def target(self, ref: str) -> tuple[str, dict[str, Any]]:
        """The definition a ``$ref`` names, and its schema."""
        name = ref[len(SCHEMA_PREFIX) :]
        return name, self.definitions[name]

    def reachable(self, roots: list[str]) -> set[str]:
        seen: set[str] = set()
        todo = list(roots)
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(refs(self.definitions[name]))
        return seen

    def fields(self, schema: dict[str, Any], where: str, role: ModelRole) -> tuple[Field, ...]:
        """A model's fields; "required" holds for request models only (responses accept any)."""
        required = set(schema.get("required") or [])
        fields = []
        seen: dict[str, str] = {}
        for prop, prop_schema in (schema.get("properties") or {}).items():
            prop_where = f"{where}/properties/{escape_pointer_token(prop)}"
            py_name = python_identifier(prop)
            if py_name in seen:
                raise spec_error(
                    prop_where,
                    "",
                    f"properties {seen[py_name]!r} and {prop!r} both map to {py_name}",
                )
            seen[py_name] = prop
            fields.append(
                Field(
                    name=prop,
                    py_name=py_name,
                    type=self.type(prop_schema, prop_where),
                    required=prop in required and role == "request",
                    description=str(prop_schema.get("description", "")).strip(),
                    pointer=prop_where,
                )
            )
        return tuple(fields)

    def type(self, schema: dict[str, Any], where: str) -> TypeRef:
        ref = schema.get("$ref")
        if isinstance(ref, str):
            name, target = self.target(ref)
            if is_named_list(target):
                return TypeRef(
                    TypeKind.LIST, item=self.type(target.get("items") or {}, f"{where}/items")
                )
            return TypeRef(TypeKind.MODEL, model=self.model_names[name])
        kind, fmt = schema.get("type"), schema.get("format")
        enum = tuple(str(v) for v in schema.get("enum") or ())
        if kind == "array":
            items = schema.get("items") or {}
            return TypeRef(TypeKind.LIST, item=self.type(items, f"{where}/items"))
        if is_inline_object(schema):
            inline = self.inline_name.get(where)
            if inline is None:
                raise spec_error(where, "", "inline object found where none was collected")
            return TypeRef(TypeKind.MODEL, model=inline)
        if kind == "object" or (kind is None and "additionalProperties" in schema):
            return TypeRef(TypeKind.DICT)
        if kind == "string":
            if fmt == "date":
                return TypeRef(TypeKind.DATE, format=fmt)
            if fmt == "date-time":
                return TypeRef(TypeKind.DATETIME, format=fmt)
            if fmt in ("binary", "byte"):
                return TypeRef(TypeKind.BINARY, format=fmt)
            return TypeRef(TypeKind.STRING, enum=enum, format=fmt)
        if kind == "number":
            return TypeRef(TypeKind.DECIMAL, format=fmt)
        if kind == "integer":
            return TypeRef(TypeKind.INTEGER, format=fmt)
        if kind == "boolean":
            return TypeRef(TypeKind.BOOLEAN)
        if kind is None:
            return TypeRef(TypeKind.ANY)
        raise spec_error(where, "/type", f"unknown type {kind!r}")
