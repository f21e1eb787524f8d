"""Black's layout, written by the generator itself where that pays: black need not read the file.

From-scratch generation is otherwise mostly black's time. ``bench/bench_generate.py
--black-form`` times each form kept here against rendering it plainly and letting black lay it
out; what does not pay is rendered plainly and left to black (``formatting.needs_black`` sends a
file with a line over ``LINE_LENGTH`` through black). Kept: a long ``name: annotation`` (models,
TypedDicts, method signatures) and a long ``"key": Call(...)`` value (the resource modules'
``QueryParam`` entries), both through one splitter of bracketed expressions; ``imports.py``
writes the import lines (isort's and black's form). ``tests/test_black_form.py`` and
``tests/test_render_black.py`` hold them against black itself; ``make lint`` (black --check)
and ``make check-generated`` prove them for the whole package.
"""

from __future__ import annotations

from collections.abc import Iterator

# The line length of the generated package (black's setting too, see formatting.py).
LINE_LENGTH = 100


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


def _bracketed(text: str) -> tuple[str, str, str] | None:
    """``("head(", "inner", ")")`` for ``head(inner)`` or ``head[inner]``, where the head is a
    name, a dotted name or a keyword argument (``enum=``), or nothing (a tuple); None for
    anything else ("A[x] | B[y]")."""
    closer = text[-1:]
    if closer not in (")", "]"):
        return None
    start = text.find("(" if closer == ")" else "[")
    head = text[:start].removesuffix("=")
    if start < 0 or (head and not head.replace(".", "").isidentifier()):
        return None
    closed = next((i for i, depth in _depths(text) if depth == 0 and i >= start), -1)
    return (text[: start + 1], text[start + 1 : -1], closer) if closed == len(text) - 1 else None


def _is_literal(head: str) -> bool:
    """Brackets that are a tuple or list literal (no call, no subscript): black puts every item
    of such a body on its own line once it splits it."""
    return head[:-1] == "" or head[:-1].endswith("=")


def _split_lines(expression: str, indent: int, prefix: str = "", suffix: str = "") -> list[str]:
    """``prefix`` + ``expression`` + ``suffix`` at ``indent``, split at the expression's outer
    brackets as black's right-hand split does when the line is too long."""
    pad = " " * indent
    line = pad + prefix + expression + suffix
    split = _bracketed(expression)
    if len(line) <= LINE_LENGTH or split is None:
        return [line]  # it fits, or nothing to split: black leaves it long too
    head, inner, closer = split
    body = _body(inner, indent + 4, explode=_is_literal(head))
    return [pad + prefix + head, *body, pad + closer + suffix]


def _body(expression: str, indent: int, explode: bool = False) -> list[str]:
    """``expression`` alone inside brackets at ``indent``, as black lays it out."""
    pad = " " * indent
    items = [item for item in _top_level_split(expression, ",") if item]
    if len(pad) + len(expression) <= LINE_LENGTH and not (explode and len(items) > 1):
        return [pad + expression]
    if len(items) > 1:  # black: one item a line, with a magic trailing comma
        return [line for item in items for line in _body_item(item, indent)]
    operands = _top_level_split(expression, " | ")
    if len(operands) > 1:
        lines: list[str] = []
        for n, operand in enumerate(operands):
            operand_lines = _body(operand, indent)
            if n:
                operand_lines[0] = pad + "| " + operand_lines[0][len(pad) :]
            lines += operand_lines
        return lines
    return _split_lines(expression, indent)


def _body_item(item: str, indent: int) -> list[str]:
    """One item of a split body, with its trailing comma."""
    if len(_top_level_split(item, " | ")) > 1:
        lines = _body(item, indent)
        return [*lines[:-1], lines[-1] + ","]
    return _split_lines(item, indent, suffix=",")


def annotated_name(
    name: str, annotation: str, indent: int, default: str | None = None, trailing: str = ""
) -> str:
    """``name: annotation[ = default][trailing]`` at ``indent`` as black writes it: one line when
    it fits; else, for a statement whose ``name: annotation = (`` fits, the default alone in
    parentheses; else split at the annotation's outer brackets, or a union in parentheses. A
    ``trailing`` comma makes it a parameter (black never splits a parameter's default)."""
    pad = " " * indent
    assigned = f" = {default}" if default is not None else ""
    line = f"{pad}{name}: {annotation}{assigned}{trailing}"
    if len(line) <= LINE_LENGTH:
        return line
    if (
        default is not None
        and not trailing
        and len(f"{pad}{name}: {annotation} = (") <= LINE_LENGTH
    ):
        return f"{pad}{name}: {annotation} = (\n{pad}    {default}\n{pad})"
    split = _bracketed(annotation)
    if len(_top_level_split(annotation, " | ")) > 1:
        lines = [f"{pad}{name}: (", *_body(annotation, indent + 4), f"{pad}){assigned}{trailing}"]
    elif split is not None and default is None:
        head, inner, closer = split
        lines = [f"{pad}{name}: {head}", *_body(inner, indent + 4), f"{pad}{closer}{trailing}"]
    else:
        return line  # left to black
    return "\n".join(lines)


def wrapped(expression: str, indent: int, prefix: str = "", suffix: str = "") -> str:
    """``prefix`` + ``expression`` + ``suffix`` (a statement, e.g. ``return f(a, b)``) at ``indent``
    as black writes it: one line when it fits, else split at the expression's outer brackets."""
    return "\n".join(_split_lines(expression, indent, prefix, suffix))


def dict_entry(key: str, value: str, indent: int) -> str:
    """``key: value,`` (an entry of a dict literal split one entry a line) at ``indent`` as black
    writes it: one line when it fits, else the value split at its outer brackets."""
    return wrapped(value, indent, prefix=f"{key}: ", suffix=",")
