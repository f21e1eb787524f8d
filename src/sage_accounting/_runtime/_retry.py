"""When to retry, and how long to wait.

Retried: 408, 429, 500, 502, 503, 504, connection errors and timeouts; for GET, PUT and DELETE
always, for POST only when the body carries an idempotency id (Sage may have created the record
before failing: a blind retry would create it twice).

Wait before retry ``n`` (0-based) when Sage gives no ``Retry-After``::

    delay = min(MAX_BACKOFF, INITIAL_BACKOFF * 2**n) * (1 - JITTER * random())

so 0.5 s, 1 s, 2 s ... capped at 8 s, each up to 25 % shorter so that many clients do not retry in
step. A ``Retry-After`` (seconds or an HTTP date) is honoured exactly on every retryable status;
one longer than ``MAX_RETRY_AFTER`` is not waited for: the error is raised instead. One that
cannot be read (garbage, a negative number) is ignored: the backoff above applies.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping

from .wire import RETRY_AFTER_HEADER

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
INITIAL_BACKOFF = 0.5
MAX_BACKOFF = 8.0
JITTER = 0.25
MAX_RETRY_AFTER = 120.0


def may_retry(method: str, has_idempotency_id: bool) -> bool:
    return method != "POST" or has_idempotency_id


def backoff_delay(attempt: int, rand: float | None = None) -> float:
    rand = random.random() if rand is None else rand
    growth: float = INITIAL_BACKOFF * 2.0**attempt
    return min(MAX_BACKOFF, growth) * (1 - JITTER * rand)


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or None when
    there is none or it cannot be read (then the caller backs off)."""
    value = headers.get(RETRY_AFTER_HEADER)
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:  # a negative, infinite or NaN delay is not a delay: back off instead
        return seconds if 0.0 <= seconds < float("inf") else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)
