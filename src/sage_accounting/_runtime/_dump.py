"""``model_dump()`` of a lazy record straight from its JSON object, building no model.

Dumping a lazy record the ordinary way validates it whole (pydantic-core builds the record and
every nested record, ~22 us for a product of Sage's page) and then serializes what it built back
into dicts (~5 us). Neither step is needed to get the dump: what ``model_dump()`` returns is what
validating the JSON object into plain dicts returns. So each model class gets one pydantic-core
validator (public API: ``pydantic_core.SchemaValidator`` over a schema derived from the model's
own core schema) in which every model is a typed dict:

- its keys are the names ``model_dump()`` writes (the serialization alias where the model's
  config serializes by alias, ``$path``), read from the same keys as the model reads (alias
  first, then the field name) and in the same order;
- each field keeps the model's own schema for its value, default included: the same validation,
  the same coercions (``coerce_numbers_to_str``), the same defaults, Decimal digits kept;
- unknown keys are kept after the fields, as the model keeps them in ``model_extra`` and dumps
  them; they and any ``Any`` value are copied (a dump never shares the record's JSON object).

The dump of a product costs ~9 us this way. It is used only where it is the same as the model's:
``model_dump()`` with no argument or ``mode="python"`` / ``mode="json"`` (the latter through the
typed dicts' serializer), a record no field of which holds anything but an immutable value read
so far, of a model whose schema has nothing that serializes differently from what validates
(computed fields, custom serializers, excluded fields, validators that see a whole record). A
record whose JSON object this validator refuses is dumped the ordinary way, which raises the
error naming the bad value's place (``$items.3.total_amount``). tests/test_real_pages.py checks
the two ways agree on every record of Sage's recorded pages and on generated and mutated ones.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from pydantic_core import CoreConfig, SchemaSerializer, SchemaValidator, core_schema

# Values a record read before its dump that the dump may still take from its JSON object: the
# caller cannot have changed them (a list or nested record read may have been changed since).
IMMUTABLE = frozenset({str, int, bool, float, Decimal, dt.datetime, dt.date, dt.time, type(None)})

_NOT_SAME = "not the same"  # a schema whose dump this module cannot reproduce


class _NotSame(Exception):
    pass


class Dumper:
    """One model's dump validator, and its serializer for ``mode="json"``.

    A sparse record (Sage sends what ``attributes=`` asked for: 5 of a sales invoice's 80
    fields) is dumped as a copy of the model's defaults updated with what a validator of only
    the fields it holds makes of it: filling 75 defaults one by one cost ~3x the rest. Records
    of a list hold the same keys, so such validators are kept by the keys they were built for
    (a few per model: beyond that the whole validator fills the defaults)."""

    __slots__ = (
        "validate",
        "to_python",
        "_defaults",
        "_sparse_to",
        "_by_keys",
        "_top",
        "_definitions",
        "_config",
    )

    def __init__(
        self,
        top: core_schema.TypedDictSchema,
        definitions: list[core_schema.CoreSchema],
        config: CoreConfig,
    ) -> None:
        schema = core_schema.definitions_schema(top, definitions)
        self.validate: Callable[[Any], dict[str, Any]] = SchemaValidator(
            schema, config
        ).validate_python
        self.to_python = SchemaSerializer(schema, config).to_python
        self._top, self._definitions, self._config = top, definitions, config
        self._defaults = _defaults_of(top)
        # The most keys a sparse record holds (none where the fields' defaults cannot be shared).
        self._sparse_to = -1 if self._defaults is None else len(self._defaults) // _SPARSE
        self._by_keys: dict[tuple[str, ...], Callable[[Any], dict[str, Any]]] = {}

    def dump(self, wire: dict[str, Any]) -> dict[str, Any]:
        """The dump of ``wire``; ``ValidationError`` where the model would refuse it."""
        # A small record's dump costs ~1.5 us: each step here is a tenth of it.
        if len(wire) > self._sparse_to:
            return self.validate(wire)
        keys = tuple(wire)
        validate = self._by_keys.get(keys) or self._sparse(keys)
        dumped = self._defaults.copy()  # type: ignore[union-attr]  # in field order; extras follow
        dumped.update(validate(wire))
        return dumped

    def _sparse(self, keys: tuple[str, ...]) -> Callable[[Any], dict[str, Any]]:
        with _lock:
            if keys in self._by_keys:
                return self._by_keys[keys]
            if len(self._by_keys) >= _SPARSE_KEPT:
                return self.validate
            held = set(keys)
            top = {key: value for key, value in self._top.items() if key != "ref"}
            top["fields"] = {
                key: field
                for key, field in self._top["fields"].items()
                if held.intersection(_lookup_keys(key, field))
            }
            schema = core_schema.definitions_schema(top, self._definitions)
            validate = SchemaValidator(schema, self._config).validate_python
            self._by_keys[keys] = validate
            return validate


_SPARSE = 2  # a record holding at most half the model's fields is sparse
_SPARSE_KEPT = 8  # sparse validators kept per model (~2 ms each to build)


def _lookup_keys(key: str, field: core_schema.TypedDictField) -> list[str]:
    alias = field.get("validation_alias")
    return [key] if alias is None else [str(path[0]) for path in alias]  # type: ignore[index]


def _defaults_of(top: core_schema.TypedDictSchema) -> dict[str, Any] | None:
    """Each field's default by dump key, where every field has one that a dump may share."""
    defaults = {}
    for key, field in top["fields"].items():
        schema: Any = field["schema"]
        if schema["type"] != "default" or "default" not in schema:
            return None
        if type(schema["default"]) not in IMMUTABLE:
            return None
        defaults[key] = schema["default"]
    return defaults


