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
with leases. A call asks for all of them at once (an ``Ask``), so that a shared backend admits it
in one atomic step and one round trip (a Lua script, a transaction), and settles it in one more
(its slot given back, what a 429 said learnt). ``MemoryBackend`` is this process's.

A client meets its ledger through a request hook, ``QuotaHook`` (a ``HoldingHook``, see
``_hooks``): its hold is the admission (waiting in sleep steps), its token the ``Ticket``, its
settling the one step after the answer; the client's constructor installs it, first in the plan.
A shared backend is asked in ``Call`` steps (blocking: a worker thread on the async client);
this process's (``local``, no I/O) is asked inline, where the client would have called it anyway,
without a step's round trip through the plan on every request.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from ._errors import (
    ArgumentValueError,
    DailyQuotaExceededError,
    DailyRateLimitError,
    QuotaBackendError,
    QuotaExceededError,
    RateLimitError,
    status_error,
)
from ._hooks import Hold, HoldingHook
from ._limits import RateLimit
from ._plan import Call, Sleep
from ._redact import redact
from ._retry import parse_retry_after

if TYPE_CHECKING:
    import httpx

    from ._prepare import PreparedRequest

R = TypeVar("R")

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
                raise ArgumentValueError(name, f"must be a positive int or None, not {value!r}")
        rate = self.business_rate
        if rate is not None and (rate.requests < 1 or rate.per <= 0):
            raise ArgumentValueError("business_rate", "needs requests >= 1 and per > 0")

    @classmethod
    def unlimited(cls) -> QuotaLimits:
        """Nothing counted (a test server, or limits enforced elsewhere)."""
        return cls(None, None, None, None)


@dataclass(frozen=True)
class Window:
    """A moving window: at most ``limit`` entries in any ``seconds``."""

    key: str
    limit: int
    seconds: float


@dataclass(frozen=True)
class Counter:
    """A total (a day's): at most ``limit``; it starts again ``expiry`` seconds after its first
    count (the key names the day, so the expiry only clears old keys)."""

    key: str
    limit: int
    expiry: int


@dataclass(frozen=True)
class Slots:
    """Requests in flight: at most ``limit`` slots, each given back or ending with its lease."""

    key: str
    limit: int
    lease: float


@dataclass(frozen=True)
class Ask:
    """One admission, all or nothing: one on each counter, an entry in each window, a slot."""

    counters: tuple[Counter, ...] = ()
    windows: tuple[Window, ...] = ()
    slots: Slots | None = None


@dataclass(frozen=True)
class Verdict:
    """A backend's answer to an ``Ask``. Admitted: ``full`` is None and ``slot`` the slot taken
    (when one was asked for); else nothing was counted, ``full`` says what was full ("counter",
    "window" or "slots") and ``index`` which one; for a window, ``retry_at`` (epoch seconds) is
    when its oldest entry leaves."""

    slot: str | None = None
    full: Literal["counter", "window", "slots"] | None = None
    index: int = 0
    retry_at: float = 0.0


@dataclass(frozen=True)
class Reading:
    """What an ``Ask``'s counts hold now: slots taken, each window's (entries, when its oldest
    leaves: epoch seconds, or None when empty), each counter's value."""

    slots: int
    windows: tuple[tuple[int, float | None], ...]
    counters: tuple[int, ...]


class QuotaBackend(Protocol):
    """Where the counts live. Each method is one atomic step, one round trip to a shared backend
    (one Lua script, one transaction); ``now`` is the caller's clock (epoch seconds)."""

    # True when the backend does no I/O (memory): the async client calls it in its loop.
    local: bool

    def admit(self, ask: Ask, now: float) -> Verdict:
        """Count ``ask`` if everything in it has room, else count nothing and say what is full."""
        ...

    def settle(self, ask: Ask, now: float, slot: str | None = None) -> None:
        """Give ``slot`` back (to ``ask.slots``) and fill ``ask``'s windows and counters to
        their limits (a 429 said Sage's are full)."""
        ...

    def read(self, ask: Ask, now: float) -> Reading: ...


# A memory slot's name need only differ from every other one in this process: a count (one for
# every MemoryBackend), not os.urandom, a system call on every request.
_SLOT_NAMES = itertools.count(1)


