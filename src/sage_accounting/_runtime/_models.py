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

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from ._lazy import LazyRecord

# Both: Python or wire names accepted, wire names written, validators built on first use.
_COMMON = ConfigDict(
    validate_by_name=True,
    validate_by_alias=True,
    serialize_by_alias=True,
    defer_build=True,
    protected_namespaces=(),
)


class SageModel(LazyRecord):
    # A list page's records validate each field on first read (see _lazy.py).
    # An id or reference sent as a number is still a str.
    model_config = ConfigDict(**_COMMON, extra="allow", coerce_numbers_to_str=True)


# Request model classes by name: a pydantic error names only the model it started from (its
# ``title``), and the closest valid name of an unknown field is looked up from there.
_REQUEST_MODELS: dict[str, type[RequestModel]] = {}


class RequestModel(BaseModel):
    model_config = ConfigDict(**_COMMON, extra="forbid", validate_assignment=True)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REQUEST_MODELS[cls.__name__] = cls

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
    from ._errors import RequestValidationError, validation_problems

    return RequestValidationError(model.__name__, validation_problems(exc, model.__name__))


def closest_field(model: str, loc: tuple[int | str, ...]) -> str | None:
    """The valid field name closest to the unknown key at ``loc`` (the path from request model
    ``model``, the key last), by wire name; None when nothing is close or the path is unknown."""
    cls: type[BaseModel] | None = _REQUEST_MODELS.get(model)
    for part in loc[:-1]:
        if cls is None:
            return None
        if isinstance(part, int):  # a list item: same model
            continue
        field = _field(cls, part)
        cls = _model_in(field.annotation) if field else None
    if cls is None:
        return None
    names = [f.alias or name for name, f in cls.model_fields.items()]
    names += [name for name in cls.model_fields if name not in names]
    found = difflib.get_close_matches(str(loc[-1]), names, n=1)
    return found[0] if found else None


def _field(cls: type[BaseModel], key: str) -> Any:
    fields = cls.model_fields
    if key in fields:
        return fields[key]
    return next((f for f in fields.values() if f.alias == key), None)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model class inside ``X | None``, ``list[X]`` and the like."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, list, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None
