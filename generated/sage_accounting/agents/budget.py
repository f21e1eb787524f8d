"""Call budgets per minute and per day: sliding windows of the attempts admitted.

Every attempt counts (a retry and the replay after a 401 are requests to Sage too). The count is
kept per agent in a store every copy of that agent shares: ``SQLiteBudgetStore``, in the audit
database, so that copies in other processes and a restarted server see the same count; without
a database, ``MemoryBudgetStore``, which the copies of one policy's agent share in the process.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from .storage import connect_private

WINDOWS = (("minute", 60.0), ("day", 86400.0))


class BudgetStore(Protocol):
    def take(self, agent: str, limits: dict[str, int | None], now: float) -> str | None: ...


def _over(limit: int, window: str, oldest: float | None, seconds: float, now: float) -> str:
    wait = oldest + seconds - now if oldest is not None else seconds
    return f"budget of {limit} calls a {window} used; next call in {max(wait, 0):.0f} s"


class MemoryBudgetStore:
    """Attempts kept in this process (shared by every guard given this store)."""

    def __init__(self) -> None:
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, agent: str, limits: dict[str, int | None], now: float) -> str | None:
        with self._lock:
            calls = self._calls.setdefault(agent, deque())
            while calls and calls[0] <= now - WINDOWS[-1][1]:
                calls.popleft()
            for window, seconds in WINDOWS:
                limit = limits[window]
                if limit is None:
                    continue
                inside = [t for t in calls if t > now - seconds]
                if len(inside) >= limit:
                    return _over(limit, window, inside[0] if inside else None, seconds, now)
            calls.append(now)
        return None


class SQLiteBudgetStore:
    """Attempts in the ``budget_attempts`` table of the audit database: one count for every
    process and host that uses the file. Counting and admitting is one transaction."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db = connect_private(self.path)
        self._lock = threading.Lock()
        self._db.execute("CREATE TABLE IF NOT EXISTS budget_attempts (agent TEXT, at REAL)")
        self._db.execute(
            "CREATE INDEX IF NOT EXISTS budget_attempts_agent ON budget_attempts (agent, at)"
        )

    def take(self, agent: str, limits: dict[str, int | None], now: float) -> str | None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "DELETE FROM budget_attempts WHERE agent = ? AND at <= ?",
                    (agent, now - WINDOWS[-1][1]),
                )
                for window, seconds in WINDOWS:
                    limit = limits[window]
                    if limit is None:
                        continue
                    count, oldest = self._db.execute(
                        "SELECT count(*), min(at) FROM budget_attempts WHERE agent = ? AND at > ?",
                        (agent, now - seconds),
                    ).fetchone()
                    if count >= limit:
                        self._db.execute("COMMIT")
                        return _over(limit, window, oldest, seconds, now)
                self._db.execute("INSERT INTO budget_attempts VALUES (?, ?)", (agent, now))
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        return None

    def close(self) -> None:
        self._db.close()


class Budget:
    """One agent's limits over a store."""

    def __init__(self, agent: str, per_minute: int | None, per_day: int | None,
                 store: BudgetStore, clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self._agent = agent
        self._limits = {"minute": per_minute, "day": per_day}
        self._store = store
        self._clock = clock
        self.limited = per_minute is not None or per_day is not None

    def take(self) -> str | None:
        """Count one attempt; or, over a budget, count nothing and say which one and when."""
        if not self.limited:
            return None
        try:
            return self._store.take(self._agent, self._limits, self._clock())
        except sqlite3.Error as exc:  # fail closed: an uncountable attempt is not sent
            return f"the budget cannot be counted ({exc})"