class MemoryBackend:
    """The counts in this process (under one lock), shared by every client in it."""

    local = True

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, deque[float]] = {}
        self._counters: dict[str, tuple[int, float]] = {}
        self._slots: dict[str, dict[str, float]] = {}

    def __repr__(self) -> str:
        return "MemoryBackend()"

    def _window(self, window: Window, now: float) -> deque[float]:
        entries = self._windows.setdefault(window.key, deque())
        while entries and entries[0] <= now - window.seconds:
            entries.popleft()
        return entries

    def _counter(self, key: str, now: float) -> int:
        count, expires = self._counters.get(key, (0, 0.0))
        return count if expires > now else 0

    def _add(self, counter: Counter, amount: int, now: float) -> None:
        count, expires = self._counters.get(counter.key, (0, 0.0))
        if expires <= now:
            count, expires = 0, now + counter.expiry
        self._counters[counter.key] = (count + amount, expires)

    def _live_slots(self, key: str, now: float) -> dict[str, float]:
        slots = self._slots.setdefault(key, {})
        for slot in [s for s, until in slots.items() if until <= now]:
            del slots[slot]
        return slots

    def admit(self, ask: Ask, now: float) -> Verdict:
        with self._lock:
            for index, counter in enumerate(ask.counters):
                if self._counter(counter.key, now) >= counter.limit:
                    return Verdict(full="counter", index=index)
            windows = [self._window(window, now) for window in ask.windows]
            for index, (window, entries) in enumerate(zip(ask.windows, windows, strict=True)):
                if len(entries) >= window.limit:
                    return Verdict(full="window", index=index, retry_at=entries[0] + window.seconds)
            slot = None
            if ask.slots is not None:
                slots = self._live_slots(ask.slots.key, now)
                if len(slots) >= ask.slots.limit:
                    return Verdict(full="slots")
                slot = f"{next(_SLOT_NAMES):x}"
                slots[slot] = now + ask.slots.lease
            for counter in ask.counters:
                self._add(counter, 1, now)
            for entries in windows:
                entries.append(now)
            return Verdict(slot=slot)

    def settle(self, ask: Ask, now: float, slot: str | None = None) -> None:
        with self._lock:
            if slot is not None and ask.slots is not None:
                self._slots.get(ask.slots.key, {}).pop(slot, None)
            for window in ask.windows:
                entries = self._window(window, now)
                entries.extend([now] * max(0, window.limit - len(entries)))
            for counter in ask.counters:
                self._add(counter, max(0, counter.limit - self._counter(counter.key, now)), now)

    def read(self, ask: Ask, now: float) -> Reading:
        with self._lock:
            windows = [self._window(window, now) for window in ask.windows]
            return Reading(
                len(self._live_slots(ask.slots.key, now)) if ask.slots is not None else 0,
                tuple(
                    (len(e), e[0] + w.seconds if e else None)
                    for w, e in zip(ask.windows, windows, strict=True)
                ),
                tuple(self._counter(counter.key, now) for counter in ask.counters),
            )


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


