"""Records of a list page, validated field by field on first read.

A page of 200 invoices with every attribute holds ~16,000 values; validating them all (a
datetime costs ~750 ns, a Decimal ~470 ns) made parsing a page cost 3x its ``json.loads``, and a
typical list (``attributes`` of five fields) 7x, as every record also filled ~75 defaults. Most
callers read a few fields of each record. So a page's records are built from their decoded JSON
objects without validation, and each field is validated the first time it is read:

- ``invoice.total_amount`` validates that one value with the field's own pydantic validator and
  keeps the result (the next read is a plain attribute read). A nested record
  (``invoice.contact``) or a list of them is built the same lazy way.
- ``model_dump()`` (or ``mode="python"``/``"json"``) of a record still lazy is built straight
  from its JSON object by one pydantic-core validator per model that builds no model
  (``_dump.py``); the record stays lazy.
- Anything else that needs the whole record (``model_dump`` with other arguments,
  ``model_dump_json``, ``==``, ``repr``, ``model_copy``, pickling, iteration, assignment,
  ``model_fields_set``, ``model_extra``, an unknown field, or pydantic serializing the record
  inside another model) first validates the rest of it, exactly as an eager ``model_validate``
  would: afterwards the record is an ordinary pydantic model. Values already read (and the
  nested records handed out) are kept.
- A value that is not what its field declares raises ``APIResponseValidationError`` when it is
  read, naming the response (status, method, path, request id), the value's place in the body
  (``$items.3.total_amount``) and an excerpt of that record.

Each lazy-capable model class gets a non-data descriptor per field. An instance attribute wins
over it, so a field read twice, or any field of an eagerly validated record, never reaches it.

Until it is whole, a record keeps its JSON object and its response's request and headers (for
its error), and its ``__dict__`` (``vars(record)``: not pydantic's API) holds only the fields
read so far.
"""

from __future__ import annotations

import copy
import json
import operator
import threading
import types
import typing
from collections import deque
from collections.abc import Iterator
from itertools import repeat
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from ._dump import IMMUTABLE, dumper_of
from ._errors import APIResponseValidationError, body_excerpt, validation_problems
from ._response import request_id_of

if TYPE_CHECKING:
    import httpx


class Origin(NamedTuple):
    """The response records came from: what their validation errors name. The response itself
    is not kept (its body would live as long as any record of it)."""

    status_code: int
    request: httpx.Request
    headers: httpx.Headers

    @classmethod
    def of(cls, response: httpx.Response) -> Origin:
        return cls(response.status_code, response.request, response.headers)


Loc = tuple[int | str, ...]


class Place(NamedTuple):
    """Where a list of records (or one record) is: its response and its place in the body."""

    origin: Origin
    loc: Loc


# Where a nested record (or list of them) is: where its parent record is (its parent's ``where``
# and index there) and the key it is under. A plain tuple: a Place is built from it only for an
# error (building one per nested read cost ~0.5 us, a quarter of reading a product's sales_prices).
_Within = tuple["_Where", "int | None", str]
_Where = Place | _Within

# What a lazy record holds until it is whole: its JSON object, and where it is (where its list is
# and its index there, or where it is itself and None).
_State = tuple[dict[str, Any], _Where, int | None]

_PYDANTIC_SLOTS = frozenset(
    {"__pydantic_extra__", "__pydantic_fields_set__", "__pydantic_private__"}
)


