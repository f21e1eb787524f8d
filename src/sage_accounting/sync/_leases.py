"""Workers on several hosts splitting the businesses: leases in PostgreSQL.

A table ``sage_sync_leases`` (business_id, holder, expires_at, token, synced_at). A worker
claims one business at a time whose lease is free (no holder, or expired) and that no one has
synced since this worker started; it renews the lease from a thread every third of its life and
gives it back, with ``synced_at``, when the business is done. A worker that dies (kill -9, a lost
host) stops renewing: once its lease expires another worker claims the business and syncs it from
its committed cursors. The claim is one ``UPDATE ... FOR UPDATE SKIP LOCKED``: two workers never
get the same business; ``token`` grows with each claim, so a worker whose lease was taken over
learns it at its next renewal or check and stops before it commits any cursor (``LeaseLost``).

Why our own table, not procrastinate or pgqueuer: both are job queues (a job runs once, at least
once, with retries), with their own schema, migrations and async worker runtime on psycopg 3.
What a sync needs is a lease held for the length of one business's run, renewed, taken over
when it lapses, and checked before the cursors move; that is one table and four statements on
psycopg2, which dlt's PostgreSQL destination already installs.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Any

from ._errors import DestinationError, LeaseLost

TABLE = "sage_sync_leases"
RUNS = "sage_sync_runs"


def _connect(url: str) -> Any:
    import psycopg2

    try:
        connection = psycopg2.connect(url, connect_timeout=10)
    except psycopg2.Error as exc:
        raise DestinationError(f"cannot reach the lease database: {exc}".strip()) from None
    connection.autocommit = True
    return connection


class Lease:
    """A claimed business; ``with lease:`` renews it while the block runs, then releases it
    (with ``synced_at`` when the block succeeded)."""

    def __init__(self, board: LeaseBoard, business_id: str, token: int) -> None:
        self.board, self.business_id, self.token = board, business_id, token
        self._lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._run_id: int | None = None

    def check(self) -> None:
        """Raise ``LeaseLost`` when the lease lapsed or another worker holds it now."""
        if self._lost.is_set():
            raise LeaseLost(f"the lease on business {self.business_id} was lost")
        if not self.board._renew(self):
            self._lost.set()
            raise LeaseLost(
                f"the lease on business {self.business_id} was taken over by another worker"
            )

    def _beat(self) -> None:
        connection = _connect(self.board.url)  # its own connection: the main one is busy
        try:
            while not self._stop.wait(self.board.seconds / 3):
                if not self.board._renew(self, connection):
                    self._lost.set()
                    return
        finally:
            connection.close()

    def __enter__(self) -> Lease:
        self._run_id = self.board._run_started(self)
        self._thread = threading.Thread(target=self._beat, name="sage-sync-lease", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.board._release(self, done=kind is None, run_id=self._run_id, error=exc)


class LeaseBoard:
    def __init__(self, url: str, *, worker: str | None = None, seconds: float = 60.0) -> None:
        self.url = url
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}"
        self.seconds = seconds
        self._connection: Any = None
        self._lock = threading.Lock()
        self.started = dt.datetime.now(dt.UTC)

    def __enter__(self) -> LeaseBoard:
        self._connection = _connect(self.url)
        self._execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (business_id TEXT PRIMARY KEY, holder TEXT, "
            "expires_at TIMESTAMPTZ, token BIGINT NOT NULL DEFAULT 0, synced_at TIMESTAMPTZ)"
        )
        self._execute(
            f"CREATE TABLE IF NOT EXISTS {RUNS} (id BIGSERIAL PRIMARY KEY, business_id TEXT NOT "
            "NULL, worker TEXT NOT NULL, token BIGINT NOT NULL, started_at TIMESTAMPTZ NOT NULL "
            "DEFAULT clock_timestamp(), finished_at TIMESTAMPTZ, outcome TEXT)"
        )
        started = self._execute("SELECT clock_timestamp()", fetch=True)
        self.started = started[0][0]  # the database's clock: every worker reads the same one
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._connection is not None:
            self._connection.close()

    def _execute(self, sql: str, *args: Any, fetch: bool = False, connection: Any = None) -> Any:
        import psycopg2

        target = connection or self._connection
        lock = self._lock if connection is None else _NO_LOCK
        for attempt in range(3):
            try:
                with lock, target.cursor() as cursor:
                    cursor.execute(sql, args)
                    return cursor.fetchall() if fetch else cursor.rowcount
            except psycopg2.errors.UniqueViolation:  # two workers creating the table at once
                if attempt == 2:
                    raise
            except psycopg2.Error as exc:
                raise DestinationError(f"lease database: {exc}".strip()) from None
        return None

    def offer(self, businesses: Sequence[str]) -> None:
        """Make sure each business has a row (idempotent; any worker may do it)."""
        for business in businesses:
            self._execute(
                f"INSERT INTO {TABLE} (business_id) VALUES (%s) ON CONFLICT DO NOTHING", business
            )

    def claim(self, businesses: Sequence[str]) -> Lease | None:
        rows = self._execute(
            f"UPDATE {TABLE} SET holder = %s, token = token + 1, "
            "expires_at = clock_timestamp() + make_interval(secs => %s) "
            f"WHERE business_id = (SELECT business_id FROM {TABLE} WHERE business_id = ANY(%s) "
            "AND (synced_at IS NULL OR synced_at < %s) "
            "AND (holder IS NULL OR expires_at < clock_timestamp()) "
            "ORDER BY synced_at NULLS FIRST, business_id LIMIT 1 FOR UPDATE SKIP LOCKED) "
            "RETURNING business_id, token",
            self.worker,
            self.seconds,
            list(businesses),
            self.started,
            fetch=True,
        )
        return Lease(self, rows[0][0], rows[0][1]) if rows else None

    def _pending(self, businesses: Sequence[str]) -> int:
        """Businesses not synced since this worker started (held by others or free)."""
        rows = self._execute(
            f"SELECT count(*) FROM {TABLE} WHERE business_id = ANY(%s) "
            "AND (synced_at IS NULL OR synced_at < %s)",
            list(businesses),
            self.started,
            fetch=True,
        )
        return int(rows[0][0])

    def claims(self, businesses: Sequence[str], poll: float | None = None) -> Iterator[Lease]:
        """Leases one after another until every business has been synced since this worker
        started: by this worker, or by others (whose lapsed leases it takes over)."""
        wait = poll if poll is not None else min(5.0, self.seconds / 4)
        while True:
            lease = self.claim(businesses)
            if lease is not None:
                yield lease
                continue
            if self._pending(businesses) == 0:
                return
            time.sleep(wait)  # others hold the rest: wait for them to finish or lapse

    def _renew(self, lease: Lease, connection: Any = None) -> bool:
        count = self._execute(
            f"UPDATE {TABLE} SET expires_at = clock_timestamp() + make_interval(secs => %s) "
            "WHERE business_id = %s AND holder = %s AND token = %s "
            "AND expires_at >= clock_timestamp()",
            self.seconds,
            lease.business_id,
            self.worker,
            lease.token,
            connection=connection,
        )
        return bool(count)

    def _run_started(self, lease: Lease) -> int:
        rows = self._execute(
            f"INSERT INTO {RUNS} (business_id, worker, token) VALUES (%s, %s, %s) RETURNING id",
            lease.business_id,
            self.worker,
            lease.token,
            fetch=True,
        )
        return int(rows[0][0])

    def _release(
        self, lease: Lease, *, done: bool, run_id: int | None, error: BaseException | None
    ) -> None:
        outcome = "done" if done else f"failed: {type(error).__name__}"
        self._execute(
            f"UPDATE {RUNS} SET finished_at = clock_timestamp(), outcome = %s WHERE id = %s",
            outcome,
            run_id,
        )
        synced = ", synced_at = clock_timestamp()" if done else ""
        self._execute(
            f"UPDATE {TABLE} SET holder = NULL, expires_at = NULL{synced} "
            "WHERE business_id = %s AND holder = %s AND token = %s",
            lease.business_id,
            self.worker,
            lease.token,
        )


class _NoLock:
    def __enter__(self) -> None:
        pass

    def __exit__(self, *_exc: object) -> None:
        pass


_NO_LOCK = _NoLock()
