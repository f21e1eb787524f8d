"""``present(x)``: a value a test relies on, asserted not None. Every field of a response model
is optional (Sage omits what it likes), so a test reading one it knows is there says so here
rather than casting."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def present(value: T | None) -> T:
    """``value``, or AssertionError when it is None."""
    if value is None:
        raise AssertionError("expected a value, got None")
    return value
