"""Parsing response bodies into models, exact for money.

Bodies are decoded exactly: a JSON number with a fraction becomes a ``Decimal`` of its digits
(``1.10`` stays ``Decimal("1.10")``), never a float on the way, whatever its length. Bodies are
decoded by jiter (a dependency, ``float_mode="decimal"``: ~0.7x the cost of ``json.loads`` on
Sage's pages); anything it refuses (NaN, a lone surrogate, UTF-16, broken JSON) is decoded, or
refused with its reason, by the standard library's ``json.loads(parse_float=Decimal)``
(``_encoding.loads``, also the decoder where jiter is missing), so what a body decodes to, and
every reason a body is refused for, is the same either way. A single record (``get``,
``create``, ...) is then validated whole, so a bad one raises at the call. A list page's records
are built lazily (``_lazy.py``): each field is validated on first read, which makes a page cost
about what its ``json.loads`` costs instead of 3-7x; a bad value raises when it is read.
This module imports pydantic; the client loads it on the first response it parses.

A page of 200 invoices makes ~100k objects, all in one acyclic tree: the cyclic garbage collector
has nothing to find there but runs many times while they are made (it doubled the time of a
parse). Parsing a body of more than 64 KiB runs with the collector paused (a smaller one makes
too few objects for it to run more than once: pausing would cost more); it is resumed when the
last parse in progress ends, and never turned on if the program had turned it off.

A body that is not what the operation returns raises ``MalformedBody`` with the reason; the
client turns it into ``APIResponseValidationError`` with the status, request id and an excerpt.
"""

from __future__ import annotations

import gc
import json
import threading
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ._encoding import UTF8_BOM
from ._encoding import loads as _stdlib_loads
from ._errors import validation_problems
from ._lazy import Origin, Place, can_be_lazy, lazy_records
from ._page import Page
from ._response import response_validation_error

if TYPE_CHECKING:
    import httpx

T = TypeVar("T", bound=BaseModel)


class EnvelopeFacts(BaseModel):
    """Sage's list envelope but its ``$items`` (the spec declares a bare array; the wire sends
    this)."""

    model_config = ConfigDict(extra="ignore")

    total: int | None = Field(default=None, validation_alias="$total")
    page: int | None = Field(default=None, validation_alias="$page")
    next: str | None = Field(default=None, validation_alias="$next")
    back: str | None = Field(default=None, validation_alias="$back")
    items_per_page: int | None = Field(
        default=None, validation_alias=AliasChoices("$itemsPerPage", "$items_per_page")
    )


class _GCPaused:
    """The cyclic collector off while any parse is in progress (in any thread)."""

    _lock = threading.Lock()
    _parses = 0  # parses in progress
    _resume = False  # whether the collector was on when the first of them began

    def __enter__(self) -> None:
        with self._lock:
            if _GCPaused._parses == 0:
                _GCPaused._resume = gc.isenabled()
                gc.disable()
            _GCPaused._parses += 1

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            _GCPaused._parses -= 1
            if _GCPaused._parses == 0 and _GCPaused._resume:
                gc.enable()


class _Unpaused:
    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc_info: object) -> None:
        pass


_PAUSE_ABOVE = 64 * 1024  # bytes of body


def _gc_paused(content: bytes) -> _GCPaused | _Unpaused:
    return _PAUSED if len(content) > _PAUSE_ABOVE else _UNPAUSED


_PAUSED, _UNPAUSED = _GCPaused(), _Unpaused()
_validate_facts = EnvelopeFacts.__pydantic_validator__.validate_python  # no wrapper: every page


def _jiter_loads() -> Any:
    try:
        import jiter
    except ImportError:
        return None
    from_json = jiter.from_json

    def decode(content: bytes) -> Any:
        try:
            # Keys only in jiter's process-wide string cache: caching values too kept up to
            # 16k of a sync's strings alive after their pages were gone (the flat-memory test).
            return from_json(content, float_mode="decimal", allow_inf_nan=False, cache_mode="keys")
        except ValueError:  # refused (or nested deeper than jiter goes): the stdlib decides
            return _stdlib_loads(content)

    return decode


