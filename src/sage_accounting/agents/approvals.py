"""Writes waiting for a person: stored in SQLite so the ``agents approve`` command and the
server that asked can be different processes. An approved request runs once: executing marks
it done in the same statement that checks it is approved."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


class ApprovalStore:
    def __init__(self, path: str | Path | None = None) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            ":memory:" if path is None else str(path), check_same_thread=False,
            isolation_level=None,
        )  # fmt: skip
        self._db.execute("PRAGMA busy_timeout = 5000")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS approvals (id TEXT PRIMARY KEY, agent TEXT, "
            "operation_id TEXT, fingerprint TEXT, preview TEXT, status TEXT, created REAL, "
            "decided_by TEXT)"
        )

    def create(self, agent: str, operation_id: str, fingerprint: str,
               preview: dict[str, Any]) -> PendingWrite:  # fmt: skip
        """The pending write for this exact request (the same one again: the same id)."""
        with self._lock:
            row = self._db.execute(
                "SELECT id FROM approvals WHERE agent = ? AND fingerprint = ? AND status IN (?, ?)",
                (agent, fingerprint, PENDING, APPROVED),
            ).fetchone()
            if row is None:
                approval_id = "apr-" + os.urandom(6).hex()
                self._db.execute(
                    "INSERT INTO approvals VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
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
                "SELECT id, agent, operation_id, fingerprint, preview, status, created, decided_by"
                " FROM approvals WHERE id = ?",
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

    def decide(self, approval_id: str, approve: bool, by: str) -> bool:
        """Approve or reject a pending write; False if there is none by that id."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE approvals SET status = ?, decided_by = ? WHERE id = ? AND status = ?",
                (APPROVED if approve else REJECTED, by, approval_id, PENDING),
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

    def take_approved(self, agent: str, fingerprint: str) -> str | None:
        """The id of the approved write for this exact request, now marked executed (once)."""
        with self._lock:
            row = self._db.execute(
                "SELECT id FROM approvals WHERE agent = ? AND fingerprint = ? AND status = ?",
                (agent, fingerprint, APPROVED),
            ).fetchone()
            if row is None:
                return None
            cursor = self._db.execute(
                "UPDATE approvals SET status = ? WHERE id = ? AND status = ?",
                (EXECUTED, row[0], APPROVED),
            )
        return row[0] if cursor.rowcount == 1 else None
