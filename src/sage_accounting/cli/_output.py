"""Printing records: ``table``, ``json``, ``jsonl`` and ``csv``, each streamed page by page.

Records are the SDK's models dumped as Python values by wire name (only the fields Sage sent).

- **Money keeps Sage's digits**: in JSON a ``Decimal`` is written as the string Sage sends
  (``"278.70"``, never the number ``278.70`` that a JSON reader loads as 278.7); in tables and
  CSV it is ``str(Decimal)``.
- **Links** (``{"id", "displayed_as", "$path"}``) show as their ``displayed_as`` in tables; in CSV
  a link column holds the ``displayed_as`` and a ``<column>.id`` column beside it holds the id,
  so nothing is lost. Other nested objects are compact JSON inside a cell.
- **CSV cells are never formulas**: text starting with ``=``, ``+``, ``-``, ``@``, tab or CR is
  prefixed with ``'`` (OWASP's advice); numbers, and text that is a plain number, stay as they are.
- **Streaming**: the columns (and a table's widths) come from the first page, and each page is
  printed as it arrives, so ``| head -1`` stops the fetching. A table is fitted to the terminal.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import shutil
import sys
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import IO, Any

import click

from .._runtime.wire import LINK_FIELDS, format_timestamp

FORMATS = ("table", "json", "jsonl", "csv")
MIN_COLUMN = 8  # a table column is never cut narrower than this
ELLIPSIS = "…"
LINK_KEYS = frozenset(LINK_FIELDS)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def record(model: Any) -> dict[str, Any]:
    """A model as a dict of wire names to Python values (Decimal kept)."""
    data: dict[str, Any] = model.model_dump(mode="python", by_alias=True, exclude_unset=True)
    return data


# -- values ------------------------------------------------------------------------------------------


def is_link(value: Any) -> bool:
    """A reference to another record as Sage writes it: ``displayed_as`` and its id or path."""
    return isinstance(value, dict) and "displayed_as" in value and value.keys() <= LINK_KEYS


def _is_link_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(is_link(v) for v in value)


def plain(value: Any) -> Any:
    """``value`` with every Decimal as its string, dates and times as Sage writes them: what the
    JSON outputs print (a JSON string for money, so its digits survive any reader)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return format_timestamp(value) if value.tzinfo else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def json_line(data: Any) -> str:
    return json.dumps(plain(data), ensure_ascii=False, separators=(",", ":"))


def cell(value: Any) -> str:
    """A value as text in a table or CSV cell (a link by its ``displayed_as``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_link(value):
        return str(value["displayed_as"] or value.get("id") or "")
    if _is_link_list(value):
        return "; ".join(cell(v) for v in value)
    if isinstance(value, (dict, list, tuple)):
        return json_line(value)
    return str(plain(value))


def safe_cell(value: Any) -> str:
    """``cell`` for a CSV file: text a spreadsheet would run as a formula gets a leading ``'``."""
    text = cell(value)
    if isinstance(value, (bool, int, float, Decimal)) or not text.startswith(FORMULA_STARTS):
        return text
    if _PLAIN_NUMBER.fullmatch(text):  # "-12.50" as text is a number, not a formula
        return text
    return "'" + text


def csv_writer(out: IO[str]) -> Any:
    """RFC 4180's CSV: CRLF between rows, so a CR inside a cell is quoted (with a bare LF as the
    row end, a cell holding CR would be read as two rows)."""
    return csv.writer(out, lineterminator="\r\n")


