"""The generator's errors: a spec that cannot be used, and a generation that must not happen."""

from __future__ import annotations


def escape_pointer_token(token: str | int) -> str:
    """Escape one JSON pointer reference token (RFC 6901)."""
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer(*tokens: str | int) -> str:
    """Build a JSON pointer from unescaped tokens: pointer("paths", "/a/{b}") -> "/paths/~1a~1{b}"."""
    return "".join("/" + escape_pointer_token(t) for t in tokens)


class SpecError(Exception):
    """A spec document that cannot be used. Printed as one line: ``file#pointer: message``."""

    def __init__(self, file: str, json_pointer: str, message: str) -> None:
        self.file = file
        self.pointer = json_pointer
        self.message = message
        super().__init__(f"{file}#{json_pointer}: {message}")


class GeneratorError(Exception):
    """Generation refused: a template wrote invalid Python, or a write would reach a hand-written
    folder of the package. The message names the file."""
