"""The quota ledger: Sage's four limits, counted before each request is sent.

Sage limits an app to 150 requests in flight and 1,296,000 a day; third-party texts add 100 a
minute and 2,500 a day per business. All four are counted here (``QuotaLimits``: defaults,
each configurable or off), in this process by default or, for many workers on many hosts, in a
shared backend (``sage_accounting.scale``: Redis or SQL). A call

- takes a slot in flight (given back when its answer arrives; a slot of a process that died
  comes back when its lease ends), then an entry in the business's moving window, then counts
  towards both day totals;
- waits for its slot (``on_limit="wait"``, at most ``max_wait`` seconds) or fails at once
  (``on_limit="raise"``) with ``QuotaExceededError``; a day total reached is never waited for:
  ``DailyQuotaExceededError`` says when it resets (the next midnight UTC);
- after a 429, tells the ledger what Sage said: a minute limit fills the business's window (every
  worker backs off), a day limit closes the business's (or the app's) day.

Day totals are per UTC calendar day, so the reset time is the same on every host. The business's
window is a moving window of ``per`` seconds plus ``WINDOW_MARGIN`` (a request stamped here
arrives at Sage a little later; without the margin two arrivals could fall inside one of Sage's
windows although their stamps did not).

A backend (``QuotaBackend``) keeps three kinds of count: moving windows, day counters and slots
with leases. ``MemoryBackend`` is this process's (our own few lines, so the SDK needs no extra
library); the shared ones use the ``limits`` library's strategies and storages.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ._errors import (
    DailyQuotaExceededError,
    DailyRateLimitError,
    QuotaBackendError,
    QuotaExceededError,
    RateLimitError,
    SageError,
)
from ._limits import RateLimit
from ._plan import Step, quota_io, sleep
from ._redact import redact

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("sage_accounting")

LimitName = Literal["in_flight", "business_rate", "business_day", "app_day"]
OnLimit = Literal["wait", "raise"]

WINDOW_MARGIN = 1  # seconds added to the business's window (see the module's docstring)
SLOT_POLL = 0.02  # seconds between tries for a slot in flight
DAY = 86_400


@dataclass(frozen=True)
class QuotaLimits:
    """The limits a ledger enforces; ``None`` turns one off."""

    in_flight: int | None = 150  # per app (Sage)
    app_per_day: int | None = 1_296_000  # per app (Sage)
    business_rate: RateLimit | None = RateLimit(100, per=60)  # per business
    business_per_day: int | None = 2_500  # per business

    def __post_init__(self) -> None:
        for name in ("in_flight", "app_per_day", "business_per_day"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"QuotaLimits.{name} must be a positive int or None")
        rate = self.business_rate
        if rate is not None and (rate.requests < 1 or rate.per <= 0):
            raise ValueError("QuotaLimits.business_rate needs requests >= 1 and per > 0")

    @classmethod
    def unlimited(cls) -> QuotaLimits:
        """Nothing counted (a test server, or limits enforced elsewhere)."""
        return cls(None, None, None, None)


class QuotaBackend(Protocol):
    """Where the counts live. Each method is one atomic step (one script, one transaction)."""

    # True when the backend does no I/O (memory): the async client calls it in its loop.
    local: bool

    def window_hit(self, key: str, limit: int, seconds: int, cost: int = 1) -> bool:
        """Add ``cost`` entries to a moving window if they fit; whether they did."""
        ...

    def window_stats(self, key: str, limit: int, seconds: int) -> tuple[float, int]:
        """(when the oldest entry leaves the window, epoch seconds; entries still free)."""
        ...

    def counter_add(self, key: str, amount: int, expiry: int) -> int:
        """Add to a counter (made with ``expiry`` seconds to live); its new value."""
        ...

    def counter_get(self, key: str) -> int: ...

    def slot_take(self, key: str, limit: int, lease: float) -> str | None:
        """A slot's id when fewer than ``limit`` live slots are taken, else None."""
        ...

    def slot_give(self, key: str, slot: str) -> None: ...

    def slot_count(self, key: str) -> int: ...


