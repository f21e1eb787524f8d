"""Parsing response bodies into models, fast and exact.

The fast way is pydantic's ``validate_json`` over the raw bytes (parsing and validating in one
pass, about 2.5x a plain ``json.loads``). It goes through a float for JSON numbers, which is exact
for up to 15 significant digits; a body that may hold a longer number (``has_long_number``) is
decoded with ``json.loads(parse_float=Decimal)`` first instead, so money is never rounded.
This module imports pydantic; the client loads it on the first response it parses.

A page of 200 invoices makes ~100k objects, all in one acyclic tree: the cyclic garbage collector
has nothing to find there but runs many times while they are made (it doubled the time of a
parse). Parsing runs with the collector paused; it is resumed when the last parse in progress
ends, and never turned on if the program had turned it off.

A body that is not what the operation returns raises ``MalformedBody`` with the reason; the
client turns it into ``APIResponseValidationError`` with the status, request id and an excerpt.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ._encoding import UTF8_BOM, has_long_number, loads
from ._errors import validation_problems

T = TypeVar("T", bound=BaseModel)


class Envelope(BaseModel, Generic[T]):
    """Sage's list envelope (the spec declares a bare array; the wire sends this)."""

    model_config = ConfigDict(extra="ignore")

    # Required: an object without "$items" is not a page (else it would read as an empty list).
    items: list[T] = Field(validation_alias="$items")
    total: int | None = Field(default=None, validation_alias="$total")
    page: int | None = Field(default=None, validation_alias="$page")
    next: str | None = Field(default=None, validation_alias="$next")
    back: str | None = Field(default=None, validation_alias="$back")
    items_per_page: int | None = Field(
        default=None, validation_alias=AliasChoices("$itemsPerPage", "$items_per_page")
    )


_gc_lock = threading.Lock()
_gc_parses = 0  # parses in progress, in all threads
_gc_resume = False  # whether the collector was on when the first of them began


@contextmanager
def _gc_paused() -> Iterator[None]:
    global _gc_parses, _gc_resume
    with _gc_lock:
        if _gc_parses == 0:
            _gc_resume = gc.isenabled()
            gc.disable()
        _gc_parses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_parses -= 1
            if _gc_parses == 0 and _gc_resume:
                gc.enable()


class MalformedBody(ValueError):
    """The body is not what the operation returns; the message says why."""


@contextmanager
def _malformed() -> Iterator[None]:
    """Parse failures as ``MalformedBody`` with the reason: the model's first problems (never the
    input: it may hold anything), or why the bytes are not JSON (nested too deep included)."""
    try:
        with _gc_paused():
            yield
    except ValidationError as exc:
        problems = validation_problems(exc, "body")
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise MalformedBody(
            "; ".join(f"{loc}: {msg}" for loc, msg in problems[:3]) + more
        ) from None
    except (ValueError, RecursionError) as exc:  # loads(): not JSON, or nested too deep
        raise MalformedBody(str(exc) or type(exc).__name__) from None


_envelopes: dict[type[Any], type[Envelope[Any]]] = {}
_bare_lists: dict[type[Any], TypeAdapter[Any]] = {}


def _start(content: bytes) -> tuple[bytes, bytes]:
    """The body without a UTF-8 BOM, and its first non-blank byte (b"" when it is empty)."""
    content = content.removeprefix(UTF8_BOM)
    return content, content.lstrip()[:1]


def parse_model(content: bytes, model: type[T]) -> T:
    content, first = _start(content)
    if not first:
        raise MalformedBody("empty body where a record was expected")
    if first != b"{":
        raise MalformedBody("not a JSON object")
    with _malformed():
        if has_long_number(content):
            parsed = model.model_validate(loads(content))
        else:
            parsed = model.model_validate_json(content)
    if "$items" in (parsed.model_extra or {}):
        raise MalformedBody("a list where one record was expected")
    return parsed


def parse_envelope(content: bytes, item: type[T]) -> Envelope[T]:
    """The envelope of a list response; a bare JSON array is taken as one complete page."""
    content, first = _start(content)
    if first not in (b"{", b"["):
        raise MalformedBody("empty body where a list was expected" if not first else "not JSON")
    with _malformed():
        return _parse_envelope(content, item)


def _parse_envelope(content: bytes, item: type[T]) -> Envelope[T]:
    if content.lstrip()[:1] == b"[":
        adapter = _bare_lists.get(item) or _bare_lists.setdefault(item, TypeAdapter(list[item]))  # type: ignore[valid-type]
        items = (
            adapter.validate_python(loads(content))
            if has_long_number(content)
            else adapter.validate_json(content)
        )
        return Envelope[item](**{"$items": items, "$total": len(items), "$page": 1})  # type: ignore[valid-type]
    envelope = _envelopes.get(item)
    if envelope is None:
        envelope = _envelopes[item] = Envelope[item]  # type: ignore[valid-type]
    if has_long_number(content):
        return envelope.model_validate(loads(content))
    return envelope.model_validate_json(content)
