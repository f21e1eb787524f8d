"""The sandbox's state: its clock, injected faults, OAuth grants and records, behind one lock.

Everything the HTTP handler and the test-facing ``SageSandbox`` share lives here, so the two
never disagree; every read or write of mutable state happens under ``State.lock``.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from .._runtime import wire
from .._runtime.wire import format_timestamp, parse_timestamp

ACCESS_TOKEN_SECONDS = 300  # Sage's 5-minute access tokens
REFRESH_TOKEN_IDLE_SECONDS = 31 * 24 * 3600
CODE_SECONDS = 60  # an authorization code is single use and lives a minute
ROLES = ("Full Access", "Restricted Access", "Read Only")

Record = dict[str, Any]


class SandboxClock:
    """The sandbox's clock: real time plus whatever a test has advanced it by."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class Fault:
    """What to do instead of (or after) handling matching requests, ``times`` times.

    kind: "status" answers ``status`` with Sage's error array (and ``Retry-After`` when given);
    "slow" waits ``delay`` seconds first; "drop" closes the connection without an answer.
    ``after=True`` lets the request take effect first (a POST creates its record), then fails
    the answer. ``method`` and ``path`` (a prefix of the path after /v3.1, or /token) narrow it.
    The class methods name the common cases: ``Fault.latency(0.2, times=10)``,
    ``Fault.rate_limited(retry_after=2)``, ``Fault.server_error(503)``, ``Fault.dropped()``.
    """

    kind: str = "status"
    status: int = 500
    times: int = 1
    method: str | None = None
    path: str | None = None
    retry_after: str | None = None
    delay: float = 0.0
    after: bool = False
    data_code: str = "UnexpectedError"
    message: str = "Injected fault"
    source: str = ""

    @classmethod
    def latency(cls, seconds: float, **match: Any) -> Fault:
        return cls(kind="slow", delay=seconds, **match)

    @classmethod
    def rate_limited(cls, retry_after: float | None = 1, **match: Any) -> Fault:
        after = None if retry_after is None else f"{retry_after:g}"
        match.setdefault("data_code", "TooManyRequests")
        match.setdefault("message", "Rate limit exceeded")
        return cls(status=429, retry_after=after, **match)

    @classmethod
    def server_error(cls, status: int = 500, **match: Any) -> Fault:
        return cls(status=status, **match)

    @classmethod
    def dropped(cls, **match: Any) -> Fault:
        return cls(kind="drop", **match)

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path is None or path.startswith(self.path)
        )


@dataclass
class Grant:
    access_token: str
    refresh_token: str
    access_expires_at: float
    refresh_expires_at: float
    scope: str
    # The authorization this pair descends from: a spent refresh token used again kills it all.
    family: str = ""


@dataclass(frozen=True)
class SandboxLimits:
    """Sage's limits as the sandbox enforces them with 429s (``None``: not enforced).

    ``business_per_minute``: a moving 60 s window per business; ``business_per_day`` and
    ``app_per_day``: per UTC day; ``in_flight``: API requests being handled at once."""

    business_per_minute: int | None = None
    business_per_day: int | None = None
    app_per_day: int | None = None
    in_flight: int | None = None


@dataclass
class State:
    clock: SandboxClock
    client_id: str
    client_secret: str
    redirect_uri: str
    lead_business: str
    businesses: list[str]
    rng: random.Random
    # The user's role per area ("Sales": "Read Only"); an area not named is Full Access.
    roles: dict[str, str] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    access_tokens: dict[str, Grant] = field(default_factory=dict)
    refresh_tokens: dict[str, Grant] = field(default_factory=dict)
    used_refresh_tokens: set[str] = field(default_factory=set)
    # (business, resource) -> id -> record; businesses and the user live under business "".
    records: dict[tuple[str, str], dict[str, Record]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    idempotency: dict[tuple[str, str, str], tuple[int, bytes]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    numbers: Counter[tuple[str, str]] = field(default_factory=Counter)  # invoice numbers etc.
    in_flight: int = 0
    max_in_flight: int = 0  # the most API requests being handled at once
    access_token_seconds: int = ACCESS_TOKEN_SECONDS
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    # Arrival times of API requests per business (the minute window) and counts per UTC day.
    arrivals: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    day_counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    dead_families: set[str] = field(default_factory=set)

    def new_id(self) -> str:
        """A Sage-shaped id (32 hex digits), reproducible from the sandbox's seed."""
        return f"{self.rng.getrandbits(128):032x}"


class Reply:
    """What a handler answers: a status, a JSON payload (or raw bytes) and extra headers."""

    def __init__(
        self, status: int, payload: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        self.status = status
        self.payload = payload
        self.headers = headers or {}


def timestamp(epoch: float) -> str:
    return format_timestamp(epoch)


def parse_time(text: str) -> float:
    """A query's date or date-time as epoch seconds (a bare date is its midnight UTC)."""
    value = parse_timestamp(text.replace(" ", "+"))  # a "+" sent unencoded reads as a space
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()


def error(code: str, message: str, source: str = "") -> list[dict[str, str]]:
    """Sage's error body: a JSON array of these objects."""
    return [
        {
            wire.ERROR_SEVERITY: "error",
            wire.ERROR_CODE: code,
            wire.ERROR_MESSAGE: message,
            wire.ERROR_SOURCE: source,
        }
    ]
