"""Writes waiting for a person: stored in SQLite so the ``agents approve`` command and the
server that asked can be different processes. An approved request runs once: executing marks
it done in the same statement that checks it is approved.

An approval carries the approver's signature over the exact write (``signing``); the guard
honours only approvals whose signature an approver of the policy made, so a row edited to say
"approved" is not one."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .storage import connect_private

PENDING, APPROVED, REJECTED, EXECUTED = "pending", "approved", "rejected", "executed"


@dataclass(frozen=True)
class PendingWrite:
    id: str
    agent: str
    operation_id: str
    fingerprint: str  # sha256 of method, url and body: the exact request approved
    preview: dict[str, Any]  # what the person sees, and what the MCP server re-sends
    status: str
    created: float
    decided_by: str | None
    signature: str | None = None

    def signed_text(self) -> bytes:
        """What an approver signs: this write, exactly, and the word approved."""
        return (
            f"{self.id}\n{self.agent}\n{self.operation_id}\n{self.fingerprint}\napproved".encode()
        )


class ApprovalStore:
    def __init__(self, path: str | Path | None = None) -> None:
        self._lock = threading.Lock()
        if path is None:
            self._db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        else:
            self._db = connect_private(Path(path))
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS approvals (id TEXT PRIMARY KEY, agent TEXT, "
            "operation_id TEXT, fingerprint TEXT, preview TEXT, status TEXT, created REAL, "
            "decided_by TEXT, signature TEXT)"
        )
        columns = [row[1] for row in self._db.execute("PRAGMA table_info(approvals)")]
        if "signature" not in columns:  # a database from before signed approvals
            self._db.execute("ALTER TABLE approvals ADD COLUMN signature TEXT")

    def create(self, agent: str, operation_id: str, fingerprint: str,
               preview: dict[str, Any]) -> PendingWrite:  # fmt: skip
        """The pending write for this exact request (the same one again: the same id; an
        approval the guard did not honour leaves a new one pending)."""
        with self._lock:
            row = self._db.execute(
                "SELECT id FROM approvals WHERE agent = ? AND fingerprint = ? AND status = ?",
                (agent, fingerprint, PENDING),
            ).fetchone()
            if row is None:
                approval_id = "apr-" + os.urandom(6).hex()
                self._db.execute(
                    "INSERT INTO approvals VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                    (approval_id, agent, operation_id, fingerprint, json.dumps(preview), PENDING,
                     time.time()),
                )  # fmt: skip
            else:
                approval_id = row[0]
        found = self.get(approval_id)
        assert found is not None
        return found

    def get(self, approval_id: str) -> PendingWrite | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, agent, operation_id, fingerprint, preview, status, created, decided_by,"
                " signature FROM approvals WHERE id = ?",
                (approval_id,),
            ).fetchone()
        if row is None:
            return None
        return PendingWrite(row[0], row[1], row[2], row[3], json.loads(row[4]), *row[5:])

    def pending(self) -> list[PendingWrite]:
        with self._lock:
            ids = [r[0] for r in self._db.execute(
                "SELECT id FROM approvals WHERE status = ? ORDER BY created", (PENDING,))]  # fmt: skip
        return [w for w in map(self.get, ids) if w is not None]

    def decide(self, approval_id: str, approve: bool, by: str,
               signature: str | None = None) -> bool:  # fmt: skip
        """Approve or reject a pending write; False if there is none by that id. ``signature``:
        the approver's over ``signed_text()`` (without one, the guard will not send it)."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE approvals SET status = ?, decided_by = ?, signature = ? "
                "WHERE id = ? AND status = ?",
                (APPROVED if approve else REJECTED, by, signature, approval_id, PENDING),
            )
        return cursor.rowcount == 1

    def mark_executed(self, approval_id: str) -> bool:
        with self._lock:
            cursor = self._db.execute(
                "UPDATE approvals SET status = ? WHERE id = ? AND status = ?",
                (EXECUTED, approval_id, APPROVED),
            )
        return cursor.rowcount == 1

    def set_arguments(self, approval_id: str, arguments: dict[str, Any]) -> None:
        """Keep the tool arguments (with the fixed idempotency id) the approved call re-sends."""
        found = self.get(approval_id)
        if found is None:
            return
        with self._lock:
            self._db.execute(
                "UPDATE approvals SET preview = ? WHERE id = ?",
                (json.dumps({**found.preview, "arguments": arguments}), approval_id),
            )

    def take_approved(
        self, agent: str, fingerprint: str, signed_by: Callable[[PendingWrite], str | None]
    ) -> tuple[str, str] | None:
        """(id, approver) of the approved write for this exact request whose signature
        ``signed_by`` accepts (it answers the approver's identity), now marked executed (once)."""
        with self._lock:
            ids = [row[0] for row in self._db.execute(
                "SELECT id FROM approvals WHERE agent = ? AND fingerprint = ? AND status = ?",
                (agent, fingerprint, APPROVED),
            )]  # fmt: skip
        for approval_id in ids:
            found = self.get(approval_id)
            approver = signed_by(found) if found is not None else None
            if approver and self.mark_executed(approval_id):
                return approval_id, approver
        return None