class LazyRecord(BaseModel):
    """A pydantic model that can also be built from its JSON object alone (``lazy_record``) and
    validate each field on first read. Built any other way it is an ordinary model."""

    __slots__ = ("_sage_lazy",)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        # Validators that see the whole record (or run after it) cannot run field by field: such
        # a model is validated whole when first touched.
        decorators = cls.__pydantic_decorators__
        if decorators.model_validators or decorators.field_validators or cls.__pydantic_post_init__:
            _whole_only.add(cls)
            return
        for name in cls.__pydantic_fields__:
            setattr(cls, name, _LazyField(cls, name))

    # Everything that reads the whole record makes it whole first. Hidden from type checkers:
    # they see pydantic's own signatures, unchanged.
    if not TYPE_CHECKING:

        def model_dump(self, *args, **kwargs):
            if not args:
                dumped = _dump_from_wire(self, kwargs)
                if dumped is not None:
                    return dumped
            _make_whole(self)
            return super().model_dump(*args, **kwargs)

        def model_dump_json(self, *args, **kwargs):
            _make_whole(self)
            return super().model_dump_json(*args, **kwargs)

        def __copy__(self):
            _make_whole(self)
            return super().__copy__()

        def __deepcopy__(self, memo=None):
            _make_whole(self)
            return super().__deepcopy__(memo)

        def __getstate__(self):
            _make_whole(self)
            return super().__getstate__()

        def __eq__(self, other):
            _make_whole(self)
            if isinstance(other, LazyRecord):
                _make_whole(other)
            return super().__eq__(other)

        __hash__ = None  # as BaseModel's (defining __eq__ would reset it)

        def __iter__(self):
            _make_whole(self)
            return super().__iter__()

        def __repr_args__(self):
            _make_whole(self)
            return super().__repr_args__()

        def __setattr__(self, name, value):
            _make_whole(self)
            super().__setattr__(name, value)

        def __delattr__(self, name):
            _make_whole(self)
            super().__delattr__(name)

        def __getattr__(self, name):
            state = _state_of(self)
            # pydantic's own slots (read by model_fields_set, model_extra, pydantic-core's
            # serializer), or an unknown field the record holds: the whole record is needed.
            if state is not None and (name in _PYDANTIC_SLOTS or name in state[0]):
                _make_whole(self)
                return getattr(self, name)
            return super().__getattr__(name)


_state_slot = LazyRecord.__dict__["_sage_lazy"]
_whole_only: set[type[LazyRecord]] = set()


def _state_of(record: LazyRecord) -> _State | None:
    try:
        state: _State = _state_slot.__get__(record)
    except AttributeError:
        return None
    return state


def is_lazy_capable(model: type[Any]) -> bool:
    return isinstance(model, type) and issubclass(model, LazyRecord)


def lazy_record(model: type[LazyRecord], wire: dict[str, Any], place: _Where) -> Any:
    """A ``model`` instance over ``wire`` (a decoded JSON object), validated on first read."""
    record = model.__new__(model)
    _state_slot.__set__(record, (wire, place, None))
    return record


_MAPPED_FROM = 16  # records in a list: a loop measured ~2x cheaper for 3, the maps no worse at 200


def lazy_records(model: type[LazyRecord], wires: list[dict[str, Any]], place: _Where) -> list[Any]:
    """``lazy_record`` for each object of the list at ``place``. The loops run in C: a page's
    records must cost far less than decoding them (~0.2 us each against ~0.75 us)."""
    count = len(wires)
    if count < _MAPPED_FROM:  # a nested list (an invoice's lines): setting up the maps costs more
        new, set_state = model.__new__, _state_slot.__set__
        records = []
        for index, wire in enumerate(wires):
            record = new(model)
            set_state(record, (wire, place, index))
            records.append(record)
        return records
    records = list(map(model.__new__, repeat(model, count)))
    states = zip(wires, repeat(place, count), range(count), strict=True)
    deque(map(_state_slot.__set__, records, states), maxlen=0)
    return records


def _loc(state: _State) -> Loc:
    return _loc_of(state[1], state[2])


def _loc_of(where: _Where, index: int | None) -> Loc:
    if isinstance(where, Place):
        loc = where.loc
    else:
        parent, parent_index, key = where
        loc = (*_loc_of(parent, parent_index), key)
    return loc if index is None else (*loc, index)


def _place_at(where: _Where, index: int | None) -> Place:
    """The Place of what is at ``index`` of ``where`` (or at ``where`` itself), for an error."""
    top = where
    while not isinstance(top, Place):
        top = top[0]
    return Place(top.origin, _loc_of(where, index))


