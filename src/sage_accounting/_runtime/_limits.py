"""Limits' small shared pieces: Sage's in-flight cap, ``RateLimit`` (a rate per business, as the
quota ledger takes it: ``_quota``), and the polling that async code uses to take a thread lock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_MAX_IN_FLIGHT = 150


async def acquire_polling(try_acquire: Callable[[], bool]) -> None:
    """Take a lock shared with threads without blocking the event loop: try, then sleep a little."""
    import asyncio  # here, not at import: sync users do not pay for asyncio

    delay = 0.001
    while not try_acquire():
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)


@dataclass(frozen=True)
class RateLimit:
    """At most ``requests`` per ``per`` seconds for each business (a moving window)."""

    requests: int
    per: float = 60.0
