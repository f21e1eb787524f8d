"""The import lines of a generated module, computed in Python and written in isort's form.

A template never decides its own imports: ``render.py`` fills one ``Imports`` per module from
what the module uses, and the template prints ``imports.block()`` (and, under ``if
TYPE_CHECKING:``, ``imports.type_checking_block()``). Writing black's and isort's form directly
saves black a pass over the file and keeps ``ruff``'s import rules quiet.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping

from .black_form import LINE_LENGTH

# Names an annotation the spellings write may use, and where each comes from (a plain import
# when no name follows the module).
ANNOTATION_NAMES: dict[str, tuple[str, ...]] = {
    "dt": ("datetime as dt",),
    "Decimal": ("decimal", "Decimal"),
    "Any": ("typing", "Any"),
    "Literal": ("typing", "Literal"),
    "NotRequired": ("typing", "NotRequired"),
    "Sequence": ("collections.abc", "Sequence"),
    "Mapping": ("collections.abc", "Mapping"),
    "LenientDate": (".._runtime", "LenientDate"),
    "LenientDateTime": (".._runtime", "LenientDateTime"),
    "RequestDecimal": (".._runtime", "RequestDecimal"),
}
_ANNOTATION_NAME = re.compile(r"\b(" + "|".join(ANNOTATION_NAMES) + r")\b")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')  # an enum's value is no name to import

# Top-level packages isort puts in the third-party section (everything else absolute is the
# standard library in generated code: the SDK depends on httpx and pydantic only).
THIRD_PARTY = frozenset({"pydantic", "typing_extensions", "httpx"})


def import_order(names: Iterable[str]) -> list[str]:
    """Names of one ``from x import ...`` in isort's order: CONSTANTS, Classes, then the rest."""

    def key(name: str) -> tuple[int, str]:
        kind = 0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2
        return kind, name

    return sorted(names, key=key)


def from_import(module: str, names: Iterable[str], indent: int = 0) -> str:
    """``from module import names`` as black writes it: one line if it fits, else one name a
    line in parentheses."""
    pad = " " * indent
    names = list(names)
    line = f"{pad}from {module} import {', '.join(names)}"
    if len(line) <= LINE_LENGTH:
        return line
    body = "".join(f"{pad}    {name},\n" for name in names)
    return f"{pad}from {module} import (\n{body}{pad})"


def _section(module: str) -> int:
    if module == "__future__":
        return 0
    if module.startswith("."):
        return 3
    return 2 if module.split(".")[0] in THIRD_PARTY else 1


def import_block(imports: Mapping[str, Iterable[str]], indent: int = 0) -> str:
    """``{module: names}`` as isort/ruff would write it: __future__, standard library, third
    party, then this package (furthest relative first); a module mapped to no names is a plain
    ``import`` (``"datetime as dt": ()``)."""
    sections: dict[int, list[tuple[tuple[int, int, str], str]]] = defaultdict(list)
    for module, names in imports.items():
        ordered = import_order(set(names))
        pad = " " * indent
        line = f"{pad}import {module}" if not ordered else from_import(module, ordered, indent)
        dots = len(module) - len(module.lstrip("."))
        key = (0 if not ordered else 1, -dots, module.lstrip("."))
        sections[_section(module)].append((key, line))
    return "\n\n".join(
        "\n".join(line for _key, line in sorted(sections[s])) for s in sorted(sections)
    )


class Imports:
    """The names one generated module imports: at run time, and under ``if TYPE_CHECKING:``."""

    def __init__(self) -> None:
        self._runtime: dict[str, set[str]] = {}
        self._type_checking: dict[str, set[str]] = {}

    def add(self, module: str, *names: str, type_checking: bool = False) -> Imports:
        """``from module import names`` (``add("datetime as dt")``: a plain import)."""
        table = self._type_checking if type_checking else self._runtime
        table.setdefault(module, set()).update(names)
        return self

    def add_if(self, condition: bool, module: str, *names: str) -> Imports:
        return self.add(module, *names) if condition else self

    def add_for(self, annotation: str) -> Imports:
        """What an annotation needs imported: found in the annotation itself (``ANNOTATION_NAMES``),
        so no module keeps its own list of which type needs which import."""
        for name in _ANNOTATION_NAME.findall(_STRING.sub('""', annotation)):
            self.add(*ANNOTATION_NAMES[name])
        return self

    def block(self) -> str:
        return import_block(self._runtime)

    def type_checking_block(self, indent: int = 4) -> str:
        return import_block(self._type_checking, indent)

    @property
    def has_type_checking(self) -> bool:
        return bool(self._type_checking)
