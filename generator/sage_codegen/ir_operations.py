"""Operations and resources: methods, parameters, request bodies; one resource per collection."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from .descriptions import read_description
from .errors import SpecError, escape_pointer_token
from .ir import PARAMETER_KINDS, Operation, Parameter, RequestBody, Resource, TypeKind
from .ir_responses import Responses
from .ir_schemas import Schemas, spec_error
from .naming import operation_method_name, python_identifier, snake
from .report import Report
from .sage_rules import (
    accept_means_bytes,
    is_accept_header,
    parameter_type,
    resource_segment,
    unwrap_body,
)
from .swagger2 import HTTP_METHODS, SOURCE_KEY

# Keyword arguments every generated method takes for per-call options (see the runtime's
# RequestOptions); a spec parameter with one of these names would be ambiguous.
RESERVED_ARGUMENTS = frozenset(
    {"timeout", "max_retries", "extra_headers", "extra_query", "business_id", "idempotency_id"}
    | {"self", "options"}
)


def operations_of(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path, method, operation) for every operation of the document, in document order."""
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                yield path, method, op


class Operations:
    def __init__(
        self, schemas: Schemas, responses: Responses, report: Report, tolerant: bool
    ) -> None:
        self.schemas = schemas
        self.responses = responses
        self.report = report
        self.tolerant = tolerant

    def resources(self, doc: dict[str, Any]) -> list[Resource]:
        """One resource per collection (``sage_rules.resource_segment``)."""
        grouped: dict[str, list[tuple[str, str, dict[str, Any]]]] = defaultdict(list)
        for path, method, op in operations_of(doc):
            grouped[resource_segment(path)].append((path, method, op))
        resources = []
        for segment, ops in grouped.items():
            name = python_identifier(snake(segment))
            tags = tuple(dict.fromkeys(t for _p, _m, op in ops for t in op.get("tags") or []))
            operations = self._operations(name, segment, ops)
            if not operations:
                continue
            title = tags[0] if tags and tags[0][:1].isupper() else segment.replace("_", " ").title()
            resources.append(
                Resource(name=name, title=title, tags=tags, operations=tuple(operations))
            )
        return resources

    def _operations(
        self, name: str, segment: str, ops: list[tuple[str, str, dict[str, Any]]]
    ) -> list[Operation]:
        """A resource's operations; with ``tolerant`` (the diff), one generation would refuse
        is left out with a warning."""
        operations = []
        by_name: dict[str, Operation] = {}
        for path, method, op in ops:
            try:
                operation = self.operation(path, method, op, name, f"/{segment}")
                if operation.py_name in by_name:
                    other = by_name[operation.py_name]
                    raise spec_error(
                        operation.source,
                        "",
                        f"{operation.method} {operation.path} and {other.method} {other.path} "
                        f"both map to client.{name}.{operation.py_name}()",
                    )
            except SpecError as exc:
                if not self.tolerant:
                    raise
                self.report.warn(
                    "would-not-generate", exc.file, exc.pointer, f"left out: {exc.message}"
                )
                continue
            by_name[operation.py_name] = operation
            operations.append(operation)
        return operations

    def operation(
        self, path: str, method: str, op: dict[str, Any], resource: str, resource_path: str
    ) -> Operation:
        source = str(op[SOURCE_KEY])
        parsed = read_description(op.get("description", ""), source, self.report)
        is_binary = False
        parameters: list[Parameter] = []
        for index, param in enumerate(op.get("parameters") or []):
            where = f"/parameters/{index}"
            if is_accept_header(param):
                is_binary = accept_means_bytes(param)
                continue
            if param["in"] == "cookie":
                raise spec_error(source, where, "cookie parameters are not supported")
            parameters.append(self.parameter(param, source, where))
        names: dict[str, str] = {}
        for p in parameters:
            if p.py_name in RESERVED_ARGUMENTS:
                raise spec_error(
                    source,
                    "/parameters",
                    f"parameter {p.name!r} clashes with the per-call option {p.py_name}",
                )
            if p.py_name in names:
                raise spec_error(
                    source,
                    "/parameters",
                    f"parameters {names[p.py_name]!r} and {p.name!r} both map to {p.py_name}",
                )
            names[p.py_name] = p.name
        response = self.responses.read(op, source, method, path, is_binary)
        body = self.body(op, source)
        if body and body.py_name in names:
            raise spec_error(
                source, "/requestBody", f"body key {body.key!r} clashes with a parameter"
            )
        kind_name = operation_method_name(
            method, path, resource_path, response.is_list, response.is_binary
        )
        kind = kind_name if kind_name in ("list", "get", "create", "update", "delete") else "action"
        return Operation(
            operation_id=str(op["operationId"]),
            method=method.upper(),
            path=path,
            resource=resource,
            py_name=kind_name,
            kind=kind,  # type: ignore[arg-type]
            summary=str(op.get("summary") or "").strip()
            or _first_line(parsed.prose)
            or f"{method.upper()} {path}",
            description=parsed.prose,
            parameters=tuple(
                sorted(parameters, key=lambda p: (p.location != "path", not p.required))
            ),
            body=body,
            response=response,
            access=parsed.access,
            availability=parsed.availability,
            source=source,
            deprecated=bool(op.get("deprecated", False)),
        )

    def parameter(self, param: dict[str, Any], source: str, where: str) -> Parameter:
        schema = param.get("schema") or {}
        name = str(param["name"])
        type_ = parameter_type(name, self.schemas.type(schema, f"{source}{where}/schema"))
        if type_.kind not in PARAMETER_KINDS:
            raise spec_error(
                source, where, f"parameter {name!r}: {type_.kind} values are not supported"
            )
        default = schema.get("default")
        return Parameter(
            name=name,
            py_name=python_identifier(name),
            location=param["in"],
            type=type_,
            required=bool(param.get("required", False)),
            description=str(param.get("description", "")).strip(),
            default=default if isinstance(default, (str, int, bool)) else None,
            pointer=str(param.get(SOURCE_KEY) or f"{source}{where}"),
        )

    def body(self, op: dict[str, Any], source: str) -> RequestBody | None:
        body = op.get("requestBody")
        if not body:
            return None
        content = body.get("content") or {}
        media: dict[str, Any] = content.get("application/json") or next(iter(content.values()), {})
        ref = (media.get("schema") or {}).get("$ref")
        if not isinstance(ref, str):
            raise spec_error(source, "/requestBody", "a request body must refer to a definition")
        definition, wrapper = self.schemas.target(ref)
        wrapper_source = self.schemas.source(definition)
        unwrapped = unwrap_body(wrapper)
        if unwrapped is None:
            raise spec_error(wrapper_source, "", "a request body must be a one-key wrapper object")
        key, inner = unwrapped
        inner_type = self.schemas.type(
            inner, f"{wrapper_source}/properties/{escape_pointer_token(key)}"
        )
        if inner_type.kind is not TypeKind.MODEL or inner_type.model is None:
            raise spec_error(wrapper_source, "", "the wrapped body must be an object")
        return RequestBody(
            key=key,
            py_name=python_identifier(key),
            model=inner_type.model,
            wrapper_model=self.schemas.model_names[definition],
            required=bool(body.get("required", False)),
        )


def _first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0] if text.strip() else ""
