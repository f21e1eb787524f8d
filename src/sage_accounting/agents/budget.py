"""Call budgets per minute and per day: moving windows of the attempts admitted, on the quota
ledger.

Every attempt counts (a retry and the replay after a 401 are requests to Sage too). An agent's
budget is two of the ledger's moving windows (``Window``: a minute, a day), asked for together
(one ``Ask``, all or nothing), so any quota backend counts it: the store is

- ``SQLiteBudgetStore``, the audit database's ``budget_attempts`` table: the default when there
  is one, so that copies in other processes on the host and a restarted server see one count;
- ``MemoryBudgetStore`` without a database: the copies of one policy's agent share it in the
  process;
- a shared quota backend for agents on many hosts: ``RedisQuotaBackend(url)`` or
  ``SQLQuotaBackend(url)`` (``sage_accounting.scale``), passed as ``budgets=``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from .._runtime._quota import Ask, MemoryBackend, Verdict, Window
from .._runtime._redact import redact
from .storage import connect_private

WINDOWS = (("minute", 60.0), ("day", 86400.0))


class BudgetStore(Protocol):
    """Where budgets are counted: what every quota backend does (``QuotaBackend.admit``)."""

    def admit(self, ask: Ask, now: float) -> Verdict: ...


class MemoryBudgetStore(MemoryBackend):
    """Attempts kept in this process (shared by every guard given this store)."""


class SQLiteBudgetStore:
    """Attempts in the ``budget_attempts`` table of the audit database (a row per window an
    attempt counts in; the ``agent`` column holds the window's key): one count for every process
    that uses the file. Counting and admitting is one transaction. It counts windows only (what
    budgets are), not a quota's day totals or slots."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db = connect_private(self.path)
        self._lock = threading.Lock()
        self._db.execute("CREATE TABLE IF NOT EXISTS budget_attempts (agent TEXT, at REAL)")
        self._db.execute(
            "CREATE INDEX IF NOT EXISTS budget_attempts_agent ON budget_attempts (agent, at)"
        )

    def admit(self, ask: Ask, now: float) -> Verdict:
        if ask.counters or ask.slots is not None:
            raise ValueError("SQLiteBudgetStore counts budgets' windows only")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                verdict = self._admit(ask, now)
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        return verdict

    def _admit(self, ask: Ask, now: float) -> Verdict:
        for index, window in enumerate(ask.windows):
            self._db.execute(
                "DELETE FROM budget_attempts WHERE agent = ? AND at <= ?",
                (window.key, now - window.seconds),
            )
            count, oldest = self._db.execute(
                "SELECT count(*), min(at) FROM budget_attempts WHERE agent = ?", (window.key,)
            ).fetchone()
            if count >= window.limit:
                return Verdict(full="window", index=index, retry_at=oldest + window.seconds)
        self._db.executemany(
            "INSERT INTO budget_attempts VALUES (?, ?)", [(w.key, now) for w in ask.windows]
        )
        return Verdict()

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
        self._ask = Ask(
            windows=tuple(
                Window(f"agent-budget:{agent}:{name}", limit, seconds)
                for name, seconds in WINDOWS
                if (limit := self._limits[name]) is not None
            )
        )
        self._names = [name for name, _ in WINDOWS if self._limits[name] is not None]

    def take(self) -> str | None:
        """Count one attempt; or, over a budget, count nothing and say which one and when."""
        if not self.limited:
            return None
        now = self._clock()
        try:
            verdict = self._store.admit(self._ask, now)
        except Exception as exc:  # fail closed: an uncountable attempt is not sent
            return redact(f"the budget cannot be counted ({type(exc).__name__}: {exc})")
        if verdict.full is None:
            return None
        window = self._ask.windows[verdict.index]
        wait = max(verdict.retry_at - now, 0)
        return (
            f"budget of {window.limit} calls a {self._names[verdict.index]} used; "
            f"next call in {wait:.0f} s"
        )
