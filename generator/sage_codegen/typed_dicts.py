"""Request bodies typed for the caller: a ``TypedDict`` beside every request model.

``client.contacts.create(contact={...})`` takes ``ContactCreate | ContactCreateParams``; the
``...Params`` TypedDict spells the same fields by their wire names, so a type checker refuses a
misspelt key or a float amount in a dict literal, as openai-python and stripe do. Optional fields
are ``NotRequired``; values are what a caller may pass (the model validates them at run time):
money ``Decimal | int | str`` (never float), dates and datetimes also as ISO strings, enums as
``Literal``, nested bodies as the model or its TypedDict, lists as ``Sequence``.

The model templates call in here (``install`` registers the functions); nothing in the IR changes.
"""

from __future__ import annotations

import json
import keyword
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, assert_never

import jinja2

from . import sage_rules
from .black_form import annotated_name
from .imports import Imports
from .ir import Api, Model, TypeKind, TypeRef
from .layout import ModelModule
from .spelling import literal

SUFFIX = "Params"
IDEMPOTENCY_FIELD = sage_rules.BODY_IDEMPOTENCY_FIELD
IDEMPOTENCY_DOC = (
    "Sage answers a repeated POST with this id once; filled by the client unless given "
    "(or ``idempotency_id=False``)."
)


def params_name(model: str) -> str:
    """The TypedDict of a request model: ``ContactCreate`` -> ``ContactCreateParams``."""
    return model + SUFFIX


def idempotent_bodies(api: Api) -> frozenset[str]:
    """Request models sent as the object of a POST body (they carry ``idempotency_id``)."""
    return frozenset(
        op.body.model
        for op in api.operations
        if op.body and sage_rules.body_takes_idempotency_id(op.method)
        # a spec that one day declares it needs nothing added
        and not any(f.name == IDEMPOTENCY_FIELD for f in _model(api, op.body.model).fields)
    )


def _model(api: Api, name: str) -> Model:
    return next(m for m in api.models if m.name == name)


def value_annotation(t: TypeRef) -> str:
    """What a caller may pass for a field of this type in a dict body."""
    match t.kind:
        case TypeKind.STRING:
            return literal(t.enum) if t.enum else "str"
        case TypeKind.INTEGER:
            return "int"
        case TypeKind.DECIMAL:
            return "Decimal | int | str"
        case TypeKind.BOOLEAN:
            return "bool"
        case TypeKind.DATE:
            return "dt.date | str"
        case TypeKind.DATETIME:
            return "dt.datetime | str"
        case TypeKind.BINARY:
            return "bytes"
        case TypeKind.ANY:
            return "Any"
        case TypeKind.DICT:
            return "Mapping[str, Any]"
        case TypeKind.LIST:
            assert t.item is not None
            return f"Sequence[{value_annotation(t.item)}]"
        case TypeKind.MODEL:
            assert t.model is not None
            return f"{t.model} | {params_name(t.model)}"
    assert_never(t.kind)


@dataclass(frozen=True)
class Key:
    name: str  # the wire name: what Sage reads
    annotation: str  # without NotRequired
    required: bool
    description: str = ""

    @property
    def declared(self) -> str:
        if self.required:
            return self.annotation
        return f"NotRequired[{self.annotation} | None]"


def keys_of(model: Model, idempotent: bool) -> tuple[Key, ...]:
    keys = [Key(f.name, value_annotation(f.type), f.required, f.description) for f in model.fields]
    if idempotent:
        keys.append(Key(IDEMPOTENCY_FIELD, "str", False, IDEMPOTENCY_DOC))
    return tuple(keys)


def _is_attribute(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


def typed_dict_source(model: Model, idempotent: bool = False) -> str:
    """The TypedDict of a request model as Python source (class syntax; the functional form when
    a key is no Python identifier, e.g. ``"line-items"`` or ``import``)."""
    name = params_name(model.name)
    doc = f"``{model.name}`` as a dict: the same fields, by their wire names."
    keys = keys_of(model, idempotent)
    if all(_is_attribute(k.name) for k in keys):
        lines = [f"class {name}(TypedDict):", f'    """{doc}"""', ""]
        lines += [annotated_name(key.name, key.declared, 4) for key in keys]
        return "\n".join(lines)
    # Evaluated at import: the referenced classes are defined above or imported (the module
    # places referenced models first).
    entries = "".join(f"        {json.dumps(k.name)}: {k.declared},\n" for k in keys)
    return (
        f'{name} = TypedDict(\n    "{name}",\n    {{\n{entries}    }},\n)\n'
        f'{name}.__doc__ = "{doc}"'
    )


def add_imports(
    imports: Imports, module: ModelModule, module_of: dict[str, str], idempotent: frozenset[str]
) -> Imports:
    """Add what the TypedDicts of a model module need to the module's imports."""
    for model in module.models:
        if model.role != "request":
            continue
        imports.add("typing", "TypedDict")
        for key in keys_of(model, model.name in idempotent):
            imports.add_for(key.declared)
        for f in model.fields:
            if ref := f.type.referenced_model:
                other = module_of[ref]
                imports.add_if(other != module.name, "." + other, ref, params_name(ref))
    return imports


def exported_names(module: ModelModule) -> list[str]:
    """What ``sage_accounting.models`` exports from a model module: its models and TypedDicts."""
    names = [m.name for m in module.models]
    names += [params_name(m.name) for m in module.models if m.role == "request"]
    return sorted(names)


def all_exported_names(modules: Iterable[ModelModule]) -> list[str]:
    return sorted(name for module in modules for name in exported_names(module))


def install(env: jinja2.Environment) -> None:
    """Make these functions available to the templates."""
    globals_: dict[str, Any] = {
        "typed_dict_source": typed_dict_source,
        "idempotent_bodies": idempotent_bodies,
        "exported_names": exported_names,
        "all_exported_names": all_exported_names,
        "IDEMPOTENCY_FIELD": IDEMPOTENCY_FIELD,
        "IDEMPOTENCY_DOC": IDEMPOTENCY_DOC,
    }
    env.globals.update(globals_)
    env.filters.update(params_name=params_name)
