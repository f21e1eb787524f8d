"""What the runtime needs to know of each operation; the generator writes one per operation
into ``sage_accounting/_operations.py``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class QueryParam:
    kind: str  # string, integer, decimal, boolean, date, datetime, list
    enum: tuple[str, ...] = ()
    required: bool = False


@dataclass(frozen=True, slots=True)
class OperationInfo:
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
