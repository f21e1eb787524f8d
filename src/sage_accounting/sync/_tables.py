"""Which list resources a sync copies, how each one is kept current, and how a record of Sage's
becomes a row: read from the operations table and the generated models, nothing per resource.

- ``Strategy``: ``feed`` (the list takes ``updated_or_created_since`` and ``deleted_since``),
  ``changes`` (only ``updated_or_created_since``: deletions are found by an id-only
  reconciliation every so often) or ``full`` (neither: listed whole each run, and what is gone
  from Sage is deleted here). Lists that need a parameter (``tax_determinations``' ``usage``)
  and the login's own lists (``businesses``, ``user``) are left out.
- ``Shape``: the model's money fields (``Decimal``) become exact ``Decimal`` values, whether
  Sage sent a string (usually), a number or null, and its date-time fields UTC ``datetime``
  values; ``_arrow`` flattens nested records into columns and lists into child tables.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from .._runtime import Operation, all_operations, wire
from ._errors import SyncDataError

Strategy = Literal["feed", "changes", "full"]

# Every money column: DECIMAL(38, 10), on DuckDB and PostgreSQL alike. Sage's amounts have 2
# digits after the point, its rates and quantities up to 6; 28 before the point is far beyond any
# book. A value that does not fit is refused (SyncDataError), never rounded.
PRECISION, SCALE = 38, 10
# Lists that are about the login, not inside one business.
NOT_PER_BUSINESS = frozenset({"businesses", "user"})


@dataclass
class Shape:
    """What to do with one model's fields: money to ``Decimal``, nested records, child lists
    (all keyed by the field's JSON name)."""

    money: tuple[str, ...] = ()
    times: tuple[str, ...] = ()  # date-time fields: UTC timestamps in the database
    records: dict[str, Shape] = field(default_factory=dict)
    lists: dict[str, Shape] = field(default_factory=dict)

    @functools.cached_property
    def kinds(self) -> dict[str, tuple[str, Shape | None]]:
        """Each field's kind by its JSON name: what a record's own keys are looked up in (a
        record holds a few of its model's many fields; walking the model's cost 3x more)."""
        kinds: dict[str, tuple[str, Shape | None]] = {}
        kinds.update((key, ("money", None)) for key in self.money)
        kinds.update((key, ("time", None)) for key in self.times)
        kinds.update((key, ("record", inner)) for key, inner in self.records.items())
        kinds.update((key, ("list", inner)) for key, inner in self.lists.items())
        return kinds


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The type inside ``X | None`` / ``Annotated[X, ...]``, and whether it is a list of it."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            # ``None`` and the lenient types' ``Literal['']`` (an empty string read as None)
            args = [a for a in typing.get_args(annotation) if a is not type(None)
                    and typing.get_origin(_unwrap(a)[0]) is not typing.Literal]  # fmt: skip
            if len(args) != 1:
                return annotation, False
            annotation = args[0]
        elif origin is list:
            inner, _ = _unwrap(typing.get_args(annotation)[0])
            return inner, True
        else:
            return annotation, False


@functools.cache
def shape_of(model: type[Any], _depth: int = 0) -> Shape:
    shape = Shape()
    if _depth > 6:  # models refer to each other; Sage's bodies are never this deep
        return shape
    money: list[str] = []
    times: list[str] = []
    for name, info in getattr(model, "model_fields", {}).items():
        key = info.alias or name
        inner, is_list = _unwrap(info.annotation)
        if inner is Decimal and not is_list:
            money.append(key)
        elif inner is dt.datetime and not is_list:
            times.append(key)
        elif isinstance(inner, type) and hasattr(inner, "model_fields"):
            (shape.lists if is_list else shape.records)[key] = shape_of(inner, _depth + 1)
    shape.money, shape.times = tuple(money), tuple(times)
    return shape


# How Sage writes an amount: digits, maybe a point and more digits (an exponent is taken too).
# Digits after the point are counted on the text itself: Decimal's as_tuple() cost 1.7 us an
# amount, half of the check. Text Decimal() takes but Sage never writes ("1_000", " 2", "NaN")
# is refused.
_AMOUNT = re.compile(r"[-+]?[0-9]*(?:\.([0-9]*))?(?:[eE][-+]?[0-9]+)?")


def _decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, float) or isinstance(value, bool):
        raise SyncDataError(f"{where}: {value!r} is not an exact amount")
    text = value if type(value) is str else None
    match = _AMOUNT.fullmatch(text) if text is not None else None
    try:
        if text is not None and match is None:
            raise InvalidOperation
        number = value if isinstance(value, Decimal) else Decimal(text or str(value))
    except InvalidOperation:
        raise SyncDataError(f"{where}: {value!r} is not a number") from None
    if not number.is_finite():
        raise SyncDataError(f"{where}: {value!r} is not a finite number")
    if match is not None and "e" not in text and "E" not in text:  # type: ignore[operator]
        fraction = match.group(1)
        too_fine = fraction is not None and len(fraction) > SCALE
    else:
        exponent = number.as_tuple().exponent
        too_fine = isinstance(exponent, int) and exponent < -SCALE
    if too_fine:
        raise SyncDataError(f"{where}: {value} has more than {SCALE} digits after the point")
    if number.adjusted() >= PRECISION - SCALE:
        raise SyncDataError(f"{where}: {value} has more than {PRECISION - SCALE} digits")
    return number