_dumpers: dict[type[BaseModel], Dumper | None] = {}
_lock = threading.Lock()


def dumper_of(model: type[BaseModel]) -> Dumper | None:
    """The model's dumper (built on first use), or None where its dump is not the same."""
    try:
        return _dumpers[model]
    except KeyError:
        pass
    with _lock:
        if model not in _dumpers:
            _dumpers[model] = _build(model)
    return _dumpers[model]


def _build(model: type[BaseModel]) -> Dumper | None:
    if not model.__pydantic_complete__:
        model.model_rebuild()
    schema = model.__pydantic_core_schema__
    top = schema["schema"] if schema["type"] == "definitions" else schema
    if top["type"] != "model":  # validators around the model: _lazy validates it whole
        return None
    try:
        derived = _as_dicts(schema)
    except _NotSame:
        return None
    definitions = [*derived.pop("definitions", ()), _json_copy()]
    if derived["type"] == "definitions":
        derived = derived["schema"]
    config: CoreConfig = dict(top.get("config") or {})  # type: ignore[assignment]
    return Dumper(derived, definitions, config)


# A JSON value copied: objects and arrays as new dicts and lists, anything else as it is.
_JSON_REF = "sage-accounting:json-copy"
_JSON_COPY = core_schema.definition_reference_schema(_JSON_REF)


def _json_copy() -> core_schema.CoreSchema:
    return core_schema.union_schema(
        [
            core_schema.dict_schema(core_schema.any_schema(), _JSON_COPY),
            core_schema.list_schema(_JSON_COPY),
            core_schema.any_schema(),
        ],
        mode="left_to_right",
        ref=_JSON_REF,
    )


def _as_dicts(schema: Any) -> Any:
    """``schema`` with every model a typed dict of what its dump holds (see the module)."""
    if isinstance(schema, list):
        return [_as_dicts(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    kind = schema.get("type")
    if "serialization" in schema:  # a custom serializer: the dump is not the validated value
        raise _NotSame(_NOT_SAME)
    if kind == "model":
        return _model_as_dict(schema)
    if kind in ("function-before", "function-after", "function-wrap") and _holds_model(schema):
        raise _NotSame(_NOT_SAME)  # a validator that sees a record, not a dict
    if kind == "any":
        return _JSON_COPY
    return {
        key: value if key in ("cls", "metadata", "function") else _as_dicts(value)
        for key, value in schema.items()
    }


def _model_as_dict(schema: dict[str, Any]) -> core_schema.TypedDictSchema:
    fields_schema = schema["schema"]
    if (
        fields_schema.get("type") != "model-fields"
        or fields_schema.get("computed_fields")
        or schema.get("root_model")
        or schema.get("custom_init")
        or schema.get("post_init")
    ):
        raise _NotSame(_NOT_SAME)
    config = dict(schema.get("config") or {})
    by_alias = config.get("serialize_by_alias", False)
    by_name = config.get("validate_by_name", False)
    fields: dict[str, Any] = {}
    for name, field in fields_schema["fields"].items():
        if field.get("serialization_exclude") or field.get("serialization_exclude_if"):
            raise _NotSame(_NOT_SAME)
        alias = field.get("validation_alias")
        if alias is not None and not isinstance(alias, str):
            raise _NotSame(_NOT_SAME)  # AliasPath / AliasChoices: not in the generated models
        key = (field.get("serialization_alias") if by_alias else None) or name
        if key in fields:
            raise _NotSame(_NOT_SAME)
        # Read as the model reads: its alias first, then its name (validate_by_name).
        keys = [alias] if alias is not None and config.get("validate_by_alias", True) else []
        if alias is None or by_name:
            keys.append(name)
        if not keys:
            raise _NotSame(_NOT_SAME)
        choices: list[list[str | int]] = [[k] for k in dict.fromkeys(keys)]
        fields[key] = core_schema.typed_dict_field(
            _as_dicts(field["schema"]),
            required=_is_required(field["schema"]),
            validation_alias=None if keys == [key] else choices,
        )
    # Keys are read only as listed above (the typed dict's own names are the dump's).
    config.update(validate_by_name=False, validate_by_alias=True)
    extras = fields_schema.get("extras_schema")
    return core_schema.typed_dict_schema(
        fields,
        extras_schema=_as_dicts(extras) if extras is not None else _JSON_COPY,
        extra_behavior=fields_schema.get("extra_behavior") or config.get("extra_fields_behavior"),
        total=False,
        ref=schema.get("ref"),
        config=config,  # type: ignore[arg-type]
    )


def _is_required(schema: dict[str, Any]) -> bool:
    return schema.get("type") != "default"


def _holds_model(schema: Any) -> bool:
    if isinstance(schema, list):
        return any(_holds_model(item) for item in schema)
    if not isinstance(schema, dict):
        return False
    if schema.get("type") in ("model", "definition-ref"):
        return True
    return any(_holds_model(v) for k, v in schema.items() if k not in ("cls", "metadata"))
