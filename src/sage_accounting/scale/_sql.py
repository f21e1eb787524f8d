"""What the SQL ledger and token store share: engines, transactions that lock a key's row, the
database's clock. PostgreSQL locks a row with ``SELECT ... FOR UPDATE``; SQLite has no row
locks, so each transaction begins ``IMMEDIATE`` (the database's write lock, held to the commit)."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Column, MetaData, Table, create_engine, event, insert, make_url, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, IntegrityError

from .._runtime._errors import ArgumentValueError


def engine_for(url: str | None, engine: Engine | None) -> Engine:
    """The engine given, or one for ``url`` (a dropped connection is replaced on next use)."""
    if (url is None) == (engine is None):
        raise ArgumentValueError("url", "pass either url= (a SQLAlchemy URL) or engine=")
    if engine is None:
        assert url is not None
        try:
            parsed = make_url(url)
            backend = parsed.get_backend_name()
        except ArgumentError:
            raise ArgumentValueError("url", "is not a SQLAlchemy URL") from None
        if backend not in ("sqlite", "postgresql"):
            raise ArgumentValueError("url", f"SQLite and PostgreSQL are supported, not {backend}")
        if backend == "sqlite" and (
            parsed.database in (None, "", ":memory:") or parsed.query.get("mode") == "memory"
        ):
            # Shared by no other process, nor by this one's other threads (SQLAlchemy gives each
            # thread its own in-memory database: the tables made on one are missing on another).
            raise ArgumentValueError(
                "url", "is an SQLite database in memory, which nothing shares: sqlite:///path"
            )
        try:
            engine = create_engine(url, pool_pre_ping=True)
        except (ArgumentError, ImportError) as exc:  # an unknown or uninstalled driver
            raise ArgumentValueError("url", f"cannot use its driver ({exc})") from None
    if engine.dialect.name == "sqlite":
        _sqlite_immediate(engine)
    elif engine.dialect.name != "postgresql":
        raise ArgumentValueError(
            "engine", f"SQLite and PostgreSQL are supported, not {engine.dialect.name}"
        )
    return engine


def shown(engine: Engine) -> str:
    """The engine's URL for a message: no password (``***``), no query (libpq and psycopg take
    ``?password=`` there too)."""
    return engine.url.set(query={}).render_as_string(hide_password=True)


_PREPARED: weakref.WeakSet[Engine] = weakref.WeakSet()


def _sqlite_immediate(engine: Engine) -> None:
    """pysqlite leaves transactions to us, and each one begins IMMEDIATE with a busy wait."""
    if engine in _PREPARED:
        return
    _PREPARED.add(engine)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA busy_timeout = 30000")
        _write_ahead_log(dbapi_connection)

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


_WAL_WAIT = 30.0  # seconds, as the busy timeout


def _write_ahead_log(dbapi_connection: Any) -> None:
    """The database in WAL mode. Switching takes the file's exclusive lock, and SQLite answers
    "database is locked" at once, not after its busy timeout, when another connection holds a
    lock: several workers (threads, processes) opening a new database together met that one
    time in ~20. So it is tried again until the timeout, and not at all once the file is WAL
    (which every later connection finds, without a lock)."""
    deadline = time.monotonic() + _WAL_WAIT
    while True:
        try:
            (mode,) = dbapi_connection.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() != "wal":
                dbapi_connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


_DDL_LOCK = 0x5A6E_7161  # the advisory lock that serialises making the tables (PostgreSQL)


class Tables:
    """A backend's tables, made when first needed (on its first step), not when the object is
    made: a worker that starts while the database is away starts all the same, and its first
    step fails like any other (typed, by the caller) until the database is back."""

    def __init__(self, engine: Engine, metadata: MetaData) -> None:
        self.engine = engine
        self.metadata = metadata
        self._made = False
        self._lock = threading.Lock()

    def ensure(self) -> None:
        if self._made:
            return
        with self._lock, transaction(self.engine) as connection:
            if connection.dialect.name == "postgresql":  # hosts starting at once take turns
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DDL_LOCK})
            self.metadata.create_all(connection)  # (SQLite: BEGIN IMMEDIATE takes turns)
            self._made = True


@contextlib.contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    with engine.begin() as connection:
        yield connection


def lock_key(
    connection: Connection, table: Table, column: Column[Any], key: str, defaults: dict[str, Any]
) -> Any:
    """The row of ``key`` in ``table``, locked until the transaction ends (inserted if missing)."""
    query = select(table).where(column == key)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    row = connection.execute(query).first()
    if row is not None:
        return row
    try:
        with connection.begin_nested():
            connection.execute(insert(table).values({column.name: key, **defaults}))
    except IntegrityError:
        pass  # another worker made it first: lock theirs
    return connection.execute(query).first()


def database_now(connection: Connection) -> float:
    """The database's clock in epoch seconds: the same for every host that shares it."""
    if connection.dialect.name == "postgresql":
        query = "SELECT extract(epoch FROM clock_timestamp())"
    else:
        query = "SELECT (julianday('now') - 2440587.5) * 86400.0"
    return float(connection.execute(text(query)).scalar_one())