def _place_of(state: _State) -> Place:
    return _place_at(state[1], state[2])


def _within(state: _State, key: str) -> _Within:
    """Where the value under ``key`` of the record of ``state`` is."""
    return (state[1], state[2], key)


def _records_within(model: type[LazyRecord], wires: list[Any], where: _Within) -> list[Any] | None:
    """``lazy_records`` of a nested list (a few objects: an invoice's lines), in one loop that
    also checks each is an object; None where one is not (its validator then names the error)."""
    new, set_state = model.__new__, _state_slot.__set__
    records = []
    for index, wire in enumerate(wires):
        if type(wire) is not dict:
            return None
        record = new(model)
        set_state(record, (wire, where, index))
        records.append(record)
    return records


def ids_of(records: list[Any]) -> tuple[Any, ...]:
    """Each record's ``id``: as sent while it is lazy (so reading it validates nothing), else its
    attribute. For the pager, which compares the ids of every page with the previous page's."""
    try:  # all lazy (a page just parsed): in C, ~0.1 us a record
        return tuple(map(dict.get, map(_wire_of, map(_state_slot.__get__, records)), repeat("id")))
    except (AttributeError, TypeError):  # some whole, or not records at all
        return tuple(_id_of(record) for record in records)


def _id_of(record: Any) -> Any:
    state = _state_of(record) if isinstance(record, LazyRecord) else None
    return state[0].get("id") if state is not None else getattr(record, "id", None)


_wire_of = operator.itemgetter(0)


# -- reading one field ------------------------------------------------------------------------


class _LazyField:
    """Non-data descriptor: reached only while the instance has no value for the field."""

    __slots__ = ("owner", "name", "plan")

    def __init__(self, owner: type[LazyRecord], name: str) -> None:
        self.owner, self.name = owner, name
        self.plan: _FieldPlan | None = None  # built on the first read (~1 ms: a TypeAdapter)

    def __get__(self, record: LazyRecord | None, owner: type[Any]) -> Any:
        # The common read is inline (a page reads ~1,000 fields; each Python call here costs as
        # much as the read): the slot read as an attribute (~5x cheaper than the slot's
        # __get__), the value under the field's first key, and either that value as it is or
        # its validator's result.
        try:
            state: _State = record._sage_lazy  # type: ignore[union-attr]
        except AttributeError:
            if record is None:  # on the class: as if there were no such attribute (pydantic's)
                raise AttributeError(self.name) from None
            # An ordinary instance without the field (deleted): as pydantic.
            raise AttributeError(
                f"{type(record).__name__!r} object has no attribute {self.name!r}"
            ) from None
        if type(record) is not self.owner:  # a subclass validated whole (it has no descriptors)
            _make_whole(typing.cast(LazyRecord, record))
            return record.__dict__[self.name]
        plan = self.plan
        if plan is None:
            plan = self.plan = self._plan()
        value = state[0].get(plan.key, _ABSENT)
        # Two threads may read at once: the first value stored is the one everybody gets.
        if type(value) is plan.as_is or (value is None and plan.optional):
            return record.__dict__.setdefault(self.name, value)
        validate = plan.validate_other
        if validate is not None:
            if value is not _ABSENT:
                try:
                    return record.__dict__.setdefault(self.name, validate(value))
                except ValidationError:
                    pass  # read again below, for the error that names the value's place
        # A nested record or a record's lines: built here, no call to plan.read (the tuples are
        # _within(state, plan.key), inline).
        elif plan.kind is _MODELS:
            if type(value) is list:
                records = _records_within(plan.model, value, (state[1], state[2], plan.key))  # type: ignore[arg-type]
                if records is not None:
                    return record.__dict__.setdefault(self.name, records)
        elif type(value) is dict:  # one nested record
            nested = lazy_record(plan.model, value, (state[1], state[2], plan.key))  # type: ignore[arg-type]
            return record.__dict__.setdefault(self.name, nested)
        return record.__dict__.setdefault(self.name, plan.read(record, state))

    def _plan(self) -> _FieldPlan:
        if not self.owner.__pydantic_complete__:
            self.owner.model_rebuild()  # resolves the annotations (models build deferred)
        return _FieldPlan(self.owner, self.name)