class MemoryBackend:
    """The counts in this process (under one lock), shared by every client in it."""

    local = True

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, deque[float]] = {}
        self._counters: dict[str, tuple[int, float]] = {}
        self._slots: dict[str, dict[str, float]] = {}

    def __repr__(self) -> str:
        return "MemoryBackend()"

    def _window(self, key: str, seconds: int, now: float) -> deque[float]:
        entries = self._windows.setdefault(key, deque())
        while entries and entries[0] <= now - seconds:
            entries.popleft()
        return entries

    def window_hit(self, key: str, limit: int, seconds: int, cost: int = 1) -> bool:
        with self._lock:
            now = self._clock()
            entries = self._window(key, seconds, now)
            if len(entries) + cost > limit:
                return False
            entries.extend([now] * cost)
            return True

    def window_stats(self, key: str, limit: int, seconds: int) -> tuple[float, int]:
        with self._lock:
            now = self._clock()
            entries = self._window(key, seconds, now)
            oldest = entries[0] if entries else now
            return oldest + seconds, max(0, limit - len(entries))

    def _counter(self, key: str, now: float) -> int:
        count, expires = self._counters.get(key, (0, 0.0))
        return count if expires > now else 0

    def counter_add(self, key: str, amount: int, expiry: int) -> int:
        with self._lock:
            now = self._clock()
            count, expires = self._counters.get(key, (0, 0.0))
            if expires <= now:
                count, expires = 0, now + expiry
            self._counters[key] = (count + amount, expires)
            return count + amount

    def counter_get(self, key: str) -> int:
        with self._lock:
            return self._counter(key, self._clock())

    def _live_slots(self, key: str, now: float) -> dict[str, float]:
        slots = self._slots.setdefault(key, {})
        for slot in [s for s, until in slots.items() if until <= now]:
            del slots[slot]
        return slots

    def slot_take(self, key: str, limit: int, lease: float) -> str | None:
        with self._lock:
            now = self._clock()
            slots = self._live_slots(key, now)
            if len(slots) >= limit:
                return None
            slot = secrets.token_hex(8)
            slots[slot] = now + lease
            return slot

    def slot_give(self, key: str, slot: str) -> None:
        with self._lock:
            self._slots.get(key, {}).pop(slot, None)

    def slot_count(self, key: str) -> int:
        with self._lock:
            return len(self._live_slots(key, self._clock()))


_PROCESS_BACKEND = MemoryBackend()


@dataclass(frozen=True)
class LimitStatus:
    """One limit as the ledger sees it now."""

    name: LimitName
    limit: int | None  # None: not enforced
    used: int
    resets_at: dt.datetime | None  # a day's midnight, or when the window's oldest entry leaves

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)


@dataclass(frozen=True)
class QuotaStatus:
    """What remains for one business (``client.quota``), and the app's totals."""

    business_id: str | None
    in_flight: LimitStatus
    business_rate: LimitStatus
    business_day: LimitStatus
    app_day: LimitStatus

    @property
    def day_remaining(self) -> int | None:
        """Requests left today for this business: the smaller of its day and the app's."""
        left = [s.remaining for s in (self.business_day, self.app_day) if s.remaining is not None]
        return min(left) if left else None

    def require(self, calls: int, what: str = "this job") -> None:
        """Raise ``DailyQuotaExceededError`` unless ``calls`` requests fit in today's budget:
        a long job checks before it starts, not when it is half done."""
        for status in (self.business_day, self.app_day):
            if status.remaining is not None and status.remaining < calls:
                assert status.resets_at is not None
                raise DailyQuotaExceededError(
                    status.name,
                    self.business_id,
                    status.resets_at.timestamp(),
                    f"{what} needs about {calls} requests but only {status.remaining} of "
                    f"{status.limit} are left today ({_limit_words(status.name)})",
                )


@dataclass(frozen=True)
class Ticket:
    """An admitted call: the slot in flight it holds (given back when its answer arrives)."""

    scope: str
    business: str
    slot: str | None = field(default=None)


@dataclass(frozen=True)
class _Wait:
    seconds: float
    limit: LimitName


