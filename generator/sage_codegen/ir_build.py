"""Build the IR (``ir.Api``) from a merged, validated OpenAPI 3.0 document.

The builder in parts, one concern each:

- ``ir_schemas``: class names, ``$ref`` walking, a schema's type and a model's fields;
- ``ir_inline``: inline objects, collected and named before any type is read;
- ``ir_responses``: what an operation returns, decided when the spec is silent;
- ``ir_operations``: operations, parameters, request bodies, resources;
- ``sage_rules``: every Sage-specific reading of the spec, each with its reason;
- this module: the order of the steps, the definitions' roles and models, the ``Api``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .descriptions import read_description
from .ir import Api, Model, ModelRole
from .ir_inline import inline_models, name_inline_objects
from .ir_operations import Operations, operations_of
from .ir_responses import OPEN_MODEL, Responses, open_model
from .ir_schemas import Schemas, refs
from .loader import LoadedSpec
from .sage_rules import definition_role, is_named_list

__all__ = ["OPEN_MODEL", "build_api"]


def build_api(spec: LoadedSpec, *, tolerant: bool = False) -> Api:
    """The IR of a loaded spec. Faults read one safe way go to ``spec.report`` (see report.py).

    ``tolerant`` (for ``diff``): an operation that generation would refuse (two operations for
    one method, an unsupported parameter) is left out and reported as a warning instead.
    """
    doc = spec.document
    schemas = Schemas(doc["components"]["schemas"])
    responses = Responses(schemas, doc["paths"], spec.report)
    responses.infer_schemas(list(operations_of(doc)))
    roles = definition_roles(schemas, doc)
    sites = name_inline_objects(schemas, roles)  # before any type is read
    models = [
        definition_model(schemas, name, schema, roles[name], spec)
        for name, schema in schemas.definitions.items()
        if not is_named_list(schema)
    ]
    models.extend(inline_models(schemas, sites))
    resources = Operations(schemas, responses, spec.report, tolerant).resources(doc)
    if responses.open_model_used:
        models.append(open_model())
    servers = doc.get("servers") or [{"url": ""}]
    return Api(
        title=str(doc.get("info", {}).get("title", "")),
        base_url=str(servers[0]["url"]),
        resources=tuple(resources),
        models=tuple(models),
        spec_digest=spec.digest,
        spec_files=tuple(sorted((Path(s.name).name, s.sha256) for s in spec.sources)),
        warnings=tuple(spec.report.warnings),
        notes=tuple(spec.report.notes),
    )


def definition_roles(schemas: Schemas, doc: dict[str, Any]) -> dict[str, ModelRole]:
    """Each definition's role (``sage_rules.definition_role``), from what reaches it."""
    request_roots: list[str] = []
    response_roots: list[str] = []
    for _path, _method, op in operations_of(doc):
        body = op.get("requestBody")
        if body:
            request_roots.extend(refs(body))
        response_roots.extend(refs(op.get("responses")))
    request = schemas.reachable(request_roots)
    response = schemas.reachable(response_roots)
    return {
        name: definition_role(name, name in request, name in response)
        for name in schemas.definitions
    }


def definition_model(
    schemas: Schemas, name: str, schema: dict[str, Any], role: ModelRole, spec: LoadedSpec
) -> Model:
    source = schemas.source(name)
    parsed = read_description(schema.get("description", ""), source, spec.report)
    return Model(
        name=schemas.model_names[name],
        role=role,
        fields=schemas.fields(schema, source, role),
        description=parsed.prose,
        availability=parsed.availability,
        definition=name,
        pointer=source,
    )