_MODEL, _MODELS, _OTHER = "model", "list of models", "other"
_ABSENT = object()


class _FieldPlan:
    """How to read one field from a JSON object: its keys, its default, and its validator."""

    def __init__(self, owner: type[BaseModel], name: str) -> None:
        field = owner.__pydantic_fields__[name]
        alias = field.validation_alias if isinstance(field.validation_alias, str) else field.alias
        self.name = name
        self.keys = (alias, name) if alias and alias != name else (name,)
        self.key = self.keys[0]  # the model reads it first: its value there is the field's
        self.field = field
        self.required = field.is_required()
        self.kind, self.optional, self.model = _kind(field.annotation, field.metadata)
        config = ConfigDict(**owner.model_config)
        config.pop("title", None)
        config.pop("defer_build", None)  # the validator is wanted now
        # A value of exactly this type is its own validated value (``str`` for a ``str | None``
        # field, with no constraint or setting that could change it): no validator call.
        self.as_is = _as_is(field.annotation, field.metadata, config)
        annotation: Any = field.annotation
        if field.metadata:  # constraints pydantic moved off the annotation
            annotation = typing.Annotated[(annotation, *field.metadata)]
        # The owning model's settings (coerce_numbers_to_str above all); a nested model, a
        # TypedDict or a dataclass keeps its own.
        adapter: TypeAdapter[Any] = TypeAdapter(annotation, config=config)
        # pydantic-core's own, no wrapper, and no Python fast path in front of it: it reads
        # "2025-12-23T11:12:23Z" in ~90 ns and "10.0" in ~170 ns, while Python cannot even build
        # its result (a datetime with a pydantic_core.TzInfo: ~330 ns) or prove a string plain
        # enough for Decimal() (~90 ns, then ~120 ns for Decimal itself) for less.
        self.validate = adapter.validator.validate_python
        # A value under ``key`` of a field holding no record is validated by the descriptor.
        self.validate_other = self.validate if self.kind is _OTHER else None

    def read(self, record: LazyRecord, state: _State) -> Any:
        wire = state[0]
        for key in self.keys:
            if key in wire:
                break
        else:
            if self.required:  # "field required" is the whole record's error
                _make_whole(record)
                return record.__dict__[self.name]
            default = self.field.get_default(call_default_factory=True, validated_data={})
            return default if default is None else copy.deepcopy(default)
        value = wire[key]
        if type(value) is self.as_is or (value is None and self.optional):
            return value
        if self.kind is _MODEL and type(value) is dict:
            return lazy_record(self.model, value, _within(state, key))  # type: ignore[arg-type]
        if self.kind is _MODELS and type(value) is list:
            records = _records_within(self.model, value, _within(state, key))  # type: ignore[arg-type]
            if records is not None:
                return records
        try:
            return self.validate(value)
        except ValidationError as exc:
            raise _invalid(exc, _place_at(_within(state, key), None), wire) from None


def _as_is(annotation: Any, metadata: list[Any], config: ConfigDict) -> type[Any] | None:
    if metadata or any(key.startswith("str_") for key in config):
        return None
    args: tuple[Any, ...] = (annotation,)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
    rest = [a for a in args if a is not type(None)]
    return rest[0] if len(rest) == 1 and rest[0] in (str, bool, int) else None


def _kind(annotation: Any, metadata: list[Any]) -> tuple[str, bool, type[Any] | None]:
    """Whether a field holds a lazy-capable record (``X | None``), a list of them
    (``list[X] | None``) or anything else; and whether null is allowed."""
    args: tuple[Any, ...] = (annotation,)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
    rest = [a for a in args if a is not type(None)]
    optional = len(rest) < len(args)
    if metadata or len(rest) != 1:
        return _OTHER, optional, None
    (target,) = rest
    if can_be_lazy(target):
        return _MODEL, optional, target
    if typing.get_origin(target) is list:
        (item,) = typing.get_args(target) or (Any,)
        if can_be_lazy(item):
            return _MODELS, optional, item
    return _OTHER, optional, None


