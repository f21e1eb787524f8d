"""The facts of one operation, as the generator writes them into the resource module that uses
them (``GET_CONTACTS = Operation("getContacts", "GET", "/contacts", ...)``) and passes them to
the client with each call. (NamedTuples: quicker to build at import than dataclasses, and these
are plain records.)

``QueryKind`` is the contract between the generator and the runtime: the generator imports it to
say how each query parameter is encoded, and ``_encoding`` reads it to encode the value.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

if TYPE_CHECKING:
    from ._options import RequestOptions


class QueryKind(StrEnum):
    """How a query parameter's value is checked and written in the URL (see ``_encoding``)."""

    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"  # a Decimal, int or numeric string; never a float
    BOOLEAN = "boolean"  # "true" / "false"
    DATE = "date"  # YYYY-MM-DD
    DATETIME = "datetime"  # ISO 8601 with an offset (a date is accepted too)
    LIST = "list"  # a str, or a sequence of str joined with commas (``attributes``)


class QueryParam(NamedTuple):
    kind: QueryKind
    enum: tuple[str, ...] = ()
    required: bool = False


# The common cases, shared by every resource module.
STRING = QueryParam(QueryKind.STRING)
INTEGER = QueryParam(QueryKind.INTEGER)
DECIMAL = QueryParam(QueryKind.DECIMAL)
BOOLEAN = QueryParam(QueryKind.BOOLEAN)
DATE = QueryParam(QueryKind.DATE)
DATETIME = QueryParam(QueryKind.DATETIME)
LIST = QueryParam(QueryKind.LIST)

OperationKind = Literal["list", "get", "create", "update", "delete", "action"]
_NO_QUERY: Mapping[str, QueryParam] = MappingProxyType({})


class Operation(NamedTuple):
    id: str  # Sage's operationId, e.g. "getContacts"
    method: str
    path: str  # with {placeholders}, relative to the base URL
    query: Mapping[str, QueryParam] = _NO_QUERY
    # Any one role of one area grants access: (("Sales", ("Full Access", "Read Only")), ...)
    access: tuple[tuple[str, tuple[str, ...]], ...] = ()
    availability: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Where users meet it, and what it carries: for the sandbox, agent policies and tool export.
    resource: str = ""  # client attribute, e.g. "sales_invoices"
    name: str = ""  # method name on the resource, e.g. "release"
    kind: OperationKind = "action"
    body_key: str | None = None  # the one key wrapping the request body, e.g. "sales_invoice"
    model: str | None = None  # the response model (the item's, for lists); None: no body or bytes
    # False when Sage's access text could not be read: access is unknown (policies deny), not open.
    access_known: bool = True
    # Header parameters: the one the runtime fills with the idempotency key (the tax-return POSTs'
    # "X-Idempotency-Key"), and those the caller passes as keyword arguments.
    idempotency_header: str | None = None
    headers: tuple[str, ...] = ()

    def access_hint(self) -> str | None:
        if not self.access_known:
            return "unknown (Sage's access text could not be read)"
        if not self.access:
            return None
        return "; ".join(f"{area} ({', '.join(roles)})" for area, roles in self.access)


@functools.cache
def all_operations() -> dict[str, Operation]:
    """Every operation of the generated package by operationId, read from the resource modules
    (for the sandbox, agent policies and the command line; calls never look operations up).
    Imports every resource module (not the models) the first time."""
    import importlib
    import pkgutil

    from .. import resources

    found: dict[str, Operation] = {}
    for module_info in sorted(pkgutil.iter_modules(resources.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{resources.__name__}.{module_info.name}")
        for op in getattr(module, "OPERATIONS", ()):
            found[op.id] = op
    return found


def idempotency_key(requested: str | bool | None, body_id: str | None) -> str | None:
    """The idempotency header's value for one prepared request (retries resend that request, so
    they reuse it): the caller's id, else the one put in the body, else a new one; None when
    the caller passed ``idempotency_id=False``."""
    if requested is False:
        return None
    if isinstance(requested, str):
        return requested
    return body_id or os.urandom(16).hex()  # 32 hex characters, like the body's


def with_headers(options: RequestOptions, values: dict[str, Any]) -> RequestOptions:
    """Per-call options plus the operation's header parameters the caller gave (None: left out);
    ``extra_headers`` the caller passed still win."""
    given = {name: str(value) for name, value in values.items() if value is not None}
    merged: RequestOptions = {**options}
    merged["extra_headers"] = {**given, **(options.get("extra_headers") or {})}
    return merged
