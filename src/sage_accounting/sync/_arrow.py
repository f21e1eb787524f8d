"""Rows as Arrow tables for dlt: a resource's records flattened into its table and its child
tables here, so dlt loads them as they are (for Arrow items it skips its row-by-row normalize,
which cost 5-7 s per 20,000 records).

- A nested record becomes columns ``contact__id``, ``contact__displayed_as`` (dlt's names:
  its naming convention turns ``$path`` into ``_path``).
- A list becomes a child table ``<table>__<column>`` (``sales_invoices__invoice_lines``); each
  row carries ``business_id``, ``parent_id`` (the id of the top-level record it belongs to),
  ``_dlt_list_idx`` (its place in its list) and ``_sage_row`` (its place from the top: ``2``,
  or ``2.0`` for the first item of a list inside the third item); a list item that is not a
  record is a row with one column, ``value``.
- Types: a column holding ``Decimal`` values (money, and any number Sage sent with a point) is
  DECIMAL(38, 10), each money value checked to fit as the record is flattened (``_tables.exact``);
  a model's date-time field is a UTC timestamp; the rest is what Arrow infers (text, integers,
  booleans). A
  column whose values Arrow cannot put in one type (Sage sent a number in one record and text
  in another) is text: the values are kept, as text. A column that is null in every row of a
  chunk is left out of that chunk (dlt adds it when a value comes).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]  # no stubs in the wheel

from ._errors import SyncDataError
from ._tables import PRECISION, SCALE, Shape, checked_id, exact

DECIMAL = pa.decimal128(PRECISION, SCALE)
TIMESTAMP = pa.timestamp("us", tz="UTC")
_ANY = Shape()  # a nested value the model does not describe: kept as Sage sent it
PARENT_KEY = ("business_id", "parent_id")
CHILD_KEY = ("business_id", "parent_id", "_sage_row")


@functools.cache
def column_name(prefix: str, key: str) -> str:
    """dlt's name for ``key`` under ``prefix`` (``contact__`` + ``$path`` -> ``contact___path``)."""
    from dlt.common.normalizers.naming.snake_case import NamingConvention

    return prefix + str(_naming(NamingConvention).normalize_identifier(key))


@functools.cache
def _naming(kind: type[Any]) -> Any:
    return kind()


class Flattener:
    """One table's rows and its child tables' rows, collected record by record."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.rows: dict[str, list[dict[str, Any]]] = {table: []}

    def add(self, record: dict[str, Any], shape: Shape, where: str, extra: dict[str, Any]) -> None:
        """A top-level record of Sage's (``where`` names it in errors), converted as it is
        flattened: one walk over its own keys (money and date-times by its model's ``Shape``)."""
        row = dict(extra)
        root = checked_id(record, where)
        self._flatten(record, shape, "", row, self.table, root, "", extra, where)
        self.rows[self.table].append(row)

    def add_row(self, table: str, row: dict[str, Any]) -> None:
        """A row written as it is (a deletion, a child table's tombstone)."""
        self.rows.setdefault(table, []).append(row)

    def _flatten(
        self,
        record: dict[str, Any],
        shape: Shape,
        prefix: str,
        row: dict[str, Any],
        table: str,
        root: str,
        place: str,
        extra: dict[str, Any],
        where: str,
    ) -> None:
        kinds = shape.kinds
        for key, value in record.items():
            if value is None:
                continue
            found = kinds.get(key)
            name = column_name(prefix, key)
            kind = type(value)
            if kind is dict:
                inner = found[1] if found is not None and found[1] is not None else _ANY
                self._flatten(
                    value, inner, name + "__", row, table, root, place, extra, f"{where}.{key}"
                )
            elif kind is list:
                inner = found[1] if found is not None and found[1] is not None else _ANY
                self._children(value, inner, f"{table}__{name}", root, place, extra,
                               f"{where}.{key}")  # fmt: skip
            elif found is not None and found[1] is None:  # money or a date-time
                converted = exact(found[0], value, f"{where}.{key}")
                if converted is not None:
                    row[name] = converted
            else:
                row[name] = value

    def _children(
        self,
        items: list[Any],
        shape: Shape,
        table: str,
        root: str,
        place: str,
        extra: dict[str, Any],
        where: str,
    ) -> None:
        rows = self.rows.setdefault(table, [])
        business = extra["business_id"]
        for index, item in enumerate(items):
            here = f"{place}.{index}" if place else str(index)
            row = {"business_id": business, "parent_id": root, "_dlt_list_idx": index,
                   "_sage_row": here}  # fmt: skip
            if SEQ_COLUMN in extra:
                row[SEQ_COLUMN] = extra[SEQ_COLUMN]
            if type(item) is dict:
                item.pop("business_id", None)  # ours, set on the row above
                item.pop("parent_id", None)
                self._flatten(item, shape, "", row, table, root, here, extra,
                              f"{where}[{index}]")  # fmt: skip
            elif item is not None:
                row["value"] = item
            rows.append(row)

    def tables(self) -> Iterable[tuple[str, pa.Table]]:
        """Each table's rows as one Arrow table (tables without rows left out); the rows are
        given up (the next chunk starts empty)."""
        rows, self.rows = self.rows, {self.table: []}
        for name, table_rows in rows.items():
            if table_rows:
                yield name, arrow_table(name, table_rows)


SEQ_COLUMN = "_sage_seq"


def arrow_table(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    arrays, names = [], []
    for column in columns:
        values = [row.get(column) for row in rows]
        array = _array(values, f"{name}.{column}")
        if array is not None:
            arrays.append(array)
            names.append(column)
    return pa.Table.from_arrays(arrays, names=names)


def _array(values: list[Any], where: str) -> pa.Array | None:
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return None
    if Decimal in kinds and kinds <= {Decimal, int}:
        try:
            return pa.array(values, DECIMAL)
        except (pa.ArrowInvalid, OverflowError) as exc:  # checked before; a last guard
            raise SyncDataError(f"{where}: a value does not fit DECIMAL({PRECISION}, {SCALE}): "
                                f"{exc}") from None  # fmt: skip
    if kinds == {dt.datetime}:
        return pa.array(values, TIMESTAMP)
    if len(kinds) == 1:
        try:
            return pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            pass
    return pa.array([None if v is None else _text(v) for v in values], pa.string())


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    return json.dumps(value, default=str)
