"""Base classes of the generated models.

``SageModel`` is for what Sage sends back: ``attributes`` decides which fields come, and Sage
sends nulls, money as strings and "" for dates anywhere, so every field is optional and unknown
fields are kept. ``RequestModel`` is for what callers send: required fields are enforced before
any HTTP call, enums are checked, money is never a float, and an unknown field is refused with the
closest valid name (a misspelt key would otherwise be sent and ignored by Sage without a word).
Constructing one with a bad field raises ``RequestValidationError`` like a bad dict body does.

Both defer building their validators to first use, so importing a model module stays cheap.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from . import _closest
from ._errors import RequestValidationError, validation_problems
from ._lazy import LazyRecord

# Both: Python or wire names accepted, wire names written, validators built on first use. Each
# class spells its keywords out: pydantic's mypy plugin reads only those, not a `**` of a shared
# dict (it would type __init__ with the wire names alone: IeCreate(box_t1=...) an error).


class SageModel(LazyRecord):
    # A list page's records validate each field on first read (see _lazy.py).
    # An id or reference sent as a number is still a str.
    model_config = ConfigDict(
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        defer_build=True,
        protected_namespaces=(),
        extra="allow",
        coerce_numbers_to_str=True,
    )


class RequestModel(BaseModel):
    model_config = ConfigDict(
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        defer_build=True,
        protected_namespaces=(),
        extra="forbid",
        validate_assignment=True,
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _closest.register(cls)  # an unknown key's error names the closest field

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _argument_error(type(self), exc) from None

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            super().__setattr__(name, value)
        except ValidationError as exc:
            raise _argument_error(type(self), exc) from None

    # Validation builds nested models without calling this __init__ (as for BaseModel's own, the
    # flag pydantic's RootModel sets too): only a caller's constructor call is translated.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    def to_body(self) -> dict[str, Any]:
        """The fields the caller set, by wire name, as Python values (Decimal kept exact)."""
        return self.model_dump(mode="python", exclude_unset=True, by_alias=True)


def _argument_error(model: type[RequestModel], exc: ValidationError) -> Exception:
    """A constructor's or an assignment's pydantic error as the SDK's, named after the model."""
    return RequestValidationError(model.__name__, validation_problems(exc, model.__name__))
