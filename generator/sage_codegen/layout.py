"""Where the IR goes in the package: model modules, class order, resource class names.

The IR holds facts; every decision about the package's shape is made here, on the emit side.
``laid_out(api)`` gives the templates a ``LaidOutApi``: an ``Api`` whose resources carry their
class names.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass

from .ir import Api, Model, Resource
from .naming import pascal, snake


@dataclass(frozen=True)
class ModelModule:
    """One module under ``sage_accounting.models`` and the classes it defines, in order."""

    name: str
    models: tuple[Model, ...]


def module_of_models(api: Api) -> dict[str, str]:
    """Model class name -> module under ``sage_accounting.models``.

    One module per definition, except that definitions referring to each other in a cycle share
    one (so modules never import each other in a loop), named after the first in sort order. An
    inline object goes to the module of the definitions declaring it when they share one, else
    to a module of its own, like a class nobody declares (the open model).
    """
    by_name = {m.name: m for m in api.models}
    graph = {
        m.definition: sorted(_definitions_reached(m, by_name)) for m in api.models if m.definition
    }
    module_of_definition = _cycles_share_a_module(graph)
    modules = {}
    for model in api.models:
        declarers = {module_of_definition[d] for d in model.declared_in}
        if model.definition:
            modules[model.name] = module_of_definition[model.definition]
        elif len(declarers) == 1:
            modules[model.name] = declarers.pop()
        else:
            modules[model.name] = snake(model.name)
    return modules


def _definitions_reached(model: Model, by_name: dict[str, Model]) -> set[str]:
    """The definitions a definition's schema refers to: from its fields, and from the fields of
    the inline objects it holds (which are part of its schema)."""
    reached: set[str] = set()
    seen: set[str] = set()
    todo = [model]
    while todo:
        current = todo.pop()
        for f in current.fields:
            if ref := f.type.referenced_model:
                target = by_name[ref]
                if target.definition:
                    reached.add(target.definition)
                elif ref not in seen:
                    seen.add(ref)
                    todo.append(target)
    return reached


def _cycles_share_a_module(graph: dict[str, list[str]]) -> dict[str, str]:
    """Definition -> module: Tarjan's strongly connected components, each one module."""
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

    for name in graph:
        if name not in index:
            connect(name)
    return modules


def model_modules(api: Api) -> list[ModelModule]:
    """The model modules, sorted by name, each with its classes in dependency order."""
    module_of = module_of_models(api)
    grouped: dict[str, list[Model]] = defaultdict(list)
    for model in api.models:
        grouped[module_of[model.name]].append(model)
    return [ModelModule(name, tuple(dependency_order(grouped[name]))) for name in sorted(grouped)]


def dependency_order(models: list[Model]) -> list[Model]:
    """Models a module defines, referenced ones first where possible (cycles keep spec order)."""
    names = {m.name for m in models}
    ordered: list[Model] = []
    placed: set[str] = set()
    visiting: set[str] = set()
    by_name = {m.name: m for m in models}

    def place(model: Model) -> None:
        if model.name in placed or model.name in visiting:
            return
        visiting.add(model.name)
        for f in model.fields:
            if (ref := f.type.referenced_model) in names:
                place(by_name[ref])
        visiting.discard(model.name)
        placed.add(model.name)
        ordered.append(model)

    for model in models:
        place(model)
    return ordered


@dataclass(frozen=True)
class LaidOutResource(Resource):
    """A resource with the name of its generated classes (``Async`` + it for the async one)."""

    class_name: str = ""


def resource_class_name(resource: Resource, model_names: set[str]) -> str:
    """``SalesInvoices`` for ``client.sales_invoices``; ``BusinessSettingsResource`` when a model
    has the plain name (/business_settings returns BusinessSettings), so one module can import
    both."""
    name = pascal(resource.name)
    return name + "Resource" if name in model_names else name


@dataclass(frozen=True)
class LaidOutApi(Api):
    """An ``Api`` whose resources are ``LaidOutResource``s (what ``laid_out`` returns)."""

    resources: tuple[LaidOutResource, ...]


def laid_out(api: Api) -> LaidOutApi:
    """The API as the templates see it: each resource a ``LaidOutResource``."""
    model_names = {m.name for m in api.models}
    resources = tuple(
        LaidOutResource(
            **{f.name: getattr(r, f.name) for f in dataclasses.fields(Resource)},
            class_name=resource_class_name(r, model_names),
        )
        for r in api.resources
    )
    fields = {f.name: getattr(api, f.name) for f in dataclasses.fields(Api) if f.init}
    return LaidOutApi(**{**fields, "resources": resources})
