"""What an operation returns: a list, one model, bytes or nothing, even when the spec is silent.

A list is an inline ``type: array`` or a named list definition. Without a schema, the path's
shape and the method decide (``sage_rules``); the model is then the definition named like the
resource (GET /journals/{key} -> Journal) when exactly one is, else one inferred from the
response's examples (genson), else the open ``UntypedRecord``. Each such decision is recorded as
a note (``inspect`` lists them).
"""

from __future__ import annotations

from typing import Any

from genson import SchemaBuilder

from .ir import Model, Response, TypeKind
from .ir_schemas import Schemas, spec_error
from .naming import pascal, singular
from .report import Report
from .sage_rules import (
    array_response_pages,
    content_means_bytes,
    example_records,
    is_list_envelope,
    is_named_list,
    lists_by_shape,
    response_is_empty,
)
from .swagger2 import SOURCE_KEY

# The model a response gets when the spec gives neither a schema nor a definition named like the
# resource: every field kept as sent.
OPEN_MODEL = "UntypedRecord"


def open_model() -> Model:
    return Model(
        name=OPEN_MODEL,
        role="response",
        fields=(),
        description="A record Sage documents only by examples: every field is kept as sent.",
        availability=None,
        definition=None,
        pointer="(generator)#" + OPEN_MODEL,
    )


def success_status(op: dict[str, Any]) -> str | None:
    """The first 2xx status an operation declares."""
    success = sorted(code for code in op.get("responses") or {} if str(code).startswith("2"))
    return success[0] if success else None


class Responses:
    """Reads responses; remembers whether the open model was needed."""

    def __init__(self, schemas: Schemas, paths: dict[str, Any], report: Report) -> None:
        self.schemas = schemas
        self.paths = paths
        self.report = report
        self.inferred: dict[str, str] = {}  # operation source -> inferred definition
        self.open_model_used = False

    def infer_schemas(self, operations: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Definitions inferred (with genson) from the examples of responses that have neither a
        schema nor a definition named like their resource.

        Run before anything else is built, so their nested objects get names like any other's.
        """
        for path, method, op in operations:
            status = success_status(op)
            if status is None or response_is_empty(status, method):
                continue
            response = op["responses"][status]
            if response.get("content") or self._named_like_resource(path):
                continue
            examples = _example_objects(response)
            if not examples:
                continue
            builder = SchemaBuilder()
            for example in examples:
                builder.add_object(example)
            name = pascal(str(op["operationId"])) + "Response"
            if name in self.schemas.definitions:
                continue  # the spec's own definition of that name wins; the open model serves
            source = str(op[SOURCE_KEY])
            schema = _openapi_schema(builder.to_schema())
            schema[SOURCE_KEY] = f"{source}/responses/{status}/examples"
            self.schemas.add(name, schema)
            self.inferred[source] = name

    def read(
        self, op: dict[str, Any], source: str, method: str, path: str, is_binary: bool
    ) -> Response:
        status = success_status(op)
        if status is None:
            raise spec_error(source, "/responses", "no success (2xx) response")
        content: dict[str, Any] = op["responses"][status].get("content") or {}
        if is_binary or content_means_bytes(content):
            return Response(int(status), None, False, True)
        media: dict[str, Any] = next(iter(content.values()), {})
        schema: dict[str, Any] = media.get("schema") or {}
        if not schema:
            if response_is_empty(status, method):
                return Response(int(status), None, False, False)
            return self._by_shape(method, path, op["responses"][status], int(status), source)
        ref = schema.get("$ref")
        if isinstance(ref, str) and is_named_list(self.schemas.target(ref)[1]):
            schema = self.schemas.target(ref)[1]  # a named list: a list of its items
        if schema.get("type") == "array":
            item = self.schemas.type(schema.get("items") or {}, f"{source}/responses/{status}")
            return Response(int(status), item.model, array_response_pages(method), False)
        type_ = self.schemas.type(schema, f"{source}/responses/{status}")
        if type_.kind is not TypeKind.MODEL:
            raise spec_error(source, f"/responses/{status}", "a response must be a model or a list")
        return Response(int(status), type_.model, False, False)

    def _named_like_resource(self, path: str) -> list[str]:
        nouns = [s for s in path.strip("/").split("/") if s and not s.startswith("{")]
        candidates = {pascal(singular(nouns[-1])), pascal(nouns[-1])} if nouns else set()
        return sorted(c for c in candidates if c in self.schemas.model_names.values())

    def _by_shape(
        self, method: str, path: str, response: dict[str, Any], status: int, source: str
    ) -> Response:
        is_list = lists_by_shape(method, path, self.paths) or (
            array_response_pages(method) and any(map(is_list_envelope, _json_examples(response)))
        )
        found = self._named_like_resource(path)
        if len(found) == 1:
            model, how = found[0], f"the definition named like the resource, {found[0]}"
        elif source in self.inferred:
            model = self.schemas.model_names[self.inferred[source]]
            how = "schema inferred from the examples"
        else:
            model, how = OPEN_MODEL, "no schema and no definition named like the resource: open"
            self.open_model_used = True
        decision = f"{'list of ' if is_list else ''}{model} ({how})"
        file, _, where = source.partition("#")
        self.report.note("response-without-schema", file, f"{where}/responses/{status}", decision)
        return Response(status, model, is_list, False, decision)


def _example_objects(response: dict[str, Any]) -> list[dict[str, Any]]:
    """The JSON objects among the records a response's examples show (``example_records``: the
    ``$items`` of a list envelope); ``null``s, scalars and empty examples show no record."""
    objects: list[dict[str, Any]] = []
    for example in _json_examples(response):
        objects.extend(v for v in example_records(example) if isinstance(v, dict))
    return objects


def _json_examples(response: dict[str, Any]) -> list[Any]:
    """A response's examples of JSON media types (``x-examples``, kept by the converter)."""
    examples = response.get("x-examples")
    if not isinstance(examples, dict):
        return []
    return [example for media, example in examples.items() if "json" in str(media)]


def _openapi_schema(node: Any, in_array: bool = False) -> Any:
    """genson's JSON Schema as OpenAPI 3.0 reads it, accepting whatever the examples held.

    Examples are data: a value seen as ``null`` (``"$back": null``) says nothing of its type, so
    ``["integer", "null"]`` -> integer (response fields are optional: None is accepted), ``null``
    alone or a mix of types -> untyped; an array's items seen with a ``null`` among them are
    untyped (a list holding ``None`` must validate); ``anyOf`` (objects of different shapes
    under one key) -> untyped; ``required`` dropped (response models accept absent fields)."""
    if isinstance(node, list):
        return [_openapi_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {
        k: _openapi_schema(v, in_array=k == "items")
        for k, v in node.items()
        if k not in ("$schema", "required")
    }
    if "properties" in node:  # property names are data, not keywords
        out["properties"] = {k: _openapi_schema(v) for k, v in node["properties"].items()}
    kind = out.get("type")
    kinds = [k for k in (kind if isinstance(kind, list) else [kind]) if k is not None]
    typed = [k for k in kinds if k != "null"]
    if len(typed) == 1 and not (in_array and "null" in kinds) and "anyOf" not in out:
        out["type"] = typed[0]
    else:  # untyped: any value, so no item or object schema either
        for key in ("type", "anyOf", "items", "properties"):
            out.pop(key, None)
    return out
