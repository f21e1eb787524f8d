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

    def access_hint(self) -> str | None:
        if not self.access:
            return None
        return "; ".join(f"{area} ({', '.join(roles)})" for area, roles in self.access)
