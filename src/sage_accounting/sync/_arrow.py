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
  DECIMAL(38, 10), each money value checked to fit; a model's date-time field is a UTC
  timestamp; the rest is what Arrow infers (text, integers, booleans). A
  column whose values Arrow cannot put in one type (Sage sent a number in one record and text
  in another) is text: the values are kept, as text. A column that is null in every row of a
  chunk is left out of that chunk (dlt adds it when a value comes).

Money and date-times are converted a column at a time (``_converted``): the texts as Sage writes
them (``-12.34``, ``2026-10-01T10:00:00Z``) are matched by a pattern that admits only values
that fit (28 digits before the point, 10 after; a date-time with its zone) and cast by Arrow,
exact or an error: no Python work per value (it was half of the flatten). A column with
anything else (a number, ``1e5``, a date without a time, a value that does not fit) sends the
whole chunk through the checked path again, value by value (``_tables.exact``), which converts
what Python reads and refuses the rest in an error naming the record and field.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]  # no stubs in the wheel
import pyarrow.compute as pc  # type: ignore[import-untyped]

from ._errors import SyncDataError
from ._tables import PRECISION, SCALE, Shape, checked_id, exact

DECIMAL = pa.decimal128(PRECISION, SCALE)
TIMESTAMP = pa.timestamp("us", tz="UTC")
_ANY = Shape()  # a nested value the model does not describe: kept as Sage sent it
PARENT_KEY = ("business_id", "parent_id")
CHILD_KEY = ("business_id", "parent_id", "_sage_row")
# What a column cast admits; anything else goes value by value (``_tables._decimal``, whose
# checks these are: 28 digits before the point at most, 10 after; ``wire.parse_timestamp``).
_MONEY_TEXT = rf"^-?[0-9]{{1,{PRECISION - SCALE}}}(?:\.[0-9]{{1,{SCALE}}})?$"
# Years 0002-9998: a zone's offset cannot take them out of Python's 1-9999 in UTC (Arrow's cast
# would store year 0 or 10000); years 1 and 9999 go value by value. RE2, the pattern's engine,
# has no look-ahead, hence the alternatives.
_YEAR = (
    r"(?:000[2-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
)
_TIME_TEXT = (
    rf"^{_YEAR}-[0-9]{{2}}-[0-9]{{2}}T[0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}}(?:\.[0-9]{{1,6}})?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})$"
)
_CAST = {"money": (_MONEY_TEXT, DECIMAL), "time": (_TIME_TEXT, TIMESTAMP)}


@functools.cache
def column_name(prefix: str, key: str) -> str:
    """dlt's name for ``key`` under ``prefix`` (``contact__`` + ``$path`` -> ``contact___path``)."""
    from dlt.common.normalizers.naming.snake_case import NamingConvention

    return prefix + str(_naming(NamingConvention).normalize_identifier(key))


@functools.cache
def _naming(kind: type[Any]) -> Any:
    return kind()


class Flattener:
    """One table's rows and its child tables' rows, collected record by record. ``checked``:
    money and date-times converted value by value as they are flattened (the path a chunk
    takes again when a column cast does not admit it); else as raw texts, cast by column."""

    def __init__(self, table: str, *, checked: bool = False) -> None:
        self.table = table
        self.checked = checked
        self.rows: dict[str, list[dict[str, Any]]] = {table: []}
        self.kinds: dict[tuple[str, str], str] = {}  # (table, column): "money" or "time"
        self._added: list[tuple[Any, ...]] = []  # what was added, to do again if checked

    def add(self, record: dict[str, Any], shape: Shape, where: str, extra: dict[str, Any]) -> None:
        """A top-level record of Sage's (``where`` names it in errors), flattened: one walk
        over its own keys (money and date-times by its model's ``Shape``)."""
        row = dict(extra)
        root = checked_id(record, where)
        self._flatten(record, shape, "", row, self.table, root, "", extra, where)
        self.rows[self.table].append(row)
        self._added.append((record, shape, where, extra))

    def add_row(self, table: str, row: dict[str, Any]) -> None:
        """A row written as it is (a deletion, a child table's tombstone)."""
        self.rows.setdefault(table, []).append(row)
        self._added.append((table, row))

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
                if not self.checked:
                    if value != "":  # Sage's empty string is None (as ``exact`` reads it)
                        self.kinds[table, name] = found[0]
                        row[name] = value  # cast with its column (``_converted``)
                    continue
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
        kinds, self.kinds = self.kinds, {}
        added, self._added = self._added, []
        made = {}
        for name, table_rows in rows.items():
            if table_rows:
                made[name] = arrow_table(name, table_rows, kinds)
        if any(table is None for table in made.values()):  # a column its cast does not admit
            again = Flattener(self.table, checked=True)
            for one in added:
                again.add(*one) if len(one) == 4 else again.add_row(*one)
            yield from again.tables()
            return
        yield from made.items()


SEQ_COLUMN = "_sage_seq"


def arrow_table(
    name: str, rows: list[dict[str, Any]], kinds: dict[tuple[str, str], str] | None = None
) -> pa.Table | None:
    """The rows as an Arrow table; None when a column of raw money or date-times (``kinds``)
    is not one its cast admits."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    arrays, names = [], []
    for column in columns:
        values = [row.get(column) for row in rows]
        kind = kinds.get((name, column)) if kinds else None
        if kind is not None:
            array = _converted(values, kind)
            if array is False:
                return None
        else:
            array = _array(values, f"{name}.{column}")
        if array is not None:
            arrays.append(array)
            names.append(column)
    return pa.Table.from_arrays(arrays, names=names)


def _converted(values: list[Any], kind: str) -> pa.Array | None | bool:
    """Sage's texts of one money or date-time column cast at once (``_CAST``): the column
    (None when every value is null or empty), or False when a value is not a text its pattern
    admits or Arrow refuses it (then the checked path decides)."""
    pattern, to = _CAST[kind]
    try:
        text = pa.array(values, pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):  # not all texts: a number, a bool...
        return False
    if text.null_count == len(text):
        return None
    if not pc.all(pc.match_substring_regex(text, pattern)).as_py():
        return False
    try:
        return pc.cast(text, to)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # a day Feb has not...
        return False


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
