"""Build the IR (``ir.Api``) from a merged, validated OpenAPI 3.0 document.

Sage-specific readings of the spec live here, each with its reason:

- list responses are declared as bare arrays but arrive in an envelope (the runtime's pager reads it);
- ``from_date``/``to_date`` are declared date-time but mean dates;
- a required ``Accept`` header naming ``application/octet-stream`` means the operation returns bytes
  (``GET /attachments/{key}/file``), whatever response schema is declared;
- ``attributes`` and ``nested_attributes`` are comma-separated lists;
- request bodies are one-key wrappers (``{"contact": {...}}``); the inner object is what callers pass.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genson import SchemaBuilder

from .descriptions import DescriptionError, ParsedDescription, parse_description
from .errors import SpecError, escape_pointer_token
from .ir import (
    UNKNOWN_ACCESS,
    Api,
    Field,
    Model,
    ModelRole,
    Operation,
    Parameter,
    RequestBody,
    Resource,
    Response,
    TypeRef,
)
from .loader import LoadedSpec
from .naming import (
    join_overlapping,
    operation_method_name,
    pascal,
    python_identifier,
    singular,
    snake,
)
from .report import Report
from .swagger2 import HTTP_METHODS, SOURCE_KEY

DATE_QUERY_PARAMS = {"from_date", "to_date"}
LIST_QUERY_PARAMS = {"attributes", "nested_attributes"}
# Keyword arguments every generated method takes for per-call options (see the runtime's
# RequestOptions); a spec parameter with one of these names would be ambiguous.
RESERVED_ARGUMENTS = {
    "timeout", "max_retries", "extra_headers", "extra_query", "business_id", "idempotency_id",
    "self", "options",
}  # fmt: skip
SCHEMA_PREFIX = "#/components/schemas/"
_SUFFIX_BY_PREFIX = (("post", "Create"), ("put", "Update"), ("patch", "Update"))


# The model a response gets when the spec gives neither a schema nor a definition named like the
# resource: every field kept as sent.
OPEN_MODEL = "UntypedRecord"


def build_api(spec: LoadedSpec, *, tolerant: bool = False) -> Api:
    """The IR of a loaded spec. Faults read one safe way go to ``spec.report`` (see report.py).

    ``tolerant`` (for ``diff``): an operation that generation would refuse (two operations for
    one method, an unsupported parameter) is left out and reported as a warning instead.
    """
    return _Builder(spec, tolerant).build()


@dataclass
class _InlineSite:
    """One place an inline object schema appears; sites with equal schemas may share a class."""

    schema_key: str
    schema: dict[str, Any]
    base: str  # preferred PascalCase name without suffix, e.g. InvoiceLine
    suffix: str  # Create / Update / ""
    parent: _InlineSite | None
    parent_definition: str
    role: ModelRole
    pointer: str
    name: str = ""


class _Builder:
    def __init__(self, spec: LoadedSpec, tolerant: bool = False) -> None:
        self.spec = spec
        self.report: Report = spec.report
        self.tolerant = tolerant
        self.open_model_used = False
        self.doc = spec.document
        # A copy: definitions inferred from examples are added here, never to the loaded document.
        self.schemas: dict[str, dict[str, Any]] = dict(self.doc["components"]["schemas"])
        self.model_names = {name: pascal(name) for name in self.schemas}
        self.inline_name: dict[str, str] = {}  # pointer of an inline object -> its class name

    # -- entry ------------------------------------------------------------------------------------

    def build(self) -> Api:
        self.inferred = self._infer_response_schemas()
        roles = self._definition_roles()
        modules = self._definition_modules()
        sites = self._collect_inline_sites(roles)
        self._name_inline_sites(sites)
        models = [
            self._definition_model(name, schema, roles[name], modules[name])
            for name, schema in self.schemas.items()
            if schema.get("type") != "array"  # a named list is its items' list, not a class
        ]
        models.extend(self._inline_models(sites, modules))
        resources = self._resources()
        if self.open_model_used:
            models.append(_open_model())
        servers = self.doc.get("servers") or [{"url": ""}]
        return Api(
            title=str(self.doc.get("info", {}).get("title", "")),
            base_url=str(servers[0]["url"]),
            resources=tuple(resources),
            models=tuple(models),
            spec_digest=self.spec.digest,
            spec_files=tuple(sorted((Path(s.name).name, s.sha256) for s in self.spec.sources)),
            warnings=tuple(self.report.warnings),
            notes=tuple(self.report.notes),
        )

    # -- errors -----------------------------------------------------------------------------------

    @staticmethod
    def fail(source: str, suffix: str, message: str) -> SpecError:
        file, _, where = source.partition("#")
        return SpecError(file, where + suffix, message)

    def schema_source(self, name: str) -> str:
        return str(self.schemas[name].get(SOURCE_KEY, f"(merged)#/components/schemas/{name}"))

    # -- definitions: role, module ----------------------------------------------------------------

    def _refs(self, node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                yield ref[len(SCHEMA_PREFIX) :]
            for value in node.values():
                yield from self._refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from self._refs(value)

    def _reachable(self, roots: list[str]) -> set[str]:
        seen: set[str] = set()
        todo = list(roots)
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(self._refs(self.schemas[name]))
        return seen

    def _definition_roles(self) -> dict[str, ModelRole]:
        """Request models enforce required fields; response models accept anything the wire sends.

        A definition reached from a request body (and from no response) is a request model;
        one reached from nowhere is a request model if named like one (postX / putX).
        """
        request_roots: list[str] = []
        response_roots: list[str] = []
        for _path, _method, op in self._operations():
            body = op.get("requestBody")
            if body:
                request_roots.extend(self._refs(body))
            response_roots.extend(self._refs(op.get("responses")))
        request = self._reachable(request_roots)
        response = self._reachable(response_roots)
        roles: dict[str, ModelRole] = {}
        for name in self.schemas:
            if name in response:
                roles[name] = "response"
            elif name in request or name.startswith(("post", "put", "patch")):
                roles[name] = "request"
            else:
                roles[name] = "response"
        return roles

    def _definition_modules(self) -> dict[str, str]:
        """One module per definition; definitions that refer to each other in a cycle share one
        (Tarjan's strongly connected components), so modules never import each other in a loop."""
        graph = {name: sorted(set(self._refs(schema))) for name, schema in self.schemas.items()}
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        modules: dict[str, str] = {}

        def connect(node: str) -> None:
            index[node] = low[node] = len(index)
            stack.append(node)
            on_stack.add(node)
            for succ in graph[node]:
                if succ not in index:
                    connect(succ)
                    low[node] = min(low[node], low[succ])
                elif succ in on_stack:
                    low[node] = min(low[node], index[succ])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                module = snake(sorted(component)[0])
                for member in component:
                    modules[member] = module

        for name in self.schemas:
            if name not in index:
                connect(name)
        return modules

    # -- inline objects ---------------------------------------------------------------------------

    def _collect_inline_sites(self, roles: dict[str, ModelRole]) -> list[_InlineSite]:
        sites: list[_InlineSite] = []
        for name, schema in self.schemas.items():
            suffix = next((s for p, s in _SUFFIX_BY_PREFIX if name.startswith(p)), "")
            source = self.schema_source(name)
            self._walk_inline(schema, source, None, name, suffix, roles[name], sites)
        return sites

    def _walk_inline(
        self,
        schema: dict[str, Any],
        where: str,
        parent: _InlineSite | None,
        definition: str,
        suffix: str,
        role: ModelRole,
        sites: list[_InlineSite],
    ) -> None:
        for prop, prop_schema in (schema.get("properties") or {}).items():
            prop_where = f"{where}/properties/{escape_pointer_token(prop)}"
            target, base = prop_schema, pascal(prop)
            if prop_schema.get("type") == "array":
                target, base = prop_schema.get("items") or {}, pascal(singular(snake(prop)))
                prop_where += "/items"
            if _is_inline_object(target):
                site = _InlineSite(
                    schema_key=_canonical(target) + role,
                    schema=target,
                    base=base,
                    suffix=suffix,
                    parent=parent,
                    parent_definition=definition,
                    role=role,
                    pointer=prop_where,
                )
                sites.append(site)
                self._walk_inline(target, prop_where, site, definition, suffix, role, sites)

    def _name_inline_sites(self, sites: list[_InlineSite]) -> None:
        """Readable, deterministic names for inline objects.

        The preferred name is the property's (singular for array items) plus Create/Update for
        request bodies: ``invoice_lines`` in postSalesInvoices -> ``InvoiceLineCreate``. Sites with
        equal schemas share one class. Different schemas wanting one name are each qualified with
        their parent's name (``SalesInvoiceLineCreate``, ``PurchaseInvoiceLineCreate``), and again
        with the grandparent's if needed; never with a number.
        """
        taken = set(self.model_names.values())
        by_depth: dict[int, list[_InlineSite]] = defaultdict(list)
        for site in sites:
            by_depth[_depth(site)].append(site)
        for depth in sorted(by_depth):
            level = by_depth[depth]
            wanted: dict[str, dict[str, list[_InlineSite]]] = defaultdict(dict)
            for site in level:
                wanted[site.base + site.suffix].setdefault(site.schema_key, []).append(site)
            for preferred, groups in wanted.items():
                shared = len(groups) == 1 and preferred not in taken
                for group in groups.values():
                    name = preferred if shared else self._qualified(group, taken)
                    for site in group:
                        site.name = name
                        self.inline_name[site.pointer] = name
                    taken.add(name)

    def _owner(self, site: _InlineSite) -> str:
        """The name of what holds an inline object: its parent object, or its definition as a
        noun (postSalesInvoices -> SalesInvoice)."""
        if site.parent is not None:
            return site.parent.base
        return self._owner_of_definition(site)

    def _qualified(self, group: list[_InlineSite], taken: set[str]) -> str:
        """A name for one schema among several that want the same name.

        A schema used under several owners takes the words their names share: the address of
        every sales document is SalesMainAddressCreate. Otherwise the owner's name qualifies it,
        then the grandparent's, until the name is free.
        """
        site = group[0]
        owners = sorted({self._owner(s) for s in group})
        if len(owners) > 1:
            common = _common_leading_words(owners)
            if common and join_overlapping(common, site.base) + site.suffix not in taken:
                return join_overlapping(common, site.base) + site.suffix
        name = site.base
        ancestor = site.parent
        while True:
            if ancestor is None:
                candidate = join_overlapping(self._owner_of_definition(site), name) + site.suffix
                if candidate in taken:
                    raise self.fail(site.pointer, "", f"two inline objects both want {candidate}")
                return candidate
            name = join_overlapping(ancestor.base, name)
            if name + site.suffix not in taken:
                return name + site.suffix
            ancestor = ancestor.parent

    def _owner_of_definition(self, site: _InlineSite) -> str:
        return _strip_prefix_verb(self.model_names[site.parent_definition])

    def _inline_models(self, sites: list[_InlineSite], modules: dict[str, str]) -> list[Model]:
        users: dict[str, set[str]] = defaultdict(set)
        first: dict[str, _InlineSite] = {}
        for site in sites:
            users[site.name].add(modules[site.parent_definition])
            first.setdefault(site.name, site)
        models = []
        for name, site in first.items():
            own = users[name]
            module = next(iter(own)) if len(own) == 1 else snake(name)
            models.append(
                Model(
                    name=name,
                    role=site.role,
                    fields=self._fields(site.schema, site.pointer, site.role),
                    description=str(site.schema.get("description", "")).strip(),
                    availability=None,
                    definition=None,
                    module=module,
                    pointer=site.pointer,
                )
            )
        return models

    # -- models -----------------------------------------------------------------------------------

    def _definition_model(
        self, name: str, schema: dict[str, Any], role: ModelRole, module: str
    ) -> Model:
        source = self.schema_source(name)
        parsed = self._parse_description(schema.get("description", ""), source)
        return Model(
            name=self.model_names[name],
            role=role,
            fields=self._fields(schema, source, role),
            description=parsed.prose,
            availability=parsed.availability,
            definition=name,
            module=module,
            pointer=source,
        )

    def _fields(self, schema: dict[str, Any], where: str, role: ModelRole) -> tuple[Field, ...]:
        required = set(schema.get("required") or [])
        fields = []
        seen: dict[str, str] = {}
        for prop, prop_schema in (schema.get("properties") or {}).items():
            prop_where = f"{where}/properties/{escape_pointer_token(prop)}"
            py_name = python_identifier(prop)
            if py_name in seen:
                raise self.fail(
                    prop_where,
                    "",
                    f"properties {seen[py_name]!r} and {prop!r} both map to {py_name}",
                )
            seen[py_name] = prop
            fields.append(
                Field(
                    name=prop,
                    py_name=py_name,
                    type=self._type(prop_schema, prop_where),
                    required=prop in required and role == "request",
                    description=str(prop_schema.get("description", "")).strip(),
                    pointer=prop_where,
                )
            )
        return tuple(fields)

    def _type(self, schema: dict[str, Any], where: str) -> TypeRef:
        ref = schema.get("$ref")
        if isinstance(ref, str):
            target = self.schemas[ref[len(SCHEMA_PREFIX) :]]
            if target.get("type") == "array":  # a named list (the UKI documents): its items' list
                return TypeRef("list", item=self._type(target.get("items") or {}, f"{where}/items"))
            return TypeRef("model", model=self.model_names[ref[len(SCHEMA_PREFIX) :]])
        kind, fmt = schema.get("type"), schema.get("format")
        enum = tuple(str(v) for v in schema.get("enum") or ())
        if kind == "array":
            items = schema.get("items") or {}
            return TypeRef("list", item=self._type(items, f"{where}/items"))
        if _is_inline_object(schema):
            name = self.inline_name.get(where)
            if name is None:
                raise self.fail(where, "", "inline object found where none was collected")
            return TypeRef("model", model=name)
        if kind == "object" or (kind is None and "additionalProperties" in schema):
            return TypeRef("dict")
        if kind == "string":
            if fmt == "date":
                return TypeRef("date", format=fmt)
            if fmt == "date-time":
                return TypeRef("datetime", format=fmt)
            if fmt in ("binary", "byte"):
                return TypeRef("binary", format=fmt)
            return TypeRef("string", enum=enum, format=fmt)
        if kind == "number":
            return TypeRef("decimal", format=fmt)
        if kind == "integer":
            return TypeRef("integer", format=fmt)
        if kind == "boolean":
            return TypeRef("boolean")
        if kind is None:
            return TypeRef("any")
        raise self.fail(where, "/type", f"unknown type {kind!r}")

    def _parse_description(self, text: str, source: str) -> ParsedDescription:
        """Sections the grammar cannot read are warnings: their facts are unknown, not absent."""
        try:
            return parse_description(text)
        except DescriptionError as exc:
            file, _, where = source.partition("#")
            self.report.warn("description-grammar", file, where + "/description", str(exc))
        try:
            return parse_description(text, lenient=True)
        except DescriptionError:  # pragma: no cover - lenient parsing does not raise
            return ParsedDescription(text.strip(), None, UNKNOWN_ACCESS)

    # -- operations -------------------------------------------------------------------------------

    def _operations(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        for path, item in self.doc["paths"].items():
            for method, op in item.items():
                if method in HTTP_METHODS:
                    yield path, method, op

    def _resources(self) -> list[Resource]:
        """One resource per collection: operations are grouped by their path's first segment, so
        the tags 'Bank Accounts' and 'bank_accounts' (both /bank_accounts) form one resource."""
        grouped: dict[str, list[tuple[str, str, dict[str, Any]]]] = defaultdict(list)
        for path, method, op in self._operations():
            segment = path.strip("/").split("/")[0]
            grouped[segment].append((path, method, op))
        resources = []
        for segment, ops in grouped.items():
            name = python_identifier(snake(segment))
            tags = tuple(dict.fromkeys(t for _p, _m, op in ops for t in op.get("tags") or []))
            operations = []
            by_name: dict[str, Operation] = {}
            for path, method, op in ops:
                try:
                    operation = self._operation(path, method, op, name, f"/{segment}")
                    if operation.py_name in by_name:
                        other = by_name[operation.py_name]
                        raise self.fail(
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
            if not operations:
                continue
            class_name = pascal(name)
            if class_name in self.model_names.values():
                # /business_settings returns the model BusinessSettings: the resource class that
                # serves it is BusinessSettingsResource, so one module can import both.
                class_name += "Resource"
            resources.append(
                Resource(
                    name=name,
                    class_name=class_name,
                    title=(
                        tags[0]
                        if tags and tags[0][:1].isupper()
                        else segment.replace("_", " ").title()
                    ),
                    tags=tags,
                    operations=tuple(operations),
                )
            )
        return resources

    def _operation(
        self, path: str, method: str, op: dict[str, Any], resource: str, resource_path: str
    ) -> Operation:
        source = str(op[SOURCE_KEY])
        parsed = self._parse_description(op.get("description", ""), source)
        is_binary = False
        parameters: list[Parameter] = []
        for index, param in enumerate(op.get("parameters") or []):
            where = f"/parameters/{index}"
            if param["in"] == "header" and param["name"].lower() == "accept":
                is_binary = "application/octet-stream" in str(param.get("description", ""))
                continue
            if param["in"] == "cookie":
                raise self.fail(source, where, "cookie parameters are not supported")
            parameters.append(self._parameter(param, source, where))
        names: dict[str, str] = {}
        for p in parameters:
            if p.py_name in RESERVED_ARGUMENTS:
                raise self.fail(
                    source,
                    "/parameters",
                    f"parameter {p.name!r} clashes with the per-call option {p.py_name}",
                )
            if p.py_name in names:
                raise self.fail(
                    source,
                    "/parameters",
                    f"parameters {names[p.py_name]!r} and {p.name!r} both map to {p.py_name}",
                )
            names[p.py_name] = p.name
        response = self._response(op, source, method, path, is_binary)
        body = self._body(op, source)
        if body and body.py_name in names:
            raise self.fail(
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

    def _parameter(self, param: dict[str, Any], source: str, where: str) -> Parameter:
        schema = param.get("schema") or {}
        name = str(param["name"])
        type_ = self._type(schema, f"{source}{where}/schema")
        if name in DATE_QUERY_PARAMS and type_.kind == "datetime":
            type_ = TypeRef("date", format=type_.format)
        if name in LIST_QUERY_PARAMS and type_.kind == "string":
            type_ = TypeRef("list", item=TypeRef("string"))
        if type_.kind in ("model", "dict", "binary"):
            raise self.fail(
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

    def _body(self, op: dict[str, Any], source: str) -> RequestBody | None:
        body = op.get("requestBody")
        if not body:
            return None
        content = body.get("content") or {}
        media: dict[str, Any] = content.get("application/json") or next(iter(content.values()), {})
        ref = (media.get("schema") or {}).get("$ref")
        if not isinstance(ref, str):
            raise self.fail(source, "/requestBody", "a request body must refer to a definition")
        definition = ref[len(SCHEMA_PREFIX) :]
        wrapper = self.schemas[definition]
        props = wrapper.get("properties") or {}
        if len(props) != 1:
            raise self.fail(
                self.schema_source(definition),
                "",
                "a request body must be a one-key wrapper object",
            )
        key, inner = next(iter(props.items()))
        inner_type = self._type(
            inner, f"{self.schema_source(definition)}/properties/{escape_pointer_token(key)}"
        )
        if inner_type.kind != "model" or inner_type.model is None:
            raise self.fail(
                self.schema_source(definition), "", "the wrapped body must be an object"
            )
        return RequestBody(
            key=key,
            py_name=python_identifier(key),
            model=inner_type.model,
            wrapper_model=self.model_names[definition],
            required=bool(body.get("required", False)),
        )

    def _response(
        self, op: dict[str, Any], source: str, method: str, path: str, is_binary: bool
    ) -> Response:
        """What an operation returns: a list, one model, bytes or nothing.

        A list is an inline ``type: array`` or a ``$ref`` to a definition of ``type: array`` (the
        older UKI documents). Without a schema the path's shape and the method decide: 204 and
        DELETE return nothing; GET of a collection that also has ``/{key}`` below it is a list;
        anything else is one record. The model is then the definition named like the resource
        (GET /journals/{key} -> Journal) when exactly one is, else one inferred from the
        response's examples (genson), else the open ``UntypedRecord``.
        """
        responses = op.get("responses") or {}
        success = sorted(code for code in responses if str(code).startswith("2"))
        if not success:
            raise self.fail(source, "/responses", "no success (2xx) response")
        status = success[0]
        content: dict[str, Any] = responses[status].get("content") or {}
        if any(m not in ("application/json", "*/*") for m in content):
            is_binary = True
        if is_binary:
            return Response(int(status), None, False, True)
        media: dict[str, Any] = next(iter(content.values()), {})
        schema: dict[str, Any] = media.get("schema") or {}
        if not schema:
            if status == "204" or method == "delete":
                return Response(int(status), None, False, False)
            return self._response_by_shape(method, path, int(status), source)
        ref = schema.get("$ref")
        if isinstance(ref, str) and self.schemas[ref[len(SCHEMA_PREFIX) :]].get("type") == "array":
            schema = self.schemas[ref[len(SCHEMA_PREFIX) :]]  # a named list: a list of its items
        if schema.get("type") == "array":
            item = self._type(schema.get("items") or {}, f"{source}/responses/{status}")
            return Response(int(status), item.model, method == "get", False)
        type_ = self._type(schema, f"{source}/responses/{status}")
        if type_.kind != "model":
            raise self.fail(source, f"/responses/{status}", "a response must be a model or a list")
        return Response(int(status), type_.model, False, False)

    def _named_like_resource(self, path: str) -> list[str]:
        nouns = [s for s in path.strip("/").split("/") if s and not s.startswith("{")]
        candidates = {pascal(singular(nouns[-1])), pascal(nouns[-1])} if nouns else set()
        return sorted(c for c in candidates if c in self.model_names.values())

    def _infer_response_schemas(self) -> dict[str, str]:
        """Definitions inferred (with genson) from the examples of responses that have neither a
        schema nor a definition named like their resource; operation source -> definition name.

        Added before anything else is built, so their nested objects get names like any other's.
        """
        inferred: dict[str, str] = {}
        for path, method, op in self._operations():
            responses = op.get("responses") or {}
            success = sorted(c for c in responses if str(c).startswith("2"))
            if not success or method == "delete" or success[0] == "204":
                continue
            response = responses[success[0]]
            if response.get("content") or self._named_like_resource(path):
                continue
            examples = _example_objects(response)
            if not examples:
                continue
            builder = SchemaBuilder()
            for example in examples:
                builder.add_object(example)
            name = pascal(str(op["operationId"])) + "Response"
            if name in self.schemas:
                continue  # the spec's own definition of that name wins; the open model serves
            source = str(op[SOURCE_KEY])
            schema = _openapi_schema(builder.to_schema())
            schema[SOURCE_KEY] = f"{source}/responses/{success[0]}/examples"
            self.schemas[name] = schema
            self.model_names[name] = pascal(name)
            inferred[source] = name
        return inferred

    def _response_by_shape(self, method: str, path: str, status: int, source: str) -> Response:
        segments = [s for s in path.strip("/").split("/") if s]
        is_list = (
            method == "get"
            and not segments[-1].startswith("{")
            and any(p.startswith(path + "/{") for p in self.doc["paths"])
        )
        found = self._named_like_resource(path)
        if len(found) == 1:
            model, how = found[0], f"the definition named like the resource, {found[0]}"
        elif source in self.inferred:
            model = self.model_names[self.inferred[source]]
            how = "schema inferred from the examples"
        else:
            model, how = OPEN_MODEL, "no schema and no definition named like the resource: open"
            self.open_model_used = True
        decision = f"{'list of ' if is_list else ''}{model} ({how})"
        file, _, where = source.partition("#")
        self.report.note("response-without-schema", file, f"{where}/responses/{status}", decision)
        return Response(status, model, is_list, False, decision)


def _example_objects(response: dict[str, Any]) -> list[dict[str, Any]]:
    """The JSON objects among a response's examples (items, for a list's examples)."""
    objects: list[dict[str, Any]] = []
    for media, example in (response.get("x-examples") or {}).items():
        if "json" not in media:
            continue
        for value in example if isinstance(example, list) else [example]:
            if isinstance(value, dict):
                objects.append(value)
    return objects


def _openapi_schema(node: Any) -> Any:
    """genson's JSON Schema as OpenAPI 3.0 reads it: ``["integer", "null"]`` -> integer,
    a mix of types -> untyped; ``required`` dropped (response models accept absent fields)."""
    if isinstance(node, list):
        return [_openapi_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _openapi_schema(v) for k, v in node.items() if k not in ("$schema", "required")}
    kind = out.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        if len(kinds) == 1:
            out["type"] = kinds[0]
        else:
            out.pop("type")
    if "anyOf" in out:  # genson's union of object shapes: read untyped
        out.pop("anyOf")
    return out


def _open_model() -> Model:
    return Model(
        name=OPEN_MODEL,
        role="response",
        fields=(),
        description="A record Sage documents only by examples: every field is kept as sent.",
        availability=None,
        definition=None,
        module="untyped_record",
        pointer="(generator)#" + OPEN_MODEL,
    )


def _is_inline_object(schema: dict[str, Any]) -> bool:
    return "$ref" not in schema and bool(schema.get("properties"))


def _canonical(schema: dict[str, Any]) -> str:
    return json.dumps(schema, sort_keys=True, ensure_ascii=False)


def _common_leading_words(names: list[str]) -> str:
    """SalesInvoice, SalesQuote -> Sales; Contact, SalesInvoice -> "" (nothing shared)."""
    split = [re.findall(r"[A-Z][a-z0-9]*|[a-z0-9]+", name) for name in names]
    common: list[str] = []
    for words in zip(*split, strict=False):
        if len(set(words)) != 1:
            break
        common.append(words[0])
    return "".join(common)


def _depth(site: _InlineSite) -> int:
    depth = 0
    while site.parent:
        depth, site = depth + 1, site.parent
    return depth


def _strip_prefix_verb(name: str) -> str:
    """PostSalesInvoices -> SalesInvoice: the owner's name as a noun, for qualifying names."""
    for verb in ("Post", "Put", "Patch"):
        if name.startswith(verb) and name[len(verb) : len(verb) + 1].isupper():
            return pascal(singular(snake(name[len(verb) :])))
    return name


def _first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0] if text.strip() else ""