class _AsksOfDay:
    """The ``Ask`` of each (scope, business) a ledger has counted for today, under its limits
    and lease: valid while the clock reads a time of that UTC day (a microsecond short of its
    end, so that rounding a timestamp to a date can never disagree) and the ledger's limits and
    lease are the ones they were made with; a ledger makes a fresh one otherwise."""

    MAX_ASKS = 4096  # businesses remembered for a day (more are made again when asked)

    def __init__(
        self,
        now: float,
        limits: QuotaLimits,
        lease: float,
        day_of: Callable[[float], tuple[str, float]],
    ) -> None:
        self.date, self.ends = day_of(now)
        self.starts = self.ends - DAY  # UTC days have no DST: always 86,400 s long
        self.limits, self.lease = limits, lease
        self.asks: dict[tuple[str, str], tuple[Ask, tuple[LimitName, ...]]] = {}

    def holds(self, now: float, limits: QuotaLimits, lease: float) -> bool:
        return (
            self.starts <= now < self.ends - 1e-6 and limits is self.limits and lease == self.lease
        )

    def remember(
        self, key: tuple[str, str], made: tuple[Ask, tuple[LimitName, ...]]
    ) -> tuple[Ask, tuple[LimitName, ...]]:
        if len(self.asks) >= self.MAX_ASKS:
            self.asks.clear()
        self.asks[key] = made
        return made


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
            raise ArgumentValueError("on_limit", f"must be 'wait' or 'raise', not {on_limit!r}")
        self.backend: QuotaBackend = backend if backend is not None else _PROCESS_BACKEND
        self.limits = limits if limits is not None else QuotaLimits()
        self.on_limit = on_limit
        self.max_wait = max_wait
        self.slot_lease = slot_lease
        self.clock = clock
        self._asks_of_day: _AsksOfDay | None = None  # made on the first call, on its clock

    def __repr__(self) -> str:
        return f"Quota({self.backend!r}, {self.limits!r}, on_limit={self.on_limit!r})"

    # -- what one call asks of the backend ---------------------------------------------------------

    def _day(self, now: float) -> tuple[str, float]:
        """Today's UTC date and the epoch of the next midnight UTC."""
        today = dt.datetime.fromtimestamp(now, dt.UTC).date()
        midnight = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), dt.UTC)
        return today.isoformat(), midnight.timestamp()

    def _ask(self, scope: str, business: str, now: float) -> tuple[Ask, tuple[LimitName, ...]]:
        """The call's ``Ask`` (every limit enforced) and the names of its counters, in order.
        Every request asks this twice (admission, settling) and it changes only with the UTC day
        or the limits: each is made once per day, business and limits (``_AsksOfDay``)."""
        day = self._asks_of_day
        if day is None or not day.holds(now, self.limits, self.slot_lease):
            day = self._asks_of_day = _AsksOfDay(now, self.limits, self.slot_lease, self._day)
        made = day.asks.get((scope, business))
        if made is None:
            made = day.remember((scope, business), self._make_ask(scope, business, day.date))
        return made

    def _make_ask(self, scope: str, business: str, today: str) -> tuple[Ask, tuple[LimitName, ...]]:
        limits = self.limits
        counters: list[Counter] = []
        names: list[LimitName] = []
        for name, limit, key in (
            ("business_day", limits.business_per_day, f"{scope}:{business}:day:{today}"),
            ("app_day", limits.app_per_day, f"{scope}:day:{today}"),
        ):
            if limit is not None:
                counters.append(Counter(key, limit, 2 * DAY))
                names.append(name)  # type: ignore[arg-type]
        rate = limits.business_rate
        windows = (
            ()
            if rate is None
            else (Window(f"{scope}:{business}:rate", rate.requests, rate.per + WINDOW_MARGIN),)
        )
        slots = (
            None
            if limits.in_flight is None
            else Slots(f"{scope}:in_flight", limits.in_flight, self.slot_lease)
        )
        return Ask(tuple(counters), windows, slots), tuple(names)

    # -- admission (the client's plan runs these; see Quota.admit) --------------------------------

    def _unreachable(self, what: str, exc: Exception) -> QuotaBackendError:
        return QuotaBackendError(
            f"the quota ledger ({self.backend!r}) cannot {what}: {type(exc).__name__}: {exc}"
        )

    def try_admit(self, scope: str, business: str) -> Ticket | _Wait:
        """One attempt at admitting a call (one backend step): a ticket, a wait, or a day limit
        raised."""
        now = self.clock()
        ask, names = self._ask(scope, business, now)
        try:
            verdict = self.backend.admit(ask, now)
        except Exception as exc:
            raise self._unreachable("admit the request", exc) from exc
        if verdict.full is None:
            return Ticket(scope, business, verdict.slot)
        if verdict.full == "slots":
            return _Wait(SLOT_POLL, "in_flight")
        if verdict.full == "window":
            return _Wait(max(0.005, verdict.retry_at - now), "business_rate")
        name = names[verdict.index]
        raise DailyQuotaExceededError(
            name,
            business,
            self._day(now)[1],
            f"the day's {ask.counters[verdict.index].limit} requests are used"
            f" ({_limit_words(name)})",
        )

    def admit(self, scope: str, business: str) -> Hold[Ticket]:
        """A sub-plan: the ticket for one call, waiting (sleep steps) or raising as configured."""
        waited = 0.0
        while True:
            decision = (
                self.try_admit(scope, business)  # no I/O: done here, in the caller's thread
                if self.backend.local
                else (yield quota_io(self, self.try_admit, scope, business))
            )
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
            yield Sleep(decision.seconds)
            waited += decision.seconds

    def settle(self, ticket: Ticket, outcome: httpx.Response | Exception | None = None) -> None:
        """After the attempt, one backend step: the ticket's slot given back and, when Sage
        answered 429, what it counted told to every worker: a minute limit fills the business's
        window, a day limit closes the business's (or the app's) day. A backend gone now only
        delays the slot's return (its lease ends it): the answer that came is not lost for that,
        and a 429 is raised or retried all the same."""
        error = _rate_limit_error(outcome)
        if ticket.slot is None and error is None:
            return
        now = self.clock()
        ask, names = self._ask(ticket.scope, ticket.business, now)
        learn = Ask(slots=ask.slots)
        if isinstance(error, DailyRateLimitError):
            wanted = "app_day" if error.scope == "app" else "business_day"
            learn = replace(
                learn,
                counters=tuple(c for c, n in zip(ask.counters, names, strict=True) if n == wanted),
            )
        elif error is not None and error.limit == "minute":
            learn = replace(learn, windows=ask.windows)
        try:
            self.backend.settle(learn, now, ticket.slot)
        except Exception as exc:
            log.warning("%s", redact(str(self._unreachable("settle a request", exc))))

    def release(self, ticket: Ticket) -> None:
        """Give the ticket's slot back (the attempt ended with no answer to learn from)."""
        self.settle(ticket)

    # -- reading ------------------------------------------------------------------------------------

    def status(self, scope: str, business: str, business_id: str | None) -> QuotaStatus:
        """What remains (one backend step)."""
        now = self.clock()
        ask, names = self._ask(scope, business, now)
        try:
            reading = self.backend.read(ask, now)
        except Exception as exc:
            raise self._unreachable("be read", exc) from exc
        limits = self.limits
        at_midnight = dt.datetime.fromtimestamp(self._day(now)[1], dt.UTC)
        in_flight = LimitStatus("in_flight", limits.in_flight, reading.slots, None)
        rate = limits.business_rate
        if rate is not None:
            used, oldest_leaves = reading.windows[0]
            window = LimitStatus(
                "business_rate",
                rate.requests,
                min(used, rate.requests),
                dt.datetime.fromtimestamp(
                    oldest_leaves if oldest_leaves is not None else now + ask.windows[0].seconds,
                    dt.UTC,
                ),
            )
        else:
            window = LimitStatus("business_rate", None, 0, None)
        days = dict(zip(names, reading.counters, strict=True))
        business_day = LimitStatus(
            "business_day", limits.business_per_day, days.get("business_day", 0), at_midnight
        )
        app_day = LimitStatus("app_day", limits.app_per_day, days.get("app_day", 0), at_midnight)
        return QuotaStatus(business_id, in_flight, window, business_day, app_day)