class Quota:
    """The ledger a client counts against: limits, a backend, and what to do when full.

    ``Quota()`` counts in this process; ``Quota(RedisQuotaBackend(url))`` (``[scale]``) shares
    the counts with every process using the same Redis. ``on_limit``: ``"wait"`` for a slot (up
    to ``max_wait`` seconds; longer is ``QuotaExceededError``) or ``"raise"`` at once.
    ``slot_lease``: how long a slot in flight stays taken if its process dies without giving it
    back (longer than a request can take).
    """

    def __init__(
        self,
        backend: QuotaBackend | None = None,
        limits: QuotaLimits | None = None,
        *,
        on_limit: OnLimit = "wait",
        max_wait: float = 300.0,
        slot_lease: float = 120.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if on_limit not in ("wait", "raise"):
            raise ValueError(f"on_limit must be 'wait' or 'raise', not {on_limit!r}")
        self.backend: QuotaBackend = backend if backend is not None else _PROCESS_BACKEND
        self.limits = limits if limits is not None else QuotaLimits()
        self.on_limit = on_limit
        self.max_wait = max_wait
        self.slot_lease = slot_lease
        self.clock = clock

    def __repr__(self) -> str:
        return f"Quota({self.backend!r}, {self.limits!r}, on_limit={self.on_limit!r})"

    # -- keys -------------------------------------------------------------------------------------

    def _day(self, now: float) -> tuple[str, float]:
        """Today's UTC date and the epoch of the next midnight UTC."""
        today = dt.datetime.fromtimestamp(now, dt.UTC).date()
        midnight = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), dt.UTC)
        return today.isoformat(), midnight.timestamp()

    def _window_seconds(self) -> int:
        rate = self.limits.business_rate
        assert rate is not None
        return int(-(-rate.per // 1)) + WINDOW_MARGIN

    # -- admission (the client's plan runs these; see Quota.send) ---------------------------------

    def _unreachable(self, what: str, exc: Exception) -> QuotaBackendError:
        return QuotaBackendError(
            f"the quota ledger ({self.backend!r}) cannot {what}: {type(exc).__name__}: {exc}"
        )

    def try_admit(self, scope: str, business: str) -> Ticket | _Wait:
        """One attempt at admitting a call: a ticket, a wait, or a day limit raised."""
        try:
            return self._try_admit(scope, business)
        except SageError:
            raise
        except Exception as exc:
            raise self._unreachable("admit the request", exc) from exc

    def _try_admit(self, scope: str, business: str) -> Ticket | _Wait:
        limits, backend = self.limits, self.backend
        slot = None
        if limits.in_flight is not None:
            slot = backend.slot_take(f"{scope}:in_flight", limits.in_flight, self.slot_lease)
            if slot is None:
                return _Wait(SLOT_POLL, "in_flight")
        rate = limits.business_rate
        if rate is not None:
            key, seconds = f"{scope}:{business}:rate", self._window_seconds()
            if not backend.window_hit(key, rate.requests, seconds):
                if slot is not None:
                    backend.slot_give(f"{scope}:in_flight", slot)
                reset_at, _ = backend.window_stats(key, rate.requests, seconds)
                return _Wait(max(0.005, reset_at - self.clock()), "business_rate")
        now = self.clock()
        today, midnight = self._day(now)
        for name, limit, key in (
            ("business_day", limits.business_per_day, f"{scope}:{business}:day:{today}"),
            ("app_day", limits.app_per_day, f"{scope}:day:{today}"),
        ):
            if limit is not None and backend.counter_add(key, 1, 2 * DAY) > limit:
                if slot is not None:
                    backend.slot_give(f"{scope}:in_flight", slot)
                raise DailyQuotaExceededError(
                    name,
                    business,
                    midnight,
                    f"the day's {limit} requests are used ({_limit_words(name)})",
                )
        return Ticket(scope, business, slot)

    def release(self, ticket: Ticket) -> None:
        """Give the ticket's slot back. A backend gone now only delays it (the lease ends it):
        the answer that came is not lost for that."""
        if ticket.slot is None:
            return
        try:
            self.backend.slot_give(f"{ticket.scope}:in_flight", ticket.slot)
        except Exception as exc:
            log.warning("%s", redact(str(self._unreachable("give a slot back", exc))))

    def admit(self, scope: str, business: str) -> Generator[Step, Any, Ticket]:
        """A sub-plan: the ticket for one call, waiting (sleep steps) or raising as configured."""
        waited = 0.0
        while True:
            decision = yield quota_io(self, self.try_admit, scope, business)
            if isinstance(decision, Ticket):
                return decision
            if self.on_limit == "raise" or waited + decision.seconds > self.max_wait:
                raise QuotaExceededError(
                    decision.limit,
                    business,
                    self.clock() + decision.seconds,
                    f"no room for another request ({_limit_words(decision.limit)}); "
                    + (
                        "on_limit='raise'"
                        if self.on_limit == "raise"
                        else f"waiting would exceed max_wait={self.max_wait:g} s"
                    ),
                )
            yield sleep(decision.seconds)
            waited += decision.seconds

    def observe(self, ticket: Ticket, response: httpx.Response, error: Exception | None) -> None:
        """After the answer: a 429 tells every worker what Sage counted."""
        if not isinstance(error, RateLimitError):
            return
        try:
            self._observe(ticket, error)
        except Exception as exc:  # the 429 itself is raised or retried all the same
            log.warning("%s", redact(str(self._unreachable("record a 429", exc))))

    def _observe(self, ticket: Ticket, error: RateLimitError) -> None:
        kind, now = error.limit, self.clock()
        if isinstance(error, DailyRateLimitError):
            today, _ = self._day(now)
            if error.scope == "app" and self.limits.app_per_day is not None:
                self.backend.counter_add(
                    f"{ticket.scope}:day:{today}", self.limits.app_per_day, 2 * DAY
                )
            elif self.limits.business_per_day is not None:
                self.backend.counter_add(
                    f"{ticket.scope}:{ticket.business}:day:{today}",
                    self.limits.business_per_day,
                    2 * DAY,
                )
        elif kind == "minute" and self.limits.business_rate is not None:
            key, seconds = f"{ticket.scope}:{ticket.business}:rate", self._window_seconds()
            limit = self.limits.business_rate.requests
            _, free = self.backend.window_stats(key, limit, seconds)
            if free:
                self.backend.window_hit(key, limit, seconds, free)

    # -- reading ------------------------------------------------------------------------------------

    def status(self, scope: str, business: str, business_id: str | None) -> QuotaStatus:
        try:
            return self._status(scope, business, business_id)
        except Exception as exc:
            raise self._unreachable("be read", exc) from exc

    def _status(self, scope: str, business: str, business_id: str | None) -> QuotaStatus:
        limits, backend, now = self.limits, self.backend, self.clock()
        today, midnight = self._day(now)
        at_midnight = dt.datetime.fromtimestamp(midnight, dt.UTC)
        in_flight = LimitStatus(
            "in_flight",
            limits.in_flight,
            backend.slot_count(f"{scope}:in_flight") if limits.in_flight else 0,
            None,
        )
        rate = limits.business_rate
        if rate is not None:
            reset_at, free = backend.window_stats(
                f"{scope}:{business}:rate", rate.requests, self._window_seconds()
            )
            window = LimitStatus(
                "business_rate",
                rate.requests,
                rate.requests - free,
                dt.datetime.fromtimestamp(reset_at, dt.UTC),
            )
        else:
            window = LimitStatus("business_rate", None, 0, None)
        business_day = LimitStatus(
            "business_day",
            limits.business_per_day,
            backend.counter_get(f"{scope}:{business}:day:{today}"),
            at_midnight,
        )
        app_day = LimitStatus(
            "app_day", limits.app_per_day, backend.counter_get(f"{scope}:day:{today}"), at_midnight
        )
        return QuotaStatus(business_id, in_flight, window, business_day, app_day)


def _limit_words(name: str) -> str:
    return {
        "in_flight": "the app's requests in flight",
        "business_rate": "the business's requests per minute",
        "business_day": "the business's requests per day",
        "app_day": "the app's requests per day",
    }[name]
