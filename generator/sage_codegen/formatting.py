"""black over the rendered sources: only where it may change something, on every core given.

The templates write black's form, so most files skip black (``needs_black``); those that do not
are still parsed, so a template bug fails at generation, not at import.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from .black_form import LINE_LENGTH
from .errors import GeneratorError

# black is imported only when a file needs it (most runs format nothing): its version is read
# from the installed distribution, the same string as black.__version__.
BLACK_VERSION: str = importlib.metadata.version("black")


_UNSPLITTABLE = re.compile(r'\s*"[^"\\]*": ("[^"\\]*"|[A-Za-z_][A-Za-z0-9_]*),')


def needs_black(source: str) -> bool:
    """Whether black may change this template output: it has a code line over the line length.

    The templates write black's form (imports, signatures, blank lines, trailing commas), so what
    black still rewrites is a line too long, such as a long ``Literal[...]`` enum, or a string
    holding an escaped quote (black prefers ``'"'`` to ``"\\""``). Long lines inside
    docstrings or marked ``# fmt: skip`` are left alone by black too. The rule errs towards black
    (a long line black cannot split still goes through it), and CI proves it: ``make lint`` runs
    ``black --check`` over the committed package and ``make check-generated`` shows the committed
    package is exactly what the generator writes.
    """
    in_docstring = False
    for line in source.splitlines():
        if _UNSPLITTABLE.fullmatch(line):
            continue  # black leaves a '"key": "value",' or '"key": name,' entry as it is
        quotes = line.count('"""')
        if not in_docstring and not quotes and not line.endswith("# fmt: skip"):
            if len(line) > LINE_LENGTH or '\\"' in line:
                return True  # too long, or a string black may requote ('"' for "\"")
        if quotes % 2:
            in_docstring = not in_docstring
    return False


def check_syntax(path: str, source: str) -> None:
    """A file black does not read is still parsed: a template bug fails here, not at import."""
    try:
        ast.parse(source, filename=path)
    except SyntaxError as exc:
        raise GeneratorError(f"generated {path} is not valid Python: {exc}") from None


def black_mode() -> Any:
    """The black settings of the package (black.Mode; black is imported here, when needed)."""
    import black
    from black.mode import TargetVersion

    return black.Mode(line_length=LINE_LENGTH, target_versions={TargetVersion.PY311})


def _format_one(item: tuple[str, str]) -> tuple[str, str]:
    import black
    from black.parsing import InvalidInput

    path, source = item
    try:
        return path, black.format_str(source, mode=black_mode())
    except InvalidInput as exc:  # a template bug: show where
        raise GeneratorError(f"generated {path} is not valid Python: {exc}") from None


def format_all(files: Mapping[str, str], jobs: int) -> dict[str, str]:
    """``{path: source}`` through black, ``jobs`` processes at a time."""
    # Largest first, one at a time: the workers finish together.
    items = sorted(files.items(), key=lambda item: -len(item[1]))
    if jobs <= 1 or len(items) < 8:
        return dict(map(_format_one, items))
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return dict(pool.map(_format_one, items, chunksize=1))
