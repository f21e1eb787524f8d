"""``export RESOURCE --to FILE.csv|FILE.jsonl``: every record to a file, with a progress bar,
then the change-feed cursor beside it (``FILE.cursor``), so the next run can take only what
changed (``--since`` a time, or ``--resume`` from the cursor).

- A full export writes a temporary file and renames it at the end: an interrupted export leaves
  the previous file whole. The cursor is written only once the data is complete.
- An incremental export appends the records created or updated since then to FILE (a CSV keeps
  the header it has) and the deleted ones' ids to FILE's ``.deleted`` sibling
  (``contacts.deleted.csv``). Nothing is missed; a record may come twice (see ``ChangeFeed``).
- Resources without ``updated_or_created_since``/``deleted_since`` are exported whole and get
  no cursor.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import math
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import click

from .._runtime import Operation, SyncClient
from ._errors import EXIT_USAGE, CommandError
from ._output import cell, columns_of, json_line, record

FEED_PARAMETERS = ("updated_or_created_since", "deleted_since")


PAGE_SIZE = 200  # the pager's page (Sage's maximum)


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
        cursor = dt.datetime.fromisoformat(data["cursor"].replace("Z", "+00:00"))
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
            "cursor": cursor.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "query": {k: v for k, v in query.items() if k != "items_per_page"},
        }
    )
    tmp = cursor_path(target).with_name(f".{cursor_path(target).name}.tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, cursor_path(target))


class _Writer:
    """Rows to a CSV or JSONL file; a CSV's columns come from the first rows (or the header the
    file already has) and a later record with a field outside them is an error, never dropped."""

    def __init__(self, out: IO[str], fmt: str, preferred: list[str], header: list[str] | None):
        self._out = out
        self._fmt = fmt
        self._preferred = preferred
        self._columns = header
        self._csv = csv.writer(out, lineterminator="\n") if fmt == "csv" else None

    def write(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        if self._csv is None:
            for row in rows:
                self._out.write(json_line(row) + "\n")
            return
        if self._columns is None:
            self._columns = columns_of(rows, self._preferred)
            self._csv.writerow(self._columns)
        for row in rows:
            extra = [k for k in row if k not in self._columns]
            if extra:
                raise CommandError(
                    f"record {row.get('id')} has fields outside the CSV's columns ({', '.join(extra)}): "
                    "pass --attributes to fix the columns, or export to .jsonl"
                )
            self._csv.writerow([cell(row.get(c)) for c in self._columns])


def _csv_header(path: Path) -> list[str] | None:
    try:
        with open(path, newline="", encoding="utf-8") as existing:
            return next(csv.reader(existing), None)
    except FileNotFoundError:
        return None


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
    partial = target.with_name(f".{target.name}.part")
    out_path = target if incremental else partial
    header = _csv_header(target) if incremental and fmt == "csv" else None
    deleted: list[dict[str, Any]] = []
    count = 0
    feed: Any = None
    # Today's budget first: an export that cannot finish today is not started.
    client.quota.require(1, what=f"exporting {op.resource}")
    try:
        with open(out_path, "a" if incremental else "w", newline="", encoding="utf-8") as out:
            writer = _Writer(out, fmt, preferred, header)
            if feed_available:
                feed = client.changes(op, item, since=since, query=query, overlap=60.0, options={})
                source: Iterator[tuple[str, Any]] = ((c.kind, c.record) for c in feed)
                total: Callable[[], int | None] = lambda: feed.upserts_total  # noqa: E731
            else:
                pager = client.paginate(op, item, query=query, options={})
                source = (("upsert", r) for r in pager)
                total = lambda: pager.first_page().total  # noqa: E731
            first = next(source, None)  # fetches the first page: $total sizes the bar
            length = (total() or 0) if first is not None else 0
            # The pages still to fetch (and the deletions' list, for a feed) must fit today.
            pages_left = max(0, math.ceil(length / PAGE_SIZE) - 1) + (1 if feed else 0)
            client.quota.require(pages_left, what=f"exporting {length} {op.resource}")
            with click.progressbar(
                length=length, label=op.resource, file=sys.stderr,
                hidden=not (show_progress and length and sys.stderr.isatty()), show_pos=True,
            ) as bar:  # fmt: skip
                batch: list[dict[str, Any]] = []
                for kind, model in itertools.chain([first] if first else [], source):
                    if kind == "delete":
                        deleted.append(record(model))
                        continue
                    batch.append(record(model))
                    if len(batch) >= 200:
                        writer.write(batch)
                        count += len(batch)
                        bar.update(len(batch))
                        batch = []
                writer.write(batch)
                count += len(batch)
                bar.update(len(batch))
        if not incremental:
            os.replace(partial, target)
    finally:
        if not incremental:
            partial.unlink(missing_ok=True)
    if deleted:
        _append_deleted(target, fmt, deleted)
    summary = f"exported {count} {op.resource} to {target}"
    if since is not None:
        summary += f" (changed since {since.isoformat()}; {len(deleted)} deleted"
        summary += f" listed in {deleted_path(target).name})" if deleted else ")"
    if feed is not None:
        write_cursor(target, op.resource, business, feed.cursor, query)
        summary += f"; cursor in {cursor_path(target).name}"
    return summary


def _append_deleted(target: Path, fmt: str, rows: list[dict[str, Any]]) -> None:
    path = deleted_path(target)
    new = not path.exists()
    with open(path, "a", newline="", encoding="utf-8") as out:
        if fmt == "jsonl":
            for row in rows:
                out.write(json_line({"id": row.get("id"), "deleted_at": row.get("deleted_at")}))
                out.write("\n")
            return
        writer = csv.writer(out, lineterminator="\n")
        if new:
            writer.writerow(["id", "deleted_at"])
        writer.writerows([cell(r.get("id")), cell(r.get("deleted_at"))] for r in rows)
