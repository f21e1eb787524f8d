"""Printing records: ``table``, ``json``, ``jsonl`` and ``csv``.

Records are the SDK's models dumped as Python values by wire name (only the fields Sage sent).
Money stays ``Decimal`` all the way: JSON is written by the SDK's own encoder (a Decimal is a
JSON number with its exact digits), text and CSV cells use ``str(Decimal)`` ("12.50" stays
"12.50"). Nested objects and lists are compact JSON inside a cell.
"""

from __future__ import annotations

import csv
import datetime as dt
import sys
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import IO, Any

import click

from .._runtime._encoding import dumps, format_datetime

FORMATS = ("table", "json", "jsonl", "csv")
MAX_CELL = 60  # table cells are cut beyond this (json, jsonl and csv never are)


def record(model: Any) -> dict[str, Any]:
    """A model as a dict of wire names to Python values (Decimal kept)."""
    data: dict[str, Any] = model.model_dump(mode="python", by_alias=True, exclude_unset=True)
    return data


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return format_datetime(value) if value.tzinfo else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (dict, list, tuple)):
        return dumps(value).decode()
    return str(value)


def json_line(data: Any) -> str:
    return dumps(data).decode()


def columns_of(rows: Sequence[dict[str, Any]], preferred: Iterable[str] = ()) -> list[str]:
    """``id`` and ``displayed_as`` first, then what was asked for, then every other key seen."""
    order = ["id", "displayed_as", *preferred]
    seen = [c for c in dict.fromkeys(order) if any(c in r for r in rows)]
    for row in rows:
        seen.extend(k for k in row if k not in seen)
    return seen


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> Iterator[str]:
    cells = [[_cut(cell(r.get(c))) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(line[i]) for line in cells]) for i, c in enumerate(columns)]
    yield "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()
    yield "  ".join("-" * w for w in widths)
    for line in cells:
        yield "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip()


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 3] + "..."


def print_records(
    models: Iterable[Any], fmt: str, preferred: Sequence[str] = (), out: IO[str] | None = None
) -> int:
    """Print a list of records in ``fmt``; returns how many. jsonl is streamed record by record;
    table and csv read the records first (their columns come from every record)."""
    count = 0
    if fmt == "jsonl":
        for model in models:
            click.echo(json_line(record(model)), file=out)
            count += 1
        return count
    if fmt == "json":
        click.echo("[", file=out)
        for model in models:
            click.echo(("," if count else "") + json_line(record(model)), file=out)
            count += 1
        click.echo("]", file=out)
        return count
    rows = [record(m) for m in models]
    columns = columns_of(rows, preferred)
    if fmt == "csv":
        writer = csv.writer(out or sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([cell(r.get(c)) for c in columns] for r in rows)
    elif rows:
        for line in table(rows, columns):
            click.echo(line, file=out)
    else:
        click.echo("(no records)", err=True)
    return len(rows)


def print_one(model: Any, fmt: str) -> None:
    data = record(model)
    if fmt in ("json", "jsonl"):
        click.echo(json_line(data))
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(list(data))
        writer.writerow([cell(v) for v in data.values()])
    else:
        width = max((len(k) for k in data), default=0)
        for key, value in data.items():
            click.echo(f"{key.ljust(width)}  {cell(value)}")
