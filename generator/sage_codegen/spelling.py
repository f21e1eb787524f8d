"""Python spellings of the IR: how a type, a parameter, a literal or a docstring is written in
the generated source. Pure functions of IR values (no files, no black), shared by the templates
(as Jinja filters, see ``render.py``) and by ``diff`` (which names a keyword's new annotation).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import assert_never

from .ir import ModelRole, Parameter, TypeKind, TypeRef

# -- types and parameters --------------------------------------------------------------------


def literal(values: Iterable[str]) -> str:
    """``Literal["a", "b"]``: an enum's annotation."""
    return "Literal[" + ", ".join(json.dumps(v) for v in values) + "]"


def field_annotation(t: TypeRef, role: ModelRole) -> str:
    """The annotation of a model field, without the ``| None`` of optional fields."""
    request = role == "request"
    match t.kind:
        case TypeKind.STRING:
            return literal(t.enum) if request and t.enum else "str"
        case TypeKind.INTEGER:
            return "int"
        case TypeKind.DECIMAL:
            return "RequestDecimal" if request else "Decimal"
        case TypeKind.BOOLEAN:
            return "bool"
        case TypeKind.DATE:
            return "dt.date" if request else "LenientDate"
        case TypeKind.DATETIME:
            return "dt.datetime" if request else "LenientDateTime"
        case TypeKind.BINARY:
            return "bytes"
        case TypeKind.ANY:
            return "Any"
        case TypeKind.DICT:
            return "dict[str, Any]"
        case TypeKind.LIST:
            assert t.item is not None
            return f"list[{field_annotation(t.item, role)}]"
        case TypeKind.MODEL:
            assert t.model is not None
            return t.model
    assert_never(t.kind)


def param_annotation(p: Parameter) -> str:
    """A keyword argument's annotation (``| None`` when the parameter is optional): a request
    field's, but money as ``Decimal``, a datetime also as a date, a list also as one string."""
    match p.type.kind:
        case TypeKind.STRING | TypeKind.INTEGER | TypeKind.BOOLEAN | TypeKind.DATE:
            base = field_annotation(p.type, "request")
        case TypeKind.DECIMAL:
            base = "Decimal"
        case TypeKind.DATETIME:
            base = "dt.datetime | dt.date"
        case TypeKind.LIST:
            base = "str | Sequence[str]"
        case TypeKind.BINARY | TypeKind.ANY | TypeKind.DICT | TypeKind.MODEL:
            raise AssertionError(f"parameter {p.name!r}: the IR refuses a {p.type.kind} parameter")
        case _:
            assert_never(p.type.kind)
    return base if p.required else f"{base} | None"


def path_dict(params: Iterable[Parameter]) -> str:
    """``{"key": key}``: the path parameters of a call, as black writes a short dict."""
    return "{" + ", ".join(f"{json.dumps(p.name)}: {p.py_name}" for p in params) + "}"


def pytuple(values: tuple[str, ...]) -> str:
    """A tuple literal black keeps on one line (no magic trailing comma unless it needs one)."""
    inner = ", ".join(json.dumps(v, ensure_ascii=False) for v in values)
    return f"({inner},)" if len(values) == 1 else f"({inner})"


def docstring(text: str, indent: int = 0) -> str:
    """Text made safe for a triple-quoted docstring: HTML dropped, backslashes and quotes escaped."""
    text = re.sub(r"<br\s*/?>", "\n", text or "")
    text = re.sub(r"<[^>]+>", "", text)
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    lines = [line.rstrip() for line in text.strip().split("\n")]
    cleaned: list[str] = []
    for line in lines:
        if line or (cleaned and cleaned[-1]):
            cleaned.append(line.strip() if not line.startswith("  ") else line[2:].rstrip())
    while cleaned and not cleaned[-1]:
        cleaned.pop()
    if cleaned and cleaned[-1].endswith('"'):
        cleaned[-1] += " "  # a docstring may not end in a quote
    pad = " " * indent
    return ("\n" + pad).join(cleaned).replace("\n" + pad + "\n", "\n\n")


def one_line(text: str) -> str:
    return " ".join(docstring(text).split())
