"""Each (business, resource)'s cursor, in a table of the destination: ``_sage_sync_cursors``.

Why a table of our own rather than dlt's pipeline state: dlt keeps a pipeline's state as one
JSON document, rewritten whole by each load. Several workers sync different businesses into one
database at once; a row per (business, resource), written only after that business's load has
succeeded, lets each advance its own cursors without touching anyone else's, and a person can
read them with SQL. A cursor is written after the load; a run killed in between only makes the
next run read that window again, which the merge on (business_id, id) makes harmless.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._runtime import wire

if TYPE_CHECKING:
    from dlt.destinations.sql_client import SqlClientBase

TABLE = "_sage_sync_cursors"


@dataclass(frozen=True)
class Cursor:
    business_id: str
    resource: str
    since: dt.datetime  # pass as updated_or_created_since / deleted_since next time
    reconciled_at: dt.datetime | None  # the last id-only (or whole) listing
    records: int  # what the last run loaded (upserts and deletions)


def _time(text: Any) -> dt.datetime | None:
    if text is None:
        return None
    if isinstance(text, dt.datetime):
        return text if text.tzinfo else text.replace(tzinfo=dt.UTC)
    value = wire.parse_timestamp(str(text))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _text(value: dt.datetime | None) -> str | None:
    return None if value is None else wire.format_timestamp(value)


def ensure(client: SqlClientBase[Any]) -> str:
    """Create the dataset and the table if need be; returns the table's qualified name."""
    if not client.has_dataset():
        try:
            client.create_dataset()
        except Exception:  # another worker made it a moment ago
            if not client.has_dataset():
                raise
    name = str(client.make_qualified_table_name(TABLE))
    client.execute_sql(
        f"CREATE TABLE IF NOT EXISTS {name} (business_id VARCHAR NOT NULL, "
        "resource VARCHAR NOT NULL, since VARCHAR NOT NULL, reconciled_at VARCHAR, "
        "records BIGINT NOT NULL, synced_at VARCHAR NOT NULL, "
        "PRIMARY KEY (business_id, resource))"
    )
    return name


def read(client: SqlClientBase[Any], business: str) -> dict[str, Cursor]:
    name = ensure(client)
    rows = client.execute_sql(
        f"SELECT resource, since, reconciled_at, records FROM {name} WHERE business_id = %s",
        business,
    )
    found = {}
    for resource, since, reconciled_at, records in rows or []:
        since_time = _time(since)
        assert since_time is not None
        found[resource] = Cursor(business, resource, since_time, _time(reconciled_at), records)
    return found


def write(client: SqlClientBase[Any], cursors: list[Cursor]) -> None:
    """Replace these cursors in one transaction."""
    if not cursors:
        return
    name = ensure(client)
    now = _text(dt.datetime.now(dt.UTC))
    with client.begin_transaction():
        for cursor in cursors:
            client.execute_sql(
                f"DELETE FROM {name} WHERE business_id = %s AND resource = %s",
                cursor.business_id,
                cursor.resource,
            )
            client.execute_sql(
                f"INSERT INTO {name} VALUES (%s, %s, %s, %s, %s, %s)",
                cursor.business_id,
                cursor.resource,
                _text(cursor.since),
                _text(cursor.reconciled_at),
                cursor.records,
                now,
            )
