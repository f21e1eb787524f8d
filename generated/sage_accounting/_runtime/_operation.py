"""What the runtime needs to know of each operation; the generator writes one per operation
into ``sage_accounting/_operations.py``. (NamedTuples: quicker to define at import than
dataclasses, and these are plain records.)"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from ._options import RequestOptions


class QueryParam(NamedTuple):
    kind: str  # string, integer, decimal, boolean, date, datetime, list
    enum: tuple[str, ...] = ()
    required: bool = False


class OperationInfo(NamedTuple):
    method: str
    path: str
    query: dict[str, QueryParam]
    # Any one role of one area grants access: (("Sales", ("Full Access", "Read Only")), ...)
    access: tuple[tuple[str, tuple[str, ...]], ...] = ()
    availability: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Where users meet it, and what it carries: for the sandbox, agent policies and tool export.
    resource: str = ""  # client attribute, e.g. "sales_invoices"
    name: str = ""  # method name on the resource, e.g. "release"
    kind: str = ""  # list, get, create, update, delete or action
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
