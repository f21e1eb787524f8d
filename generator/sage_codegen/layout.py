"""Where the IR goes in the package: model modules, the order of classes in a module, file names.

The IR holds facts; every decision about the package's shape is made here, on the emit side.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from .ir import Api, Model, TypeRef


@dataclass(frozen=True)
class ModelModule:
    """One module under ``sage_accounting.models`` and the classes it defines, in order."""

    name: str
    models: tuple[Model, ...]


def referenced_models(t: TypeRef) -> set[str]:
    """The model classes a type names (a list's items included)."""
    if t.kind == "model" and t.model:
        return {t.model}
    if t.kind == "list" and t.item:
        return referenced_models(t.item)
    return set()


def module_of_models(api: Api) -> dict[str, str]:
    """Model class name -> module under ``sage_accounting.models``."""
    return {m.name: m.module for m in api.models}


def model_modules(api: Api) -> list[ModelModule]:
    """The model modules, sorted by name, each with its classes in dependency order."""
    grouped: dict[str, list[Model]] = defaultdict(list)
    for model in api.models:
        grouped[model.module].append(model)
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
            for ref in sorted(referenced_models(f.type) & names):
                place(by_name[ref])
        visiting.discard(model.name)
        placed.add(model.name)
        ordered.append(model)

    for model in models:
        place(model)
    return ordered