def _timestamp(value: Any, where: str) -> dt.datetime:
    try:
        moment = wire.parse_timestamp(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise SyncDataError(f"{where}: {value!r} is not a date-time")
    try:
        return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
    except OverflowError:  # its offset takes it out of Python's years
        raise SyncDataError(
            f"{where}: {value!r} is not a date-time in years 1 to 9999 UTC"
        ) from None


def exact(kind: str, value: Any, where: str) -> Any:
    """A money (``kind`` "money") or date-time ("time") value as stored: ``Decimal`` that fits
    DECIMAL(38, 10), a UTC ``datetime``; Sage's empty string is None."""
    if value == "":
        return None
    return _decimal(value, where) if kind == "money" else _timestamp(value, where)


def checked_id(raw: dict[str, Any], where: str) -> str:
    """The record's id; a record without one is refused (it could not be keyed)."""
    record_id = raw.get("id")
    if record_id is None or record_id == "" or isinstance(record_id, (dict, list)):
        raise SyncDataError(f"{where}: the record has no id ({record_id!r}); it cannot be keyed")
    return str(record_id)


def shaped(raw: dict[str, Any], shape: Shape, business: str, where: str) -> dict[str, Any]:
    """A record as the row a sync loads (nested records flattened into its columns): money as
    exact ``Decimal`` (refused when it does not fit DECIMAL(38, 10)), date-times as UTC
    ``datetime``, its business id set; a record without an id is refused."""
    from ._arrow import Flattener

    rows = Flattener("_", checked=True)
    rows.add(raw, shape, where, {"business_id": business})
    return rows.rows["_"][0]


def _child_tables(shape: Shape, table: str, prefix: str = "") -> list[str]:
    names = []
    for key, inner in shape.records.items():
        names += _child_tables(inner, table, f"{prefix}{key}__")
    for key, inner in shape.lists.items():
        child = f"{table}__{prefix}{key}"
        names += [child, *_child_tables(inner, child)]
    return names


@dataclass(frozen=True)
class Table:
    """One list resource as a sync keeps it."""

    resource: str
    op: Operation
    get: Operation | None  # the single-record GET, for records fetched one by one
    strategy: Strategy
    model: type[Any]

    @property
    def shape(self) -> Shape:
        model: Any = self.model  # a class: hashable, whatever mypy thinks of type[Any]
        return shape_of(model)

    def child_tables(self) -> list[str]:
        """The child tables its model's lists make (``sales_invoices__invoice_lines``), each
        after its parent; Sage's keys as they are (the database's names are dlt's)."""
        return _child_tables(self.shape, self.resource)


def strategy_of(op: Operation) -> Strategy:
    if all(name in op.query for name in wire.CHANGE_FEED_PARAMETERS):
        return "feed"
    if wire.UPDATED_SINCE in op.query:
        return "changes"
    return "full"


def _model(op: Operation) -> type[Any]:
    from .. import models
    from .._runtime import SageModel

    return getattr(models, op.model) if op.model else SageModel


def all_tables() -> dict[str, Table]:
    """Every list resource a sync can copy, by resource name."""
    operations = all_operations().values()
    gets = {op.resource: op for op in operations if op.kind == "get" and "{key}" in op.path}
    tables = {}
    for op in operations:
        if op.kind != "list" or op.resource in NOT_PER_BUSINESS or "{" in op.path:
            continue
        if any(param.required for param in op.query.values()):
            continue
        tables[op.resource] = Table(
            op.resource, op, gets.get(op.resource), strategy_of(op), _model(op)
        )
    return dict(sorted(tables.items()))


def choose(names: Iterable[str] | None) -> list[Table]:
    """The tables named (all of them for None); an unknown name is an error naming it."""
    tables = all_tables()
    if names is None:
        return list(tables.values())
    chosen = []
    for name in names:
        name = name.strip().replace("-", "_")
        if name not in tables:
            from .._runtime import ArgumentValueError

            raise ArgumentValueError(
                "resources", f"{name!r} is not a list resource a sync can copy"
            )
        chosen.append(tables[name])
    return chosen
