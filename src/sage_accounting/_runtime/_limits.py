"""Client-side limits: requests in flight per app, and an optional rate per business.

Sage allows 150 concurrent requests per app, counted across all its businesses and users, so the
cap is process-wide and shared by every client of one app (keyed by the OAuth client id), sync
and async alike. A per-business rate (some texts quote 100 a minute per company; unconfirmed) is
off unless asked for: ``SageAccounting(..., rate_limit=RateLimit(100, per=60))``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

DEFAULT_MAX_IN_FLIGHT = 150


async def acquire_polling(try_acquire: Callable[[], bool]) -> None:
    """Take a lock shared with threads without blocking the event loop: try, then sleep a little."""
    import asyncio  # here, not at import: sync users do not pay for asyncio

    delay = 0.001
    while not try_acquire():
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)


class InFlightLimit:
    """At most ``limit`` requests in flight at once."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        self._slots.acquire()
        try:
            yield
        finally:
            self._slots.release()

    @contextlib.asynccontextmanager
    async def aslot(self) -> AsyncIterator[None]:
        if not self._slots.acquire(blocking=False):
            await acquire_polling(lambda: self._slots.acquire(blocking=False))
        try:
            yield
        finally:
            self._slots.release()


_registry_lock = threading.Lock()
_in_flight: dict[str, InFlightLimit] = {}


def in_flight_limit(app_key: str, limit: int = DEFAULT_MAX_IN_FLIGHT) -> InFlightLimit:
    """The limit shared by every client of ``app_key`` in this process (the first one sets it)."""
    with _registry_lock:
        existing = _in_flight.get(app_key)
        if existing is None:
            existing = _in_flight[app_key] = InFlightLimit(limit)
        return existing


@dataclass(frozen=True)
class RateLimit:
    """At most ``requests`` per ``per`` seconds for each business (a token bucket)."""

    requests: int
    per: float = 60.0


class _Bucket:
    def __init__(self, rate: RateLimit) -> None:
        self.capacity = float(rate.requests)
        self.refill_per_second = rate.requests / rate.per
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def reserve(self) -> float:
        """Take one request's token; return how long to wait before sending it."""
        with self.lock:
            now = time.monotonic()
            self.tokens = min(
                self.capacity, self.tokens + (now - self.updated) * self.refill_per_second
            )
            self.updated = now
            self.tokens -= 1
            return 0.0 if self.tokens >= 0 else -self.tokens / self.refill_per_second


_buckets: dict[tuple[str, str, RateLimit], _Bucket] = {}


def business_bucket(app_key: str, business_id: str | None, rate: RateLimit) -> _Bucket:
    key = (app_key, business_id or "(lead)", rate)
    with _registry_lock:
        bucket = _buckets.get(key)
        if bucket is None:
            bucket = _buckets[key] = _Bucket(rate)
        return bucket
