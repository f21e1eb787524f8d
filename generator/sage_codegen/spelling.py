"""Python spellings of the IR: how a type, a parameter, a literal or a docstring is written in
the generated source. Pure functions of IR values (no files, no black), shared by the templates
(as Jinja filters, see ``render.py``) and by ``diff`` (which names a keyword's new annotation).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from .ir import Parameter, TypeRef

# -- types and parameters --------------------------------------------------------------------


def field_annotation(t: TypeRef, role: str) -> str:
    """The annotation of a model field, without the ``| None`` of optional fields."""
    request = role == "request"
    if t.kind == "string":
        if request and t.enum:
            return "Literal[" + ", ".join(json.dumps(v) for v in t.enum) + "]"
        return "str"
    if t.kind == "decimal":
        return "RequestDecimal" if request else "Decimal"
    if t.kind == "date":
        return "dt.date" if request else "LenientDate"
    if t.kind == "datetime":
        return "dt.datetime" if request else "LenientDateTime"
    if t.kind == "list":
        assert t.item is not None
        return f"list[{field_annotation(t.item, role)}]"
    if t.kind == "model":
        assert t.model is not None
        return t.model
    return {
        "integer": "int",
        "boolean": "bool",
        "binary": "bytes",
        "any": "Any",
        "dict": "dict[str, Any]",
    }[t.kind]


def param_annotation(p: Parameter) -> str:
    t = p.type
    if t.kind == "string" and t.enum:
        base = "Literal[" + ", ".join(json.dumps(v) for v in t.enum) + "]"
    elif t.kind == "list":
        base = "str | Sequence[str]"
    else:
        base = {
            "string": "str",
            "integer": "int",
            "boolean": "bool",
            "decimal": "Decimal",
            "date": "dt.date",
            "datetime": "dt.datetime | dt.date",
        }[t.kind]
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
