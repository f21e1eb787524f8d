"""Spellings of the runtime's contract: how generated code names the runtime's own types.

The runtime (``sage_accounting._runtime._operation``) defines ``QueryKind`` and ``QueryParam``;
the generator imports ``QueryKind`` itself, so an IR kind the runtime cannot encode fails at
generation, not at a call. Kept apart from ``spelling.py`` so the diff and an up-to-date
``generate`` need not import the SDK.
"""

from __future__ import annotations

import json

from sage_accounting._runtime._operation import QueryKind

from .black_form import dict_entry
from .ir import Parameter, Resource
from .naming import snake
from .spelling import pytuple


def query_kind(p: Parameter) -> QueryKind:
    """The runtime's encoding of a query parameter: the IR's kind must be one it knows."""
    try:
        return QueryKind(p.type.kind.value)
    except ValueError:
        raise ValueError(
            f"query parameter {p.name!r}: kind {p.type.kind!r} is not one of the runtime's"
            f" QueryKind ({', '.join(QueryKind)})"
        ) from None


def query_param(p: Parameter) -> str:
    """The runtime's QueryParam for a parameter, as Python source (shared constants when plain)."""
    kind = query_kind(p)
    if p.type.enum or p.required:
        enum = f", enum={pytuple(p.type.enum)}" if p.type.enum else ""
        required = ", required=True" if p.required else ""
        return f"QueryParam(QueryKind.{kind.name}{enum}{required})"
    return kind.name


def query_constants(resource: Resource) -> list[str]:
    """The shared QueryParam constants (``INTEGER``, ...) a resource module's operations use."""
    names = {
        query_kind(p).name
        for op in resource.operations
        for p in op.query_parameters
        if not (p.type.enum or p.required)
    }
    return sorted(names)


def operation_constant(operation_id: str) -> str:
    """The module constant holding an operation's facts: "getContactsKey" -> GET_CONTACTS_KEY."""
    return snake(operation_id).upper()


def query_entry(p: Parameter, indent: int = 12) -> str:
    """``"name": QueryParam(...),`` as black writes it at ``indent`` (see ``black_form``)."""
    return dict_entry(json.dumps(p.name), query_param(p), indent)
