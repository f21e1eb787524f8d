"""Which list resources a sync copies, how each one is kept current, and how a record of Sage's
becomes a row: read from the operations table and the generated models, nothing per resource.

- ``Strategy``: ``feed`` (the list takes ``updated_or_created_since`` and ``deleted_since``),
  ``changes`` (only ``updated_or_created_since``: deletions are found by an id-only
  reconciliation every so often) or ``full`` (neither: listed whole each run, and what is gone
  from Sage is deleted here). Lists that need a parameter (``tax_determinations``' ``usage``)
  and the login's own lists (``businesses``, ``user``) are left out.
- ``Shape``: the model's money fields (``Decimal``) become exact ``Decimal`` values, whether
  Sage sent a string (usually), a number or null; nested records stay dicts (dlt flattens them
  into ``contact__id`` columns) and lists of records become child tables, each row carrying
  ``business_id`` and ``parent_id`` (the id of the record it belongs to).
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from .._runtime import Operation, all_operations
from ._errors import SyncDataError

Strategy = Literal["feed", "changes", "full"]

# Every money column: DECIMAL(38, 10), on DuckDB and PostgreSQL alike. Sage's amounts have 2
# digits after the point, its rates and quantities up to 6; 28 before the point is far beyond any
# book. A value that does not fit is refused (SyncDataError), never rounded.
PRECISION, SCALE = 38, 10
MONEY_COLUMN = {"data_type": "decimal", "precision": PRECISION, "scale": SCALE}
# Lists that are about the login, not inside one business.
NOT_PER_BUSINESS = frozenset({"businesses", "user"})


@dataclass
class Shape:
    """What to do with one model's fields: money to ``Decimal``, nested records, child lists
    (all keyed by the field's JSON name)."""

    money: tuple[str, ...] = ()
    records: dict[str, Shape] = field(default_factory=dict)
    lists: dict[str, Shape] = field(default_factory=dict)


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The type inside ``X | None`` / ``Annotated[X, ...]``, and whether it is a list of it."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
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
    for name, info in getattr(model, "model_fields", {}).items():
        key = info.alias or name
        inner, is_list = _unwrap(info.annotation)
        if inner is Decimal and not is_list:
            money.append(key)
        elif isinstance(inner, type) and hasattr(inner, "model_fields"):
            (shape.lists if is_list else shape.records)[key] = shape_of(inner, _depth + 1)
    shape.money = tuple(money)
    return shape


def _decimal(value: Any, where: str) -> Decimal:
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise SyncDataError(f"{where}: {value!r} is not a number") from None
    if isinstance(value, float) or isinstance(value, bool):
        raise SyncDataError(f"{where}: {value!r} is not an exact amount")
    exponent = number.as_tuple().exponent
    if not number.is_finite() or (isinstance(exponent, int) and exponent < -SCALE):
        raise SyncDataError(f"{where}: {value} has more than {SCALE} digits after the point")
    if number.adjusted() >= PRECISION - SCALE:
        raise SyncDataError(f"{where}: {value} has more than {PRECISION - SCALE} digits")
    return number


def shaped(raw: dict[str, Any], shape: Shape, business: str, where: str) -> dict[str, Any]:
    """A record as the row dlt loads (the raw dict is changed in place and returned)."""
    for key in shape.money:
        value = raw.get(key)
        if value is not None and value != "":
            raw[key] = _decimal(value, f"{where}.{key}")
        elif value == "":
            raw[key] = None
    for key, inner in shape.records.items():
        value = raw.get(key)
        if isinstance(value, dict):
            shaped(value, inner, business, f"{where}.{key}")
    for key, inner in shape.lists.items():
        value = raw.get(key)
        if isinstance(value, list):
            parent = raw.get("id")
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    shaped(item, inner, business, f"{where}.{key}[{index}]")
                    item["business_id"] = business
                    item["parent_id"] = parent
    raw["business_id"] = business
    return raw


def _money_columns(shape: Shape, prefix: str = "") -> dict[str, dict[str, Any]]:
    columns = {f"{prefix}{key}": {"name": f"{prefix}{key}", **MONEY_COLUMN} for key in shape.money}
    for key, inner in shape.records.items():
        columns.update(_money_columns(inner, f"{prefix}{key}__"))
    return columns


def _nested_hints(
    shape: Shape, path: tuple[str, ...] = ()
) -> dict[tuple[str, ...], dict[str, Any]]:
    hints: dict[tuple[str, ...], dict[str, Any]] = {}
    for key, inner in shape.lists.items():
        here = (*path, key)
        hints[here] = {"columns": _money_columns(inner)}
        hints.update(_nested_hints(inner, here))
    return hints


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

    def columns(self) -> dict[str, dict[str, Any]]:
        return _money_columns(self.shape)

    def nested_hints(self) -> dict[tuple[str, ...], dict[str, Any]]:
        return _nested_hints(self.shape)

    def child_tables(self) -> list[str]:
        """The child tables' names (``sales_invoices__invoice_lines``), deepest last."""
        return ["__".join((self.resource, *path)) for path in self.nested_hints()]


def strategy_of(op: Operation) -> Strategy:
    if "updated_or_created_since" in op.query and "deleted_since" in op.query:
        return "feed"
    if "updated_or_created_since" in op.query:
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