# The decoder of every body parsed here (jiter is imported with the first parse, not with the
# package: ``import sage_accounting`` stays cheap).
loads: Any = _jiter_loads() or _stdlib_loads


class MalformedBody(ValueError):
    """The body is not what the operation returns; the message says why."""


def _malformed(exc: Exception) -> MalformedBody:
    """A parse failure as ``MalformedBody`` with the reason: the model's first problems (never
    the input: it may hold anything), or why the bytes are not JSON (nested too deep included)."""
    if isinstance(exc, MalformedBody):
        return exc
    if isinstance(exc, ValidationError):
        problems = validation_problems(exc, "body")
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        return MalformedBody("; ".join(f"{loc}: {msg}" for loc, msg in problems[:3]) + more)
    if isinstance(exc, UnicodeDecodeError):
        return MalformedBody(f"not UTF-8 text: {exc}")
    if isinstance(exc, json.JSONDecodeError):
        return MalformedBody(f"not valid JSON: {exc}")
    return MalformedBody(str(exc) or type(exc).__name__)  # loads(): nested too deeply


def _start(content: bytes) -> tuple[bytes, bytes]:
    """The body without a UTF-8 BOM, and its first non-blank byte (b"" when it is empty)."""
    content = content.removeprefix(UTF8_BOM)
    return content, content.lstrip()[:1]


def parse_model(content: bytes, model: type[T]) -> T:
    """One record, validated whole."""
    content, first = _start(content)
    if not first:
        raise MalformedBody("empty body where a record was expected")
    if first != b"{":
        raise MalformedBody("not a JSON object")
    try:
        with _gc_paused(content):
            parsed = model.model_validate(loads(content))
    except (ValueError, RecursionError) as exc:  # ValidationError is a ValueError
        raise _malformed(exc) from None
    if "$items" in (parsed.model_extra or {}):
        raise MalformedBody("a list where one record was expected")
    return parsed


def parse_page(response: httpx.Response, item: type[T]) -> Page[T]:
    """The page a list response holds; ``APIResponseValidationError`` when it holds none.
    Records of a lazy-capable model validate each field on first read (``_lazy.py``)."""
    try:
        with _gc_paused(response.content):
            items, facts = _parse_list(response.content, item, Origin.of(response))
    except (ValueError, RecursionError) as exc:
        raise response_validation_error(response, str(_malformed(exc))) from None
    return Page(
        items=items,
        total=facts.total,
        page=facts.page,
        items_per_page=facts.items_per_page,
        next=facts.next or None,
        back=facts.back or None,
        date=response.headers.get("date"),
        http_response=response,
    )


_eager_lists: dict[type[Any], TypeAdapter[Any]] = {}


def _parse_list(content: bytes, item: type[T], origin: Origin) -> tuple[list[T], EnvelopeFacts]:
    """The records and facts of a list body; a bare JSON array is taken as one complete page."""
    content, first = _start(content)
    if first not in (b"{", b"["):
        raise MalformedBody("empty body where a list was expected" if not first else "not JSON")
    body = loads(content)
    where: tuple[str, ...]
    if isinstance(body, list):
        items, where, facts = body, (), EnvelopeFacts(**{"$total": len(body), "$page": 1})
    else:
        if "$items" not in body:  # else it would read as an empty page
            raise MalformedBody("$items: Field required")
        items, where, facts = body["$items"], ("$items",), _validate_facts(body)
        if not isinstance(items, list):
            raise MalformedBody("$items: Input should be a valid list")
    if not can_be_lazy(item):
        adapter = _eager_lists.get(item) or _eager_lists.setdefault(item, TypeAdapter(list[item]))  # type: ignore[valid-type]
        return adapter.validate_python(items), facts
    if not set(map(type, items)) <= {dict}:
        index, record = next((i, r) for i, r in enumerate(items) if type(r) is not dict)
        place = ".".join(map(str, (*where, index)))
        raise MalformedBody(f"{place}: Input should be an object, not {_json_kind(record)}")
    return lazy_records(item, items, Place(origin, where)), facts  # type: ignore[arg-type]


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    return {list: "an array", str: "a string", bool: "a boolean"}.get(type(value), "a number")
