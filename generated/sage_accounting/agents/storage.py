"""The audit database file: private to its owner (0600, its -wal and -shm journal files too)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

PRIVATE = 0o600


def connect_private(path: Path) -> sqlite3.Connection:
    """A connection to ``path``, created 0600 when new and made 0600 when not (SQLite gives its
    -wal and -shm files the database's mode)."""
    # Created (empty) only when missing: opening and closing a file another connection of this
    # process has open would drop that connection's POSIX locks (closing any descriptor of a
    # file releases all of the process's locks on it), and another process could then reset
    # the WAL under it.
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, PRIVATE))
    with contextlib.suppress(PermissionError):  # another owner's file: theirs to keep private
        os.chmod(path, PRIVATE)
    for suffix in ("-wal", "-shm"):
        journal = Path(f"{path}{suffix}")
        if journal.exists():
            with contextlib.suppress(PermissionError):
                os.chmod(journal, PRIVATE)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA busy_timeout = 5000")
    return db
