"""``SQLQuotaBackend``: the quota ledger's counts in a SQL database (PostgreSQL or SQLite).

``limits`` has no SQL storage, so the three kinds of count are three small tables, each step
one transaction that first locks the key's row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite
takes the database's write lock at ``BEGIN IMMEDIATE``), so concurrent workers never both take
the last entry. Times are the hosts' clocks (keep them in step with NTP, as for Redis).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from .._runtime._errors import QuotaBackendError
from .._runtime._redact import redact
from ._sql import engine_for, lock_key, transaction

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
    ``sqlite:///path``) or ``engine``; the tables are created when missing."""

    local = False

    def __init__(self, url: str | None = None, *, engine: Engine | None = None) -> None:
        self.engine = engine_for(url, engine)
        try:
            metadata.create_all(self.engine)
        except SQLAlchemyError as exc:  # a QuotaBackendError, as the ledger says it for counts
            raise QuotaBackendError(
                redact(f"{self!r} cannot make its tables: {type(exc).__name__}: {exc}")
            ) from exc

    def __repr__(self) -> str:
        return f"SQLQuotaBackend({self.engine.url.render_as_string(hide_password=True)!r})"

    def _locked(self, connection: Connection, key: str) -> Any:
        """The key's row, locked for this transaction (made when missing)."""
        return lock_key(connection, keys, keys.c.key, key, {"counter": 0, "expires_at": 0.0})

    # -- moving windows -----------------------------------------------------------------------------

    def _window(self, connection: Connection, key: str, seconds: int, now: float) -> list[float]:
        connection.execute(
            delete(entries).where(entries.c.key == key, entries.c.at <= now - seconds)
        )
        rows = connection.execute(
            select(entries.c.at).where(entries.c.key == key).order_by(entries.c.at)
        )
        return [row.at for row in rows]

    def window_hit(self, key: str, limit: int, seconds: int, cost: int = 1) -> bool:
        key = "w:" + key
        with transaction(self.engine) as connection:
            self._locked(connection, key)
            now = time.time()
            if len(self._window(connection, key, seconds, now)) + cost > limit:
                return False
            connection.execute(
                insert(entries),
                [{"key": key, "entry": secrets.token_hex(8), "at": now} for _ in range(cost)],
            )
            return True

    def window_stats(self, key: str, limit: int, seconds: int) -> tuple[float, int]:
        key = "w:" + key
        with transaction(self.engine) as connection:
            now = time.time()
            window = self._window(connection, key, seconds, now)
            return (window[0] if window else now) + seconds, max(0, limit - len(window))

    # -- counters -----------------------------------------------------------------------------------

    def counter_add(self, key: str, amount: int, expiry: int) -> int:
        key = "c:" + key
        with transaction(self.engine) as connection:
            row = self._locked(connection, key)
            now = time.time()
            count, expires = (
                (row.counter, row.expires_at) if row.expires_at > now else (0, now + expiry)
            )
            connection.execute(
                update(keys)
                .where(keys.c.key == key)
                .values(counter=count + amount, expires_at=expires)
            )
            return int(count + amount)

    def counter_get(self, key: str) -> int:
        with self.engine.connect() as connection:
            row = connection.execute(select(keys).where(keys.c.key == "c:" + key)).first()
        return int(row.counter) if row is not None and row.expires_at > time.time() else 0

    # -- slots --------------------------------------------------------------------------------------

    def slot_take(self, key: str, limit: int, lease: float) -> str | None:
        key = "s:" + key
        with transaction(self.engine) as connection:
            self._locked(connection, key)
            now = time.time()
            connection.execute(delete(entries).where(entries.c.key == key, entries.c.at <= now))
            taken = connection.execute(
                select(func.count()).select_from(entries).where(entries.c.key == key)
            ).scalar_one()
            if taken >= limit:
                return None
            slot = secrets.token_hex(8)
            connection.execute(insert(entries).values(key=key, entry=slot, at=now + lease))
            return slot

    def slot_give(self, key: str, slot: str) -> None:
        with transaction(self.engine) as connection:
            connection.execute(
                delete(entries).where(entries.c.key == "s:" + key, entries.c.entry == slot)
            )

    def slot_count(self, key: str) -> int:
        with self.engine.connect() as connection:
            return int(
                connection.execute(
                    select(func.count())
                    .select_from(entries)
                    .where(entries.c.key == "s:" + key, entries.c.at > time.time())
                ).scalar_one()
            )
