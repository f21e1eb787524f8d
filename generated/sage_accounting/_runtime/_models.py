"""Base classes of the generated models.

``SageModel`` is for what Sage sends back: ``attributes`` decides which fields come, and Sage
sends nulls, money as strings and "" for dates anywhere, so every field is optional and unknown
fields are kept. ``RequestModel`` is for what callers send: required fields are enforced before
any HTTP call, enums are checked, money is never a float, and unknown fields are passed through
(the spec does not declare everything Sage accepts, e.g. ``idempotency_id``).

Both defer building their validators to first use, so importing a model module stays cheap.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

# Both: unknown fields kept, Python or wire names accepted, wire names written, validators built
# on first use.
_COMMON = ConfigDict(
    extra="allow",
    validate_by_name=True,
    validate_by_alias=True,
    serialize_by_alias=True,
    defer_build=True,
    protected_namespaces=(),
)


class SageModel(BaseModel):
    # An id or reference sent as a number is still a str.
    model_config = ConfigDict(**_COMMON, coerce_numbers_to_str=True)


class RequestModel(BaseModel):
    model_config = ConfigDict(**_COMMON, validate_assignment=True)

    def to_body(self) -> dict[str, Any]:
        """The fields the caller set, by wire name, as Python values (Decimal kept exact)."""
        return self.model_dump(mode="python", exclude_unset=True, by_alias=True)