def can_be_lazy(target: Any) -> bool:
    """Whether records of ``target`` may be built lazily (it has no whole-record validators)."""
    return is_lazy_capable(target) and target not in _whole_only


# -- dumping a record that is still lazy ------------------------------------------------------

_DUMP_MODES = ("python", "json")


def _dump_from_wire(record: LazyRecord, arguments: dict[str, Any]) -> dict[str, Any] | None:
    """``model_dump(**arguments)`` of a lazy record straight from its JSON object (``_dump.py``),
    leaving it lazy; None where that would not be the same as the ordinary dump."""
    # Called for every dump, of records as small as an invoice's five fields (~2 us): the
    # checks are inline, in the order that rules out the most at least cost.
    if arguments and (arguments.keys() != {"mode"} or arguments["mode"] not in _DUMP_MODES):
        return None
    try:
        state: _State = record._sage_lazy  # type: ignore[attr-defined]
    except AttributeError:  # whole
        return None
    read = record.__dict__
    if read and not IMMUTABLE.issuperset(map(type, read.values())):
        return None  # a list or nested record read may have been changed: dumped whole
    dumper = dumper_of(type(record))
    if dumper is None:
        return None
    try:
        dumped = dumper.dump(state[0])
    except ValidationError:  # dumped the ordinary way, whose error names the value's place
        return None
    if arguments.get("mode", "python") == "json":
        return dumper.to_python(dumped, mode="json")  # type: ignore[no-any-return]
    return dumped


# -- making a record whole --------------------------------------------------------------------

_whole_lock = threading.RLock()


def _make_whole(record: LazyRecord) -> None:
    """Validate the rest of a lazy record: afterwards it is an ordinary pydantic model."""
    if _state_of(record) is None:
        return
    with _whole_lock:
        state = _state_of(record)
        if state is None:  # another thread made it whole meanwhile
            return
        wire = state[0]
        try:
            whole = type(record).__pydantic_validator__.validate_python(wire)
        except ValidationError as exc:
            raise _invalid(exc, _place_of(state), wire) from None
        values = record.__dict__
        read = dict(values)
        # In place (pydantic-core may hold this dict already) and in field order (dumps follow
        # it): the whole record's values in field order, then the ones already read over them
        # (updating a key keeps its place).
        values.clear()
        values.update(whole.__dict__)
        values.update(read)
        setattr_ = object.__setattr__
        setattr_(record, "__pydantic_fields_set__", whole.__pydantic_fields_set__)
        setattr_(record, "__pydantic_extra__", whole.__pydantic_extra__)
        setattr_(record, "__pydantic_private__", whole.__pydantic_private__)
        _state_slot.__delete__(record)
        for name in read:  # nested records handed out before: whole as well
            for nested in _records_in(values[name]):
                _make_whole(nested)


def _records_in(value: Any) -> Iterator[LazyRecord]:
    if isinstance(value, LazyRecord):
        yield value
    elif isinstance(value, list):
        yield from (v for v in value if isinstance(v, LazyRecord))


def _invalid(
    exc: ValidationError, place: Place, wire: dict[str, Any]
) -> APIResponseValidationError:
    """A bad value as the error a bad body raises: the response, the value's place in the body
    and the record it is in (bounded and redacted), never more of the body."""
    where = ".".join(str(part) for part in place.loc) or "body"
    problems = [
        (f"{where}.{field}" if field != where else where, problem)
        for field, problem in validation_problems(exc, where)
    ]
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    origin = place.origin
    return APIResponseValidationError(
        "; ".join(f"{field}: {problem}" for field, problem in problems[:3]) + more,
        status_code=origin.status_code,
        method=origin.request.method,
        path=origin.request.url.raw_path.decode("ascii", errors="replace"),
        request_id=request_id_of(origin.headers),
        body_excerpt=body_excerpt(json.dumps(wire, default=str).encode()),
    )
