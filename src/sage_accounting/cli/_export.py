"""``export RESOURCE --to FILE.csv|FILE.jsonl``: every record to a file, with a progress bar,
then the change-feed cursor beside it (``FILE.cursor``), so the next run can take only what
changed (``--since`` a time, or ``--resume`` from the cursor).

- **Atomic**: every export writes a file aside (``.FILE.<pid>.<random>.tmp``) and replaces FILE
  with it only when the data is complete; the deleted list is replaced the same way, and the
  cursor is moved last. Interrupted (Ctrl-C, a dropped server, an error), FILE, its deleted list and the
  cursor are as they were, and the next ``--resume`` starts from the same point.
- **A resumed export is the resource as it now stands**: the records created or updated since
  the cursor replace their earlier rows (new ones are added at the end), and deleted ones are
  removed from FILE and listed, once each, in its ``.deleted`` sibling (``contacts.deleted.csv``).
  Each record is in FILE once, however often a change came (the cursor errs early: see
  ``ChangeFeed``).
- ``--resume`` uses the filters and attributes the cursor was made with; different ones are
  refused (the file would mix two selections).
- Resources without ``updated_or_created_since``/``deleted_since`` are exported whole and get
  no cursor.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import math
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import click

from .._runtime import AUTO_PAGE_SIZE, Operation, SyncClient, replacing_text, write_atomic
from .._runtime.wire import (
    CHANGE_FEED_PARAMETERS,
    PAGE_SIZE_PARAMETER,
    format_timestamp,
    parse_timestamp,
)
from ._errors import CommandError
from ._output import (
    columns_error,
    columns_of,
    csv_fields,
    csv_writer,
    json_line,
    outside_columns,
    plain,
    record,
    safe_cell,
)
from .exit_codes import EXIT_USAGE

FEED_PARAMETERS = CHANGE_FEED_PARAMETERS


def has_feed(op: Operation) -> bool:
    return all(name in op.query for name in FEED_PARAMETERS)


def cursor_path(target: Path) -> Path:
    return target.with_name(target.name + ".cursor")


def deleted_path(target: Path) -> Path:
    return target.with_name(f"{target.stem}.deleted{target.suffix}")


def file_format(target: Path) -> str:
    if target.suffix not in (".csv", ".jsonl"):
        raise CommandError(f"--to must end in .csv or .jsonl, not {target.name!r}", EXIT_USAGE)
    return target.suffix[1:]


def read_cursor(
    target: Path, resource: str, business: str | None
) -> tuple[dt.datetime, dict[str, Any]]:
    """The saved cursor, and the filters and attributes the export it ends was made with."""
    path = cursor_path(target)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        cursor = parse_timestamp(data["cursor"])
        if cursor.tzinfo is None:  # not what write_cursor writes: edited, or another file
            raise ValueError(data["cursor"])
    except FileNotFoundError:
        raise CommandError(
            f"--resume: no cursor beside {target} ({path.name}): run a full export first",
            EXIT_USAGE,
        ) from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise CommandError(f"--resume: {path} is not a cursor file", EXIT_USAGE) from None
    if data.get("resource") != resource or data.get("business") != business:
        raise CommandError(
            f"--resume: {path} is for {data.get('resource')} of business "
            f"{data.get('business') or 'lead'}, not {resource} of {business or 'lead'}",
            EXIT_USAGE,
        )
    query = data.get("query")
    return cursor, dict(query) if isinstance(query, dict) else {}


def check_directory(target: Path) -> None:
    """The file's directory must exist (it is not created: a typo would scatter exports)."""
    if not target.parent.is_dir():
        raise CommandError(
            f"--to {target}: there is no directory {target.parent} (create it first)", EXIT_USAGE
        )


def resumed_query(target: Path, given: dict[str, Any], saved: dict[str, Any]) -> dict[str, Any]:
    """A resume's filters: the cursor's. Others would mix two selections in one file: refused,
    naming both."""
    given = plain(given)  # as the cursor file keeps them: dates and numbers as text
    if given and given != saved:
        raise CommandError(
            f"--resume: {cursor_path(target).name} was made with {_as_options(saved)}, not "
            f"{_as_options(given)}; resume without these options, or export whole to a new "
            "file for the new filters",
            EXIT_USAGE,
        )
    return dict(saved)


def _as_options(query: dict[str, Any]) -> str:
    from ._resources import option_name

    if not query:
        return "no filters"
    return " ".join(f"{option_name(k)} {v}" for k, v in sorted(query.items()))


def write_cursor(
    target: Path,
    resource: str,
    business: str | None,
    cursor: dt.datetime,
    query: dict[str, Any],
) -> None:
    text = json.dumps(
        {
            "resource": resource,
            "business": business,
            "cursor": format_timestamp(cursor),
            "query": plain({k: v for k, v in query.items() if k != PAGE_SIZE_PARAMETER}),
        }
    )
    write_atomic(cursor_path(target), text + "\n")


class _Writer:
    """Rows to a CSV or JSONL file as they come; a CSV's columns come from the first rows (or the
    header of the file being updated) and a record with a field outside them is an error, never
    dropped. Rows are kept by id, so a later version of a record replaces the earlier one."""

    def __init__(self, fmt: str, preferred: list[str], header: list[str] | None):
        self.fmt = fmt
        self.columns = header
        self._preferred = preferred

    def csv_row(self, model_row: dict[str, Any]) -> list[str]:
        row = csv_fields(model_row)
        if self.columns is None:
            self.columns = columns_of([row], self._preferred)
        extra = outside_columns(row, self.columns)
        if extra:
            raise columns_error(row, extra)
        return [safe_cell(row.get(c)) for c in self.columns]

    def line(self, model_row: dict[str, Any]) -> Any:
        """The record as it is written: a CSV row's cells, or a JSON line."""
        return json_line(model_row) if self.fmt == "jsonl" else self.csv_row(model_row)


