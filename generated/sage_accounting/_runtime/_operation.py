"""What the runtime needs to know of each operation; the generator writes one per operation
into ``sage_accounting/_operations.py``. (NamedTuples: quicker to define at import than
dataclasses, and these are plain records.)"""

from __future__ import annotations

from typing import NamedTuple


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

    def access_hint(self) -> str | None:
        if not self.access:
            return None
        return "; ".join(f"{area} ({', '.join(roles)})" for area, roles in self.access)
