"""Call budgets per minute and per day: sliding windows of the calls admitted."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

WINDOWS = (("minute", 60.0), ("day", 86400.0))


class Budget:
    def __init__(self, per_minute: int | None, per_day: int | None,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self._limits = {"minute": per_minute, "day": per_day}
        self._calls: dict[str, deque[float]] = {"minute": deque(), "day": deque()}
        self._clock = clock
        self._lock = threading.Lock()

    def take(self) -> str | None:
        """Count one call; or, over a budget, count nothing and say which one and when."""
        now = self._clock()
        with self._lock:
            for window, seconds in WINDOWS:
                limit = self._limits[window]
                if limit is None:
                    continue
                calls = self._calls[window]
                while calls and calls[0] <= now - seconds:
                    calls.popleft()
                if len(calls) >= limit:
                    wait = calls[0] + seconds - now if calls else seconds
                    return f"budget of {limit} calls a {window} used; next call in {wait:.0f} s"
            for window, _seconds in WINDOWS:
                if self._limits[window] is not None:
                    self._calls[window].append(now)
        return None