def quota_io(quota: Quota, function: Callable[..., R], *args: Any) -> Call[R]:
    """Call ``function(*args)`` of the quota ledger ``quota``: blocking when its backend talks
    to Redis or a database."""
    return Call(function, args, blocking=not quota.backend.local)


def ledger_business(business_id: str | None) -> str:
    """The ledger's key for a request's business: Sage's lead business when none is named."""
    return business_id or "(lead)"


class QuotaHook(HoldingHook[Ticket]):
    """The quota ledger as a request hook: each attempt is admitted by ``quota`` (waiting or
    raising as it says) before it is sent, holding a ``Ticket``; the answer settles the ticket
    in one step (its slot given back, a 429 learnt), an attempt stopped gives its slot back.
    ``scope`` is the app the counts are kept for (a client's is its app key at its base URL)."""

    def __init__(self, quota: Quota, scope: str) -> None:
        self.quota = quota
        self.scope = scope

    def __repr__(self) -> str:
        return f"QuotaHook({self.quota!r}, scope={self.scope!r})"

    def hold(self, request: PreparedRequest, *, retry: int) -> Hold[Ticket]:
        ticket: Ticket = yield from self.quota.admit(
            self.scope, ledger_business(request.business_id)
        )
        return ticket

    def settle(
        self,
        request: PreparedRequest,
        token: Ticket,
        outcome: httpx.Response | httpx.TransportError,
    ) -> Hold[None]:
        if self.quota.backend.local:  # no I/O: settled here, as the client would have called it
            self.quota.settle(token, outcome)
            return
        yield quota_io(self.quota, self.quota.settle, token, outcome)

    def release(self, request: PreparedRequest, token: Ticket, error: BaseException) -> None:
        self.quota.release(token)  # the plan may be closing: no step can be yielded now

    def status(self, business_id: str | None) -> QuotaStatus:
        """What remains for ``business_id`` (one backend step)."""
        return self.quota.status(self.scope, ledger_business(business_id), business_id)


def _rate_limit_error(outcome: httpx.Response | Exception | None) -> RateLimitError | None:
    """The 429 an attempt ended with, classified by the one mapping of answers to errors."""
    if isinstance(outcome, RateLimitError):
        return outcome
    if getattr(outcome, "status_code", None) != 429:
        return None
    response: Any = outcome
    try:
        body = response.json()
    except Exception:
        body = None
    try:
        method, path = response.request.method, response.request.url.path
    except RuntimeError:  # an answer built by hand (a test's transport) has no request
        method, path = "", ""
    error = status_error(
        status_code=429,
        method=method,
        path=path,
        request_id=None,
        business_id=None,
        body=body,
        retry_after=parse_retry_after(response.headers),
    )
    return error if isinstance(error, RateLimitError) else None


def _limit_words(name: str) -> str:
    return {
        "in_flight": "the app's requests in flight",
        "business_rate": "the business's requests per minute",
        "business_day": "the business's requests per day",
        "app_day": "the app's requests per day",
    }[name]
