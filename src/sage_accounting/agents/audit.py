"""The audit log: one record per decision, chained by hash so an edit or a deletion shows.

A sink is anything with ``write(record)`` (and, optionally, ``flush()``); ``SQLiteAuditSink`` is
the default and the one ``sage-accounting audit verify/show`` read. No secret and no body is
stored: the summary is the only description of what was sent.

A write is recorded twice: ``sending``, in the file before the request leaves (a process killed
while Sage handles it leaves that record), then its outcome (``allowed`` or ``failed``).
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import queue
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal, Protocol, get_args

from .._runtime import ArgumentValueError
from .errors import AuditError
from .storage import connect_private

log = logging.getLogger("sage_accounting.agents")
# Every decision a record can hold: the guard writes them, ``audit show --decision`` filters on
# them (mypy checks each one the guard spells).
AuditDecision = Literal["sending", "allowed", "denied", "awaiting approval", "approved",
                        "rejected", "failed"]  # fmt: skip
DECISIONS: tuple[AuditDecision, ...] = get_args(AuditDecision)
GENESIS = "0" * 64


@dataclass(slots=True)
class AuditRecord:
    time: str  # ISO 8601, UTC
    agent: str
    business_id: str | None
    business_name: str | None
    operation_id: str
    method: str
    path: str
    target_id: str | None
    summary: str  # one line, plain words
    decision: AuditDecision
    reason: str
    status: int | None = None  # HTTP status, when Sage answered
    request_id: str | None = None  # Sage's request id
    duration_ms: float | None = None
    prev_hash: str = ""
    hash: str = ""

    def chained(self, prev_hash: str) -> AuditRecord:
        """Link this record after ``prev_hash``; the sink that writes it owns it."""
        self.prev_hash = prev_hash
        self.hash = self.digest()
        return self

    def digest(self) -> str:
        """sha256 of every field but the hash, in column order (prev_hash included: the chain)."""
        values = [getattr(self, name) for name in HASHED]
        return hashlib.sha256(json.dumps(values).encode()).hexdigest()


COLUMNS = tuple(f.name for f in fields(AuditRecord))
HASHED = COLUMNS[:-1]  # all but "hash"


class AuditSink(Protocol):
    def write(self, record: AuditRecord) -> None: ...


class MemoryAuditSink:
    """Records kept in a list, chained like the SQLite ones: for tests and notebooks."""

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []
        self._lock = threading.Lock()

    def write(self, record: AuditRecord) -> None:
        with self._lock:
            prev = self.records[-1].hash if self.records else GENESIS
            self.records.append(record.chained(prev))


class SQLiteAuditSink:
    """Records in one SQLite table. Several processes may write (SQLite locks the file); each
    write reads the last hash and appends in one transaction, so the chain stays whole.

    Writes happen on a writer thread: the call that is audited pays for a queue put, not for
    the disk. ``flush()`` waits until every record so far is in the file; it runs at exit too.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db = connect_private(self.path)
        # WAL: a commit appends to the log without waiting for the disk on every record.
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        columns = ", ".join(f"{c} {'REAL' if c == 'duration_ms' else ''}" for c in COLUMNS)
        self._db.execute(f"CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY, {columns})")
        self._insert = (
            f"INSERT INTO audit ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
        )
        self._queue: queue.Queue[AuditRecord | None] = queue.Queue()
        self._writer = threading.Thread(target=self._write_all, daemon=True, name="audit-writer")
        self._writer.start()
        atexit.register(self.flush)

    def write(self, record: AuditRecord) -> None:
        self._queue.put(record)

    def flush(self) -> None:
        self._queue.join()

    def _write_all(self) -> None:
        while True:
            record = self._queue.get()
            try:
                if record is None:
                    return
                self._append(record)
            except Exception:  # a record that cannot be written must not stop the others
                log.exception("cannot write an audit record to %s", self.path)
            finally:
                self._queue.task_done()

    def _append(self, record: AuditRecord) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            row = self._db.execute("SELECT hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
            record.chained(row[0] if row else GENESIS)
            self._db.execute(self._insert, [getattr(record, c) for c in COLUMNS])
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._queue.put(None)
        self._writer.join()
        atexit.unregister(self.flush)
        self._db.close()


def read_records(path: str | Path) -> Iterator[tuple[int, AuditRecord]]:
    """Every record, oldest first; an ``AuditError`` if ``path`` is not a readable audit log
    (missing, unreadable, not SQLite, or without the audit table)."""
    if not Path(path).is_file():
        raise AuditError(f"{path}: no audit log there (no such file)")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            found = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit'"
            ).fetchone()
            if found is None:
                raise AuditError(f"{path}: not an audit log (it has no audit table)")
            rows = db.execute(
                f"SELECT seq, {', '.join(COLUMNS)} FROM audit ORDER BY seq"
            ).fetchall()
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise AuditError(f"{path}: cannot read it as an audit log ({exc})") from None
    for seq, *values in rows:
        yield seq, AuditRecord(**dict(zip(COLUMNS, values, strict=True)))


def head(path: str | Path) -> str | None:
    """The newest record as ``"<seq>:<hash>"`` (None for an empty log). A chain shows a record
    edited or deleted from the middle; records deleted from the end leave a whole chain. Note the
    head somewhere the log's writer cannot reach (a ticket, a monitoring system) and pass it to
    ``verify`` later: a log cut back below it shows."""
    last = None
    for seq, record in read_records(path):
        last = f"{seq}:{record.hash}"
    return last


def verify(path: str | Path, expect_head: str | None = None) -> list[str]:
    """Problems with the chain, in plain words; empty when every record is as written (and the
    record of ``expect_head``, a ``head()`` noted earlier, is still there). An ``AuditError``
    when ``path`` is not a readable audit log: a missing log is never "0 records, intact"."""
    problems = []
    prev = GENESIS
    expected_seq = 1
    hashes: dict[int, str] = {}
    for seq, record in read_records(path):
        if seq != expected_seq:
            problems.append(f"record {expected_seq} to {seq - 1} deleted")
        if record.prev_hash != prev:
            problems.append(f"record {seq}: the record before it was changed or deleted")
        if record.digest() != record.hash:
            problems.append(f"record {seq} was edited after it was written")
        prev, expected_seq = record.hash, seq + 1
        hashes[seq] = record.hash
    if expect_head is not None:
        problems += _against_head(hashes, expect_head)
    return problems


def _against_head(hashes: dict[int, str], noted: str) -> list[str]:
    seq_text, _, digest = noted.partition(":")
    if not seq_text.isdigit() or not digest:
        raise ArgumentValueError(
            "expect_head", f"{noted!r} is not a head (<seq>:<hash>, as verify prints it)"
        )
    seq = int(seq_text)
    if seq not in hashes:
        return [f"record {seq} (head {noted}, noted earlier) is gone: the log was cut back"]
    if hashes[seq] != digest:
        return [f"record {seq} is not the one noted earlier (head {noted}): the log was rewritten"]
    return []
