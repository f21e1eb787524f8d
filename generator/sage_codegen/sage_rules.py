"""Every Sage-specific reading of the spec, in one place, each with its reason.

Sage's Swagger documents describe the API as it was meant, not always as it behaves. The IR
builder asks this module whenever the spec alone would mislead; everything else in the builder
is plain OpenAPI. A new quirk goes here: a small function or table with a docstring saying what
Sage does and why the generator reads it so, and a test in ``tests/`` showing it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .ir import TypeRef

# -- query parameters --------------------------------------------------------------------------------

DATE_QUERY_PARAMETERS = frozenset({"from_date", "to_date"})
"""Declared ``date-time`` but compared by Sage as dates: the SDK takes a ``date``."""

LIST_QUERY_PARAMETERS = frozenset({"attributes", "nested_attributes"})
"""Declared as one string, read by Sage as a comma-separated list: the SDK takes a list too."""


def parameter_type(name: str, declared: TypeRef) -> TypeRef:
    """The type the SDK gives a parameter, after ``DATE_QUERY_PARAMETERS`` and
    ``LIST_QUERY_PARAMETERS``; otherwise the declared one."""
    from .ir import TypeKind, TypeRef  # ir imports this module's constants

    if name in DATE_QUERY_PARAMETERS and declared.kind is TypeKind.DATETIME:
        return TypeRef(TypeKind.DATE, format=declared.format)
    if name in LIST_QUERY_PARAMETERS and declared.kind is TypeKind.STRING:
        return TypeRef(TypeKind.LIST, item=TypeRef(TypeKind.STRING))
    return declared


CHANGE_FEED_PARAMETERS = frozenset({"updated_or_created_since", "deleted_since"})
"""A list taking both can be polled for upserts and deletions: its resource gets ``changes()``."""


# -- headers ------------------------------------------------------------------------------------------

IDEMPOTENCY_HEADER = "x-idempotency-key"
"""The header Sage's newer POSTs (tax returns) take for idempotency: the runtime fills it, like
the body's ``idempotency_id``, so it is no argument of the generated method."""

BODY_IDEMPOTENCY_FIELD = "idempotency_id"
"""Read by Sage inside a POST body (a repeated POST is answered once) and declared nowhere in the
spec; the runtime fills it. Request models refuse undeclared keys, so POST body models declare it
(``typed_dicts``)."""


def body_takes_idempotency_id(method: str) -> bool:
    """Only POSTs create; PUT and DELETE are idempotent already."""
    return method == "POST"


def is_accept_header(param: Mapping[str, Any]) -> bool:
    """An ``Accept`` header parameter is no argument: it only says what the operation returns
    (see ``accept_means_bytes``)."""
    return param.get("in") == "header" and str(param.get("name", "")).lower() == "accept"


def accept_means_bytes(param: Mapping[str, Any]) -> bool:
    """Sage declares downloads (``GET /attachments/{key}/file``) with a JSON schema and a
    required ``Accept`` header whose description names ``application/octet-stream``: the header
    is the truth, the operation returns bytes."""
    return "application/octet-stream" in str(param.get("description", ""))


def content_means_bytes(media_types: Iterable[str]) -> bool:
    """A success response offering anything but JSON is a download: bytes."""
    return any(m not in ("application/json", "*/*") for m in media_types)


# -- responses ----------------------------------------------------------------------------------------


def array_response_pages(method: str) -> bool:
    """Only a GET's array is a pager: Sage serves lists in an envelope (``$items``, ``$next``)
    to GETs. An array declared for another method is read as one record of its items' model."""
    return method == "get"


def response_is_empty(status: str, method: str) -> bool:
    """Without a schema, a 204 or any DELETE returns nothing."""
    return status == "204" or method == "delete"


LIST_ENVELOPE_ITEMS = "$items"
"""Sage's list responses are an envelope (``$total``, ``$page``, ``$next``, ``$back``,
``$itemsPerPage``, ``$items``); the records are under ``$items``."""


def is_list_envelope(example: Any) -> bool:
    """An example in Sage's list envelope shows a list response, whatever the path looks like
    (``GET /tax_determinations`` has no ``/{key}`` below it and answers a page of tax rates)."""
    return isinstance(example, dict) and isinstance(example.get(LIST_ENVELOPE_ITEMS), list)


def example_records(example: Any) -> list[Any]:
    """The records an example of a response shows: the items of a list envelope (Sage's examples
    of list responses are whole envelopes, ``{"$total": 42, "$back": null, "$items": [...]}``),
    the items of a bare array, else the example itself. An example is data, not a schema: what it
    holds may be anything (``null``, ``[]``, a string)."""
    if is_list_envelope(example):
        return list(example[LIST_ENVELOPE_ITEMS])
    if isinstance(example, list):
        return list(example)
    return [example]


def lists_by_shape(method: str, path: str, paths: Iterable[str]) -> bool:
    """Without a schema, a GET of a collection that has ``/{key}`` below it is a list (Sage leaves
    some list responses undeclared); anything else is one record."""
    segments = [s for s in path.strip("/").split("/") if s]
    return (
        method == "get"
        and not segments[-1].startswith("{")
        and any(p.startswith(path + "/{") for p in paths)
    )


# -- request bodies and models ----------------------------------------------------------------------


def unwrap_body(wrapper: Mapping[str, Any]) -> tuple[str, Any] | None:
    """Sage's request bodies are one-key wrappers (``{"contact": {...}}``): the key and the inner
    schema, which is what callers pass; None when the definition is not such a wrapper."""
    props = wrapper.get("properties") or {}
    if len(props) != 1:
        return None
    key, inner = next(iter(props.items()))
    return str(key), inner


REQUEST_PREFIXES = ("post", "put", "patch")
# Inline objects of a request definition are named after it: postX -> ...Create, putX -> ...Update.
_SUFFIX_BY_PREFIX = (("post", "Create"), ("put", "Update"), ("patch", "Update"))


def definition_role(
    name: str, in_request: bool, in_response: bool
) -> Literal["request", "response"]:
    """Request models enforce required fields; response models accept anything the wire sends.

    A definition reached from a response is a response model (Sage's responses omit "required"
    fields freely); one reached only from request bodies is a request model; one reached from
    nowhere is a request model if named like one (``postX``/``putX``/``patchX``)."""
    if in_response:
        return "response"
    if in_request or name.startswith(REQUEST_PREFIXES):
        return "request"
    return "response"


def inline_name_suffix(definition: str) -> str:
    """``Create`` for objects inside ``postX``, ``Update`` inside ``putX``/``patchX``, else ""."""
    return next((s for p, s in _SUFFIX_BY_PREFIX if definition.startswith(p)), "")


def request_verb_stripped(name: str) -> str | None:
    """``PostSalesInvoices`` -> ``SalesInvoices`` (the owner's name without the verb, for naming
    inline objects); None when the name starts with no request verb."""
    for verb in ("Post", "Put", "Patch"):
        if name.startswith(verb) and name[len(verb) : len(verb) + 1].isupper():
            return name[len(verb) :]
    return None


# -- resources ------------------------------------------------------------------------------------------


def resource_segment(path: str) -> str:
    """Operations are grouped by their path's first segment, not by tag: Sage tags one collection
    both 'Bank Accounts' and 'bank_accounts'."""
    return path.strip("/").split("/")[0]


def is_named_list(schema: Mapping[str, Any]) -> bool:
    """The older UKI documents name list responses as definitions of ``type: array``: such a
    definition is its items' list wherever it is used, never a class of its own."""
    return schema.get("type") == "array"