def _write_lines(out: IO[str], fmt: str, columns: list[str] | None, lines: Iterable[Any]) -> None:
    if fmt == "jsonl":
        out.writelines(line + "\n" for line in lines)
        return
    writer = csv_writer(out)
    if columns is not None:
        writer.writerow(columns)
    writer.writerows(lines)


def _read_existing(path: Path, fmt: str) -> tuple[list[str] | None, dict[str, Any]]:
    """An earlier export's header (CSV) and its records by id, as written (cells or lines)."""
    rows: dict[str, Any] = {}
    try:
        with open(path, newline="", encoding="utf-8") as existing:
            if fmt == "jsonl":
                for number, text in enumerate(existing, 1):
                    if text.strip():
                        rows[str(_jsonl_id(path, number, text))] = text.rstrip("\r\n")
                return None, rows
            reader = csv.reader(existing)
            header = next(reader, None)
            if header is None:
                return None, rows
            if "id" not in header:
                raise CommandError(f"{path} has no id column: it is not an export to update")
            key = header.index("id")
            for line in reader:
                rows[line[key] if key < len(line) else ""] = line
            return header, rows
    except FileNotFoundError:
        return None, rows


def _jsonl_id(path: Path, number: int, text: str) -> Any:
    try:
        return json.loads(text)["id"]
    except (ValueError, KeyError, TypeError):
        raise CommandError(f"{path}:{number} is not a record of an export to update") from None


def run(
    client: SyncClient,
    op: Operation,
    item: type[Any],
    target: Path,
    query: dict[str, Any],
    since: dt.datetime | None,
    business: str | None,
    show_progress: bool,
) -> str:
    """Export; returns the one-line summary."""
    fmt = file_format(target)
    feed_available = has_feed(op)
    if since is not None and not feed_available:
        raise CommandError(
            f"{op.resource} has no change feed (updated_or_created_since and deleted_since): "
            "--since and --resume cannot be used; export it whole",
            EXIT_USAGE,
        )
    preferred = [a for a in str(query.get("attributes") or "").split(",") if a and a != "all"]
    incremental = since is not None
    header, kept = _read_existing(target, fmt) if incremental else (None, {})
    writer = _Writer(fmt, preferred, header)
    deleted: dict[str, dict[str, Any]] = {}
    count = 0
    feed: Any = None
    # Today's budget first: an export that cannot finish today is not started.
    client.quota.require(1, what=f"exporting {op.resource}")
    if feed_available:
        feed = client.changes(op, item, since=since, query=query, overlap=60.0, options={})
        source: Iterator[tuple[str, Any]] = ((c.kind, c.record) for c in feed)
        total: Callable[[], int | None] = lambda: feed.upserts_total  # noqa: E731
    else:
        pager = client.paginate(op, item, query=query, options={})
        source = (("upsert", r) for r in pager)
        total = lambda: pager.first_page().total  # noqa: E731
    with replacing_text(target, newline="") as out:
        sink = csv_writer(out) if fmt == "csv" else None
        first = next(source, None)  # fetches the first page: $total sizes the bar
        length = (total() or 0) if first is not None else 0
        # The pages still to fetch (and the deletions' list, for a feed) must fit today.
        pages_left = max(0, math.ceil(length / AUTO_PAGE_SIZE) - 1) + (1 if feed else 0)
        client.quota.require(pages_left, what=f"exporting {length} {op.resource}")
        with click.progressbar(
            length=length, label=op.resource, file=sys.stderr,
            hidden=not (show_progress and length and sys.stderr.isatty()), show_pos=True,
        ) as bar:  # fmt: skip
            for kind, model in itertools.chain([first] if first else [], source):
                row = record(model)
                key = str(row.get("id"))
                if kind == "delete":
                    deleted[key] = row
                    kept.pop(key, None)
                    continue
                line = writer.line(row)
                count += 1
                if count % 200 == 0:
                    bar.update(200)
                if incremental:  # the record as it now stands, in its earlier place or last
                    kept[key] = line
                    deleted.pop(key, None)
                elif sink is None:  # a whole export streams to the file as pages arrive
                    out.write(line + "\n")
                else:
                    if count == 1:
                        sink.writerow(writer.columns)
                    sink.writerow(line)
            bar.update(count % 200)
        if incremental:
            _write_lines(out, fmt, writer.columns if kept else header, kept.values())
    if deleted:
        _merge_deleted(target, fmt, list(deleted.values()))
    summary = f"exported {count} {op.resource} to {target}"
    if since is not None:
        summary += f" (changed since {since.isoformat()}; {len(deleted)} deleted"
        summary += f" listed in {deleted_path(target).name})" if deleted else ")"
    if feed is not None:
        write_cursor(target, op.resource, business, feed.cursor, query)
        summary += f"; cursor in {cursor_path(target).name}"
    return summary


def _merge_deleted(target: Path, fmt: str, rows: list[dict[str, Any]]) -> None:
    """The deleted records' ids added to FILE's ``.deleted`` list, once each, replaced atomically."""
    path = deleted_path(target)
    _, known = _read_existing(path, fmt)
    for row in rows:
        entry = {"id": row.get("id"), "deleted_at": row.get("deleted_at")}
        key = str(entry["id"])
        if key not in known:
            known[key] = (
                json_line(entry) if fmt == "jsonl" else [safe_cell(v) for v in entry.values()]
            )
    with replacing_text(path, newline="") as out:
        _write_lines(out, fmt, ["id", "deleted_at"], known.values())
