"""Nightly export of sales invoices to CSV: each run writes what changed since the last one.

Run it from cron (or any scheduler) once a night::

    export SAGE_ACCESS_TOKEN=... SAGE_BUSINESS_ID=...
    python examples/export_invoices_csv.py --out-dir exports/

A night's file is ``exports/invoices-<UTC time>.csv``, one row per invoice created, updated or
deleted since the previous run (the first run: every invoice). Money columns are the exact decimal
amounts Sage holds, never floats. The change-feed cursor is kept in ``exports/.cursor`` and
written only after the CSV is complete, so a run that fails is simply repeated by the next one;
an invoice may then appear in two files, never in none.

Access tokens last five minutes, so a real nightly job refreshes them: point ``--token-file`` at
the token file the web app example (``oauth_web_app.py``) keeps, with ``SAGE_CLIENT_ID``,
``SAGE_CLIENT_SECRET`` and ``SAGE_REDIRECT_URI`` set; the session refreshes and stores the new
pair in that file. ``SAGE_BASE_URL`` (and ``SAGE_TOKEN_URL``) point it at the sandbox.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sage_accounting import (
    Change,
    FileTokenStore,
    OAuthApp,
    OAuthSession,
    SageAccounting,
    SageError,
)

COLUMNS = [
    "change",
    "id",
    "invoice_number",
    "contact",
    "date",
    "due_date",
    "currency",
    "net_amount",
    "tax_amount",
    "total_amount",
    "outstanding_amount",
    "status",
]
CURSOR_FILE = ".cursor"


def client_from_environment(token_file: Path | None) -> SageAccounting:
    where: dict[str, Any] = {}
    if os.environ.get("SAGE_BASE_URL"):
        where["base_url"] = os.environ["SAGE_BASE_URL"]
    if os.environ.get("SAGE_BUSINESS_ID"):
        where["business_id"] = os.environ["SAGE_BUSINESS_ID"]
    if token_file is None:
        return SageAccounting(access_token=os.environ["SAGE_ACCESS_TOKEN"], **where)
    app = OAuthApp(
        os.environ["SAGE_CLIENT_ID"],
        os.environ["SAGE_CLIENT_SECRET"],
        os.environ["SAGE_REDIRECT_URI"],
        token_url=os.environ.get("SAGE_TOKEN_URL") or None,  # None: Sage's
    )
    return SageAccounting(session=OAuthSession(app, FileTokenStore(token_file)), **where)


def _text(value: Any) -> str:
    """A cell: links (contact, currency, status) by name, Decimals and dates exactly as held."""
    if value is None:
        return ""
    if hasattr(value, "displayed_as"):
        return str(value.displayed_as or getattr(value, "id", "") or "")
    return str(value)


def row(change: Change[Any]) -> dict[str, str]:
    if change.kind == "delete":  # a deleted record carries its id and little else
        return {"change": "delete", "id": change.id or ""}
    record = change.record
    return {"change": "upsert", **{c: _text(getattr(record, c, None)) for c in COLUMNS[1:]}}


def write_csv(path: Path, changes: Iterable[Change[Any]]) -> int:
    """Write every change to ``path`` (through a temporary file); the number of rows."""
    partial = path.with_name(path.name + ".partial")
    count = 0
    with partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for change in changes:
            writer.writerow(row(change))
            count += 1
    partial.replace(path)
    return count


def read_cursor(out_dir: Path) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat((out_dir / CURSOR_FILE).read_text().strip())
    except FileNotFoundError:
        return None


def write_cursor(out_dir: Path, cursor: dt.datetime) -> None:
    partial = out_dir / (CURSOR_FILE + ".partial")
    partial.write_text(cursor.isoformat() + "\n")
    partial.replace(out_dir / CURSOR_FILE)


def export(client: SageAccounting, out_dir: Path, now: dt.datetime | None = None) -> Path:
    """One night's export; returns the CSV written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    now = now or dt.datetime.now(dt.UTC)
    feed = client.sales_invoices.changes(since=read_cursor(out_dir), attributes="all")
    path = out_dir / f"invoices-{now:%Y%m%dT%H%M%SZ}.csv"
    number = 1
    while path.exists():  # two runs in one second: never overwrite an earlier export
        number += 1
        path = out_dir / f"invoices-{now:%Y%m%dT%H%M%SZ}-{number}.csv"
    count = write_csv(path, feed)
    write_cursor(out_dir, feed.cursor)  # only now: the file holds every change up to it
    print(f"{count} invoice change(s) -> {path}")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=Path("exports"))
    parser.add_argument("--token-file", type=Path, help="a FileTokenStore file to refresh from")
    args = parser.parse_args(argv)
    try:
        with client_from_environment(args.token_file) as client:
            export(client, args.out_dir)
    except SageError as error:  # one line naming the cause; the cursor is unchanged
        print(f"export failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
