"""Swagger 2.0 -> OpenAPI 3.0 upconversion, in Python.

openapi-pydantic validates OpenAPI 3.x only, and the IR builder reads one dialect, so every Swagger
2.0 document is converted first:

- ``definitions`` -> ``components/schemas``, ``#/definitions/X`` refs -> ``#/components/schemas/X``;
  a ``description`` beside a ``$ref`` is kept (Sage documents fields that way);
- body parameters -> ``requestBody`` (the parameter's name is kept as ``x-body-name``);
- other parameters get their type keywords moved into ``schema``;
- ``produces``/``consumes`` -> ``content`` media types; ``type: file`` -> binary string;
- host, basePath and schemes -> ``servers``.

While converting, every reference and type is checked, so an unusable document fails here with the
JSON pointer *in the source file*. Each converted operation and schema records where it came from
in ``x-codegen-source`` (``file#pointer``), for errors found later.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import SpecError, escape_pointer_token, pointer
from .report import Report

SOURCE_KEY = "x-codegen-source"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
SCHEMA_TYPES = {"string", "number", "integer", "boolean", "array", "object"}
# Keywords of a non-body Swagger parameter that describe its value (they move into `schema`).
_PARAM_SCHEMA_KEYS = (
    "type",
    "format",
    "items",
    "enum",
    "default",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "multipleOf",
)
_PARAM_KEEP_KEYS = (
    "name",
    "in",
    "description",
    "required",
    "deprecated",
    "allowEmptyValue",
    "example",
)


# What a keyword's value must be (JSON types, as Python types); checked on every schema and
# parameter. A value that is null or empty means "not given": it is read so, with a warning. A
# value of another type has no safe reading: refused.
KEYWORD_TYPES: dict[str, tuple[type, ...]] = {
    "type": (str,),
    "format": (str,),
    "description": (str,),
    "title": (str,),
    "items": (dict,),
    "properties": (dict,),
    "additionalProperties": (dict, bool),
    "enum": (list,),
    "$ref": (str,),
}
_EMPTY_ALLOWED = {"items", "properties", "additionalProperties"}  # {} means "anything" there


class Swagger2Converter:
    """Converts one Swagger 2.0 document. ``file`` names it in errors."""

    def __init__(self, document: dict[str, Any], file: str, report: Report | None = None) -> None:
        self.doc = document
        self.file = file
        self.definitions: dict[str, Any] = document.get("definitions") or {}
        self.report = report if report is not None else Report(strict=True)
        self.unreferenced = set(self.definitions) - _referenced_definitions(document)
        self.definition: str | None = None  # the definition being converted, if any

    def fail(self, json_pointer: str, message: str) -> SpecError:
        return SpecError(self.file, json_pointer, message)

    # -- document ---------------------------------------------------------------------------------

    def convert(self) -> dict[str, Any]:
        doc = self.doc
        if not isinstance(doc.get("paths"), dict):
            raise self.fail("/paths", "missing or not an object")
        out: dict[str, Any] = {"openapi": "3.0.3", "info": doc.get("info") or {}}
        host = doc.get("host", "")
        base_path = doc.get("basePath", "")
        schemes = doc.get("schemes") or ["https"]
        if host or base_path:
            out["servers"] = [{"url": f"{schemes[0]}://{host}{base_path}" if host else base_path}]
        if "tags" in doc:
            out["tags"] = doc["tags"]
        for key, value in doc.items():
            if key.startswith("x-"):
                out[key] = value
        global_produces = doc.get("produces") or ["application/json"]
        global_consumes = doc.get("consumes") or ["application/json"]
        out["paths"] = {
            path: self.convert_path_item(path, item, global_produces, global_consumes)
            for path, item in doc["paths"].items()
        }
        schemas = {}
        for name, schema in self.definitions.items():
            self.definition = name
            schemas[name] = self.convert_schema(
                schema, pointer("definitions", name), top_level=True
            )
        self.definition = None
        out["components"] = {"schemas": schemas}
        return out

    def convert_path_item(
        self, path: str, item: Any, produces: list[str], consumes: list[str]
    ) -> dict[str, Any]:
        where = pointer("paths", path)
        if not isinstance(item, dict):
            raise self.fail(where, "a path item must be an object")
        out: dict[str, Any] = {}
        shared_params = item.get("parameters") or []
        for key, value in item.items():
            if key in HTTP_METHODS:
                out[key] = self.convert_operation(
                    value, f"{where}/{key}", (shared_params, where), produces, consumes
                )
            elif key.startswith("x-"):
                out[key] = value
            elif key != "parameters":
                raise self.fail(f"{where}/{key}", f"unknown path item field {key!r}")
        return out

    # -- operations -------------------------------------------------------------------------------

    def convert_operation(
        self,
        op: Any,
        where: str,
        shared: tuple[list[Any], str],
        produces: list[str],
        consumes: list[str],
    ) -> dict[str, Any]:
        """Convert one operation; ``shared`` is the path item's parameters and its pointer."""
        shared_params, item_where = shared
        if not isinstance(op, dict):
            raise self.fail(where, "an operation must be an object")
        produces = op.get("produces") or produces
        consumes = op.get("consumes") or consumes
        out: dict[str, Any] = {}
        for key in ("tags", "summary", "description", "operationId", "deprecated"):
            if key in op:
                out[key] = op[key]
        params: list[dict[str, Any]] = []
        own_names = {(p.get("name"), p.get("in")) for p in op.get("parameters") or []}
        # Path-level parameters apply unless the operation redefines them.
        for index, param in enumerate(op.get("parameters") or []):
            self.convert_parameter(param, f"{where}/parameters/{index}", params, out, consumes)
        for index, param in enumerate(shared_params):
            if (param.get("name"), param.get("in")) not in own_names:
                where_shared = f"{item_where}/parameters/{index}"
                self.convert_parameter(param, where_shared, params, out, consumes)
        if params:
            out["parameters"] = params
        responses = op.get("responses")
        if not isinstance(responses, dict) or not responses:
            raise self.fail(f"{where}/responses", "an operation needs at least one response")
        out["responses"] = {
            str(code): self.convert_response(resp, f"{where}/responses/{code}", produces)
            for code, resp in responses.items()
        }
        for key, value in op.items():
            if key.startswith("x-"):
                out[key] = value
        out[SOURCE_KEY] = f"{self.file}#{where}"
        return out

    def convert_parameter(
        self,
        param: Any,
        where: str,
        params: list[dict[str, Any]],
        op_out: dict[str, Any],
        consumes: list[str],
    ) -> None:
        if not isinstance(param, dict):
            raise self.fail(where, "a parameter must be an object")
        param = self.checked(param, where, {**KEYWORD_TYPES, "required": (bool,), "name": (str,)})
        if "$ref" in param:
            raise self.fail(where, "parameter references are not supported")
        location = param.get("in")
        if location == "body":
            if "schema" not in param:
                raise self.fail(where, "a body parameter needs a schema")
            body: dict[str, Any] = {
                "required": bool(param.get("required", False)),
                "content": {
                    media: {"schema": self.convert_schema(param["schema"], f"{where}/schema")}
                    for media in consumes
                },
                "x-body-name": param.get("name", "body"),
                SOURCE_KEY: f"{self.file}#{where}",
            }
            if "description" in param:
                body["description"] = param["description"]
            op_out["requestBody"] = body
            return
        if location not in ("query", "path", "header", "formData"):
            raise self.fail(f"{where}/in", f"unknown parameter location {location!r}")
        if location == "formData":
            raise self.fail(f"{where}/in", "formData parameters are not supported")
        if not isinstance(param.get("name"), str):
            raise self.fail(f"{where}/name", "a parameter needs a name")
        out = {key: param[key] for key in _PARAM_KEEP_KEYS if key in param}
        schema = {key: param[key] for key in _PARAM_SCHEMA_KEYS if key in param}
        if "type" not in schema:
            raise self.fail(where, f"parameter {param['name']!r} has no type")
        out["schema"] = self.convert_schema(schema, where)
        if location == "path":
            out["required"] = True
        out[SOURCE_KEY] = f"{self.file}#{where}"  # the body parameter may come first: indices move
        if param.get("collectionFormat") not in (None, "csv"):
            raise self.fail(
                f"{where}/collectionFormat", "only comma-separated arrays are supported"
            )
        params.append(out)

    def convert_response(self, resp: Any, where: str, produces: list[str]) -> dict[str, Any]:
        if not isinstance(resp, dict):
            raise self.fail(where, "a response must be an object")
        out: dict[str, Any] = {"description": resp.get("description", "")}
        if isinstance(resp.get("examples"), dict):
            out["x-examples"] = resp["examples"]  # kept: a response without schema is read by them
        if "schema" in resp:
            schema = self.convert_schema(resp["schema"], f"{where}/schema")
            out["content"] = {media: {"schema": schema} for media in produces}
        if "headers" in resp:
            out["headers"] = {
                name: {
                    "description": header.get("description", ""),
                    "schema": self.convert_schema(
                        {k: v for k, v in header.items() if k != "description"},
                        f"{where}/headers/{name}",
                    ),
                }
                for name, header in resp["headers"].items()
            }
        return out

    # -- schemas ----------------------------------------------------------------------------------

    def checked(
        self, node: dict[str, Any], where: str, types: dict[str, tuple[type, ...]]
    ) -> dict[str, Any]:
        """``node`` without keywords whose value is null or empty (each a warning); a keyword
        whose value is of another JSON type is refused."""
        out = {}
        for key, value in node.items():
            expected = types.get(key)
            if expected is None:
                out[key] = value
            elif value is None or (value in ("", [], {}) and key not in _EMPTY_ALLOWED):
                shown = json.dumps(value)
                self.report.warn(
                    "empty-keyword",
                    self.file,
                    f"{where}/{escape_pointer_token(key)}",
                    f"{key} is {shown}: read as not given",
                )
            elif not isinstance(value, expected):
                raise self.fail(
                    f"{where}/{escape_pointer_token(key)}",
                    f"{key} must be {' or '.join(_JSON_NAMES[t] for t in expected)}, "
                    f"not {_JSON_NAMES.get(type(value), type(value).__name__)}",
                )
            else:
                out[key] = value
        return out

    def convert_schema(self, schema: Any, where: str, top_level: bool = False) -> dict[str, Any]:
        if not isinstance(schema, dict):
            raise self.fail(where, "a schema must be an object")
        schema = self.checked(schema, where, KEYWORD_TYPES)
        required = schema.get("required")
        if required is not None and not (
            isinstance(required, list) and all(isinstance(r, str) for r in required)
        ):
            raise self.fail(f"{where}/required", "required must be a list of property names")
        if required == []:
            schema = {k: v for k, v in schema.items() if k != "required"}
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key == "$ref":
                out["$ref"] = self.convert_ref(value, f"{where}/$ref")
            elif key == "type":
                if value == "file":
                    out["type"], out["format"] = "string", "binary"
                elif value not in SCHEMA_TYPES:
                    if self.definition not in self.unreferenced:
                        raise self.fail(f"{where}/type", f"unknown type {value!r}")
                    # Nothing refers to this definition: read the value as untyped, and say so.
                    self.report.warn(
                        "unknown-type",
                        self.file,
                        f"{where}/type",
                        f"unknown type {value!r} in unreferenced definition "
                        f"{self.definition!r}: read as untyped",
                    )
                else:
                    out["type"] = value
            elif key == "properties":
                if not isinstance(value, dict):
                    raise self.fail(f"{where}/properties", "properties must be an object")
                out["properties"] = {
                    name: self.convert_schema(
                        prop, f"{where}/properties/{escape_pointer_token(name)}"
                    )
                    for name, prop in value.items()
                }
            elif key in ("items", "additionalProperties") and isinstance(value, dict):
                out[key] = self.convert_schema(value, f"{where}/{key}")
            elif key == "allOf":
                out["allOf"] = [
                    self.convert_schema(part, f"{where}/allOf/{i}") for i, part in enumerate(value)
                ]
            elif key == "x-nullable":
                out["nullable"] = bool(value)
            elif key == "discriminator" and isinstance(value, str):
                out["discriminator"] = {"propertyName": value}
            else:
                out[key] = value
        if out.get("type") == "array" and "items" not in out:
            # Sage leaves `items` out on a few arrays (AnalysisType.active_areas): any item.
            out["items"] = {}
        if top_level:
            out[SOURCE_KEY] = f"{self.file}#{where}"
        return out

    def convert_ref(self, ref: Any, where: str) -> str:
        prefix = "#/definitions/"
        if not isinstance(ref, str) or not ref.startswith(prefix):
            raise self.fail(where, f"unsupported $ref {ref!r} (only {prefix}... is supported)")
        name = ref[len(prefix) :]
        if name not in self.definitions:
            raise self.fail(where, f"dangling $ref: no definition {name!r}")
        return f"#/components/schemas/{name}"


_JSON_NAMES = {
    str: "a string",
    dict: "an object",
    list: "an array",
    bool: "a boolean",
    int: "a number",
    float: "a number",
}


def _referenced_definitions(document: dict[str, Any]) -> set[str]:
    """Definitions named by a ``$ref`` anywhere in the document (paths or other definitions)."""
    found: set[str] = set()
    todo: list[Any] = [document.get("paths"), document.get("definitions")]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/definitions/"):
                found.add(ref[len("#/definitions/") :])
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return found
