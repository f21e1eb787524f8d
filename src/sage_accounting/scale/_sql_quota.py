"""``SQLQuotaBackend``: the quota ledger's counts in a SQL database (PostgreSQL or SQLite).

Two small tables: one row per key (a day's counter, or the row a window's or the slots'
transactions lock) and the windows' entries and slots' leases. Each step of the ledger is one
transaction that first locks the rows of every key it touches, in key order (so two workers
never wait for each other in a circle: ``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite takes the
database's write lock at ``BEGIN IMMEDIATE``), then counts all of an ``Ask`` or none of it.
Times are the hosts' clocks (keep them in step with NTP, as for Redis).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from .._runtime._quota import Ask, Reading, Verdict
from ._sql import Tables, engine_for, shown, transaction

metadata = MetaData()
keys = Table(  # one row per key: what a transaction locks before it counts
    "sage_quota_keys",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("counter", Integer, nullable=False, default=0),
    Column("expires_at", Float, nullable=False, default=0.0),
)
entries = Table(  # moving windows' entries and slots' leases
    "sage_quota_entries",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("entry", String(32), primary_key=True),
    Column("at", Float, nullable=False),
)


class SQLQuotaBackend:
    """The ledger in the database at ``url`` (a SQLAlchemy URL: ``postgresql+psycopg://...`` or
    ``sqlite:///path``) or ``engine``; the tables are created when missing (on first use)."""

    local = False

    def __init__(self, url: str | None = None, *, engine: Engine | None = None) -> None:
        self.engine = engine_for(url, engine)
        self._tables = Tables(self.engine, metadata)

    def __repr__(self) -> str:
        return f"SQLQuotaBackend({shown(self.engine)!r})"

    # -- the rows of an Ask ---------------------------------------------------------------------

    @staticmethod
    def _keys(ask: Ask) -> tuple[list[str], list[str], str | None]:
        """The rows' keys of ``ask``'s counters, windows and slots (a prefix per kind)."""
        slots = None if ask.slots is None else "s:" + ask.slots.key
        return ["c:" + c.key for c in ask.counters], ["w:" + w.key for w in ask.windows], slots

    def _lock(self, connection: Connection, wanted: Iterable[str]) -> dict[str, Any]:
        """The rows of ``wanted``, made when missing and locked (in key order) until the
        transaction ends."""
        wanted = sorted(set(wanted))
        query = select(keys).where(keys.c.key.in_(wanted)).order_by(keys.c.key)
        if connection.dialect.name == "postgresql":
            query = query.with_for_update()
        rows = {row.key: row for row in connection.execute(query)}
        missing = [key for key in wanted if key not in rows]
        if missing:
            dialect: Any = postgresql if connection.dialect.name == "postgresql" else sqlite
            connection.execute(
                dialect.insert(keys).on_conflict_do_nothing(),
                [{"key": key, "counter": 0, "expires_at": 0.0} for key in missing],
            )
            rows = {row.key: row for row in connection.execute(query)}
        return rows

    @staticmethod
    def _spans(ask: Ask, now: float) -> list[tuple[str, float]]:
        """Each window's and the slots' key with the time at or before which entries are gone."""
        spans = [("w:" + w.key, now - w.seconds) for w in ask.windows]
        if ask.slots is not None:
            spans.append(("s:" + ask.slots.key, now))
        return spans

    def _entries(
        self, connection: Connection, spans: list[tuple[str, float]], *, prune: bool
    ) -> dict[str, tuple[int, float | None]]:
        """Each key's live entries: (how many, the oldest's time); the dead ones deleted when
        ``prune``."""
        if not spans:
            return {}
        if prune:
            connection.execute(
                delete(entries).where(
                    or_(*(and_(entries.c.key == key, entries.c.at <= gone) for key, gone in spans))
                )
            )
        rows = connection.execute(
            select(entries.c.key, func.count(), func.min(entries.c.at))
            .where(or_(*(and_(entries.c.key == key, entries.c.at > gone) for key, gone in spans)))
            .group_by(entries.c.key)
        )
        return {row[0]: (int(row[1]), row[2]) for row in rows}

    @staticmethod
    def _counter(row: Any, now: float) -> int:
        return int(row.counter) if row is not None and row.expires_at > now else 0

    def _set_counters(self, connection: Connection, values: list[dict[str, Any]]) -> None:
        if values:
            connection.execute(
                update(keys)
                .where(keys.c.key == bindparam("k"))
                .values(counter=bindparam("v"), expires_at=bindparam("e")),
                values,
            )

    # -- the steps --------------------------------------------------------------------------------

    def admit(self, ask: Ask, now: float) -> Verdict:
        self._tables.ensure()
        counter_keys, window_keys, slot_key = self._keys(ask)
        with transaction(self.engine) as connection:
            rows = self._lock(
                connection, [*counter_keys, *window_keys, *([slot_key] if slot_key else [])]
            )
            for index, (counter, key) in enumerate(zip(ask.counters, counter_keys, strict=True)):
                if self._counter(rows.get(key), now) >= counter.limit:
                    return Verdict(full="counter", index=index)
            live = self._entries(connection, self._spans(ask, now), prune=True)
            for index, (window, key) in enumerate(zip(ask.windows, window_keys, strict=True)):
                count, oldest = live.get(key, (0, None))
                if count >= window.limit:
                    assert oldest is not None
                    return Verdict(full="window", index=index, retry_at=oldest + window.seconds)
            slot, added = None, []
            if ask.slots is not None and slot_key is not None:
                if live.get(slot_key, (0, None))[0] >= ask.slots.limit:
                    return Verdict(full="slots")
                slot = secrets.token_hex(8)
                added.append({"key": slot_key, "entry": slot, "at": now + ask.slots.lease})
            entry = secrets.token_hex(8)
            added += [{"key": key, "entry": entry, "at": now} for key in window_keys]
            counts = []
            for counter, key in zip(ask.counters, counter_keys, strict=True):
                row = rows[key]
                fresh = row.expires_at <= now
                counts.append(
                    {
                        "k": key,
                        "v": 1 if fresh else row.counter + 1,
                        "e": now + counter.expiry if fresh else row.expires_at,
                    }
                )
            self._set_counters(connection, counts)
            if added:
                connection.execute(insert(entries), added)
            return Verdict(slot=slot)

    def settle(self, ask: Ask, now: float, slot: str | None = None) -> None:
        self._tables.ensure()
        counter_keys, window_keys, slot_key = self._keys(ask)
        with transaction(self.engine) as connection:
            if slot is not None and slot_key is not None:
                connection.execute(
                    delete(entries).where(entries.c.key == slot_key, entries.c.entry == slot)
                )
            if not counter_keys and not window_keys:
                return
            rows = self._lock(connection, [*counter_keys, *window_keys])
            counts = []
            for counter, key in zip(ask.counters, counter_keys, strict=True):
                row = rows[key]
                if self._counter(row, now) < counter.limit:
                    expires = row.expires_at if row.expires_at > now else now + counter.expiry
                    counts.append({"k": key, "v": counter.limit, "e": expires})
            self._set_counters(connection, counts)
            spans = [("w:" + w.key, now - w.seconds) for w in ask.windows]
            live = self._entries(connection, spans, prune=True)
            fill, nonce = [], secrets.token_hex(6)
            for window, key in zip(ask.windows, window_keys, strict=True):
                free = window.limit - live.get(key, (0, None))[0]
                fill += [{"key": key, "entry": f"{nonce}:{j}", "at": now} for j in range(free)]
            if fill:
                connection.execute(insert(entries), fill)

    def read(self, ask: Ask, now: float) -> Reading:
        self._tables.ensure()
        counter_keys, window_keys, slot_key = self._keys(ask)
        with self.engine.connect() as connection:
            rows = {
                row.key: row
                for row in connection.execute(select(keys).where(keys.c.key.in_(counter_keys)))
            }
            live = self._entries(connection, self._spans(ask, now), prune=False)
        windows = []
        for window, key in zip(ask.windows, window_keys, strict=True):
            count, oldest = live.get(key, (0, None))
            windows.append((count, None if oldest is None else oldest + window.seconds))
        return Reading(
            live.get(slot_key, (0, None))[0] if slot_key is not None else 0,
            tuple(windows),
            tuple(self._counter(rows.get(key), now) for key in counter_keys),
        )
