"""Python spellings of the IR: how a type, a parameter, a literal or a docstring is written in
the generated source. Pure functions of IR values (no files, no black), shared by the templates
(as Jinja filters, see ``render.py``) and by ``diff`` (which names a keyword's new annotation).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator

from .ir import Parameter, TypeRef

# The line length of the generated package (black's setting too, see formatting.py).
LINE_LENGTH = 100


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


# -- long annotations in black's form ------------------------------------------------------------------


def _depths(text: str) -> Iterator[tuple[int, int]]:
    """``(index, bracket depth)`` of every character outside string literals (a closing bracket
    counts at the depth it closes to)."""
    depth, quote = 0, ""
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote and text[i - 1] != "\\" else quote
            continue
        if ch in "\"'":
            quote = ch
            continue
        depth += (ch in "[(") - (ch in "])")
        yield i, depth


def _top_level_split(text: str, separator: str) -> list[str]:
    """``text`` split at ``separator`` outside brackets and string literals."""
    parts, start = [], 0
    for i, depth in _depths(text):
        if depth == 0 and i >= start and text.startswith(separator, i):
            parts.append(text[start:i].strip())
            start = i + len(separator)
    parts.append(text[start:].strip())
    return parts


def _subscript(text: str) -> tuple[str, str] | None:
    """``("Name", "inner")`` for ``Name[inner]``; None for anything else ("A[x] | B[y]")."""
    head, bracket, _rest = text.partition("[")
    if not bracket or not head.replace(".", "").isidentifier() or not text.endswith("]"):
        return None
    closed = next((i for i, depth in _depths(text) if depth == 0 and i > len(head)), -1)
    return (head, text[len(head) + 1 : -1]) if closed == len(text) - 1 else None


def _body(expression: str, indent: int) -> list[str]:
    """``expression`` alone inside brackets at ``indent``, as black lays it out."""
    pad = " " * indent
    if len(pad) + len(expression) <= LINE_LENGTH:
        return [pad + expression]
    items = _top_level_split(expression, ",")
    if len(items) > 1:  # black: one item a line, with a magic trailing comma
        return [line for item in items if item for line in _with_suffix(_body(item, indent), ",")]
    operands = _top_level_split(expression, " | ")
    if len(operands) > 1:
        lines: list[str] = []
        for n, operand in enumerate(operands):
            operand_lines = _body(operand, indent)
            if n:
                operand_lines[0] = pad + "| " + operand_lines[0][len(pad) :]
            lines += operand_lines
        return lines
    split = _subscript(expression)
    if split is None:
        return [pad + expression]  # nothing to split: black leaves it long too
    head, inner = split
    return [f"{pad}{head}[", *_body(inner, indent + 4), f"{pad}]"]


def _with_suffix(lines: list[str], suffix: str) -> list[str]:
    return [*lines[:-1], lines[-1] + suffix]


def annotated_name(
    name: str, annotation: str, indent: int, default: str | None = None, trailing: str = ""
) -> str:
    """``name: annotation[ = default][trailing]`` at ``indent`` as black writes it: one line when
    it fits, else split at the annotation's outer brackets, or a union in parentheses, so that
    black need not read the module for it. ``make lint`` (black --check) proves the form, and
    ``tests/test_black_form.py`` compares it with black's."""
    pad = " " * indent
    assigned = f" = {default}" if default is not None else ""
    line = f"{pad}{name}: {annotation}{assigned}{trailing}"
    if len(line) <= LINE_LENGTH:
        return line
    split = _subscript(annotation)
    if len(_top_level_split(annotation, " | ")) > 1:
        lines = [f"{pad}{name}: (", *_body(annotation, indent + 4), f"{pad}){assigned}{trailing}"]
    elif split is not None and default is None:
        head, inner = split
        lines = [f"{pad}{name}: {head}[", *_body(inner, indent + 4), f"{pad}]{trailing}"]
    else:
        return line  # left to black
    return "\n".join(lines)