def csv_fields(row: dict[str, Any]) -> dict[str, Any]:
    """A record's CSV columns: each link (or list of links) also gives a ``<name>.id`` column."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        out[key] = value
        if is_link(value):
            out[f"{key}.id"] = value.get("id")
        elif _is_link_list(value):
            out[f"{key}.id"] = "; ".join(str(v.get("id") or "") for v in value)
    return out


def columns_of(rows: Sequence[dict[str, Any]], preferred: Iterable[str] = ()) -> list[str]:
    """``id`` and ``displayed_as`` first, then what was asked for, then every other key seen."""
    order = ["id", "displayed_as", *preferred]
    seen = [c for c in dict.fromkeys(order) if any(c in r for r in rows)]
    for row in rows:
        seen.extend(k for k in row if k not in seen)
    return seen


def outside_columns(row: dict[str, Any], columns: Sequence[str]) -> list[str]:
    return [k for k in row if k not in columns]


def columns_error(row: dict[str, Any], extra: list[str]) -> click.ClickException:
    from ._errors import CommandError

    return CommandError(
        f"record {row.get('id')} has fields outside the CSV's columns ({', '.join(extra)}): "
        "pass --attributes to fix the columns, or use .jsonl / --format jsonl"
    )


# -- tables ------------------------------------------------------------------------------------------


class Table:
    """A table whose columns and widths come from the first rows, fitted to ``width``
    characters: the widest columns are cut first (never below ``MIN_COLUMN``), and columns
    that still do not fit are left out (``hidden`` names them)."""

    def __init__(self, rows: Sequence[dict[str, Any]], columns: Sequence[str], width: int):
        natural = [max([len(c)] + [len(_flat(cell(r.get(c)))) for r in rows]) for c in columns]
        # Never cut: an id (it is copied into the next command) or a header (up to 24).
        floors = [n if c == "id" else min(n, max(MIN_COLUMN, min(len(c), 24)))
                  for c, n in zip(columns, natural, strict=True)]  # fmt: skip
        shown = list(columns)
        widths = list(natural)
        while sum(floors[: len(shown)]) + 2 * (len(shown) - 1) > width and len(shown) > 1:
            shown.pop()
            widths.pop()
        while sum(widths) + 2 * (len(widths) - 1) > width:
            cuttable = [i for i in range(len(widths)) if widths[i] > floors[i]]
            if not cuttable:
                break
            widest = max(cuttable, key=lambda i: widths[i])
            widths[widest] -= 1
        self.columns = shown
        self.widths = widths
        self.hidden = list(columns)[len(shown) :]

    def header(self) -> Iterator[str]:
        yield self._line(self.columns)
        yield "  ".join("-" * w for w in self.widths)

    def lines(self, rows: Iterable[dict[str, Any]]) -> Iterator[str]:
        for row in rows:
            yield self._line([cell(row.get(c)) for c in self.columns])

    def _line(self, values: Sequence[str]) -> str:
        cut = [_cut(_flat(v), w).ljust(w) for v, w in zip(values, self.widths, strict=True)]
        return "  ".join(cut).rstrip()


def _flat(text: str) -> str:
    return " ".join(text.split())


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + ELLIPSIS


def terminal_width() -> int:
    """The terminal's width (``COLUMNS`` wins; 80 when not known)."""
    return shutil.get_terminal_size((80, 24)).columns


# -- printing ------------------------------------------------------------------------------------------


def print_records(
    batches: Iterable[Sequence[Any]],
    fmt: str,
    preferred: Sequence[str] = (),
    out: IO[str] | None = None,
) -> int:
    """Print records arriving in batches (a list's pages) in ``fmt``, each batch as it comes;
    returns how many. A table or CSV takes its columns from the first batch."""
    stream = out or sys.stdout
    count = 0
    table: Table | None = None
    writer = csv_writer(stream) if fmt == "csv" else None
    columns: list[str] | None = None
    for batch in batches:
        if fmt in ("json", "jsonl"):
            for model in batch:
                line = json_line(record(model))
                if fmt == "json":
                    line = ("," if count else "[") + line
                click.echo(line, file=stream)
                count += 1
            continue
        rows = [record(m) for m in batch]
        if not rows:
            continue
        if writer is not None:
            flat = [csv_fields(r) for r in rows]
            if columns is None:
                columns = columns_of(flat, preferred)
                writer.writerow(columns)
            for row in flat:
                extra = outside_columns(row, columns)
                if extra:
                    raise columns_error(row, extra)
                writer.writerow([safe_cell(row.get(c)) for c in columns])
            stream.flush()
        else:
            if table is None:
                table = Table(rows, columns_of(rows, preferred), terminal_width())
                for line in table.header():
                    click.echo(line, file=stream)
            for line in table.lines(rows):
                click.echo(line, file=stream)
        count += len(rows)
    if fmt == "json":
        click.echo("]" if count else "[]", file=stream)
    if table is not None and table.hidden:
        click.echo(
            f"({len(table.hidden)} more columns than fit: {', '.join(table.hidden)}; "
            "use --format csv or jsonl, or fewer --attributes)",
            err=True,
        )
    if not count and fmt == "table":
        click.echo("(no records)", err=True)
    return count


def print_one(model: Any, fmt: str) -> None:
    data = record(model)
    if fmt in ("json", "jsonl"):
        click.echo(json_line(data))
    elif fmt == "csv":
        row = csv_fields(data)
        writer = csv_writer(sys.stdout)
        writer.writerow(list(row))
        writer.writerow([safe_cell(v) for v in row.values()])
    else:
        width = max((len(k) for k in data), default=0)
        for key, value in data.items():
            click.echo(f"{key.ljust(width)}  {cell(value)}")
