"""The closest valid name of an unknown key in a request body ("did you mean 'contact_type'?").

Request model classes register here by name (``RequestModel.__init_subclass__``): a pydantic
error names only the model it started from (its ``title``), and the closest valid name of an
unknown field is looked up from there. The error messages (``_errors``) ask; the models
(``_models``) register. Neither imports the other for it, and this module imports no pydantic
(``import sage_accounting`` stays cheap): a model class is known by its ``model_fields``.
"""

from __future__ import annotations

import types
import typing
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

_REQUEST_MODELS: dict[str, type[BaseModel]] = {}


def register(cls: type[BaseModel]) -> None:
    """Make ``cls`` known by its name to ``closest_field``."""
    _REQUEST_MODELS[cls.__name__] = cls


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
    import difflib  # here, not at import: it costs ~1.4 ms of `import sage_accounting`

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
    if isinstance(annotation, type) and isinstance(getattr(annotation, "model_fields", None), dict):
        return annotation  # a pydantic model class
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, list, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None
