"""Sage's limits as the sandbox plays them: 429s for the minute, the day and concurrency.

Each refusal names its limit in ``$dataCode`` and ``$message`` (the words the SDK classifies a
429 by) and counts under ``"429 minute"``, ``"429 day"`` or ``"429 concurrency"``. A refused
request does not count towards any limit. Off unless ``SageSandbox(limits=SandboxLimits(...))``.
"""

from __future__ import annotations

import math
import time

from .._runtime.wire import RETRY_AFTER_HEADER
from ._state import Reply, State, error


def _utc_day(now: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(now))


def _seconds_to_midnight(now: float) -> int:
    return math.ceil(86_400 - now % 86_400)


def check(state: State, business: str) -> Reply | None:
    """None when an API request for ``business`` may go on (it is then counted), else the 429."""
    limits = state.limits
    with state.lock:
        now = state.clock.now()
        if limits.in_flight is not None and state.in_flight > limits.in_flight:
            state.counts["429 concurrency"] += 1
            message = f"Too many concurrent requests: at most {limits.in_flight} in flight per app"
            return Reply(429, error("TooManyConcurrentRequests", message))
        day = _utc_day(now)
        if limits.app_per_day is not None and state.day_counts[("", day)] >= limits.app_per_day:
            state.counts["429 day"] += 1
            message = f"Daily request quota of {limits.app_per_day} for this app exceeded"
            headers = {RETRY_AFTER_HEADER: str(_seconds_to_midnight(now))}
            return Reply(429, error("DailyQuotaExceeded", message), headers)
        if (
            limits.business_per_day is not None
            and state.day_counts[(business, day)] >= limits.business_per_day
        ):
            state.counts["429 day"] += 1
            message = f"Daily request quota of {limits.business_per_day} for this business exceeded"
            headers = {RETRY_AFTER_HEADER: str(_seconds_to_midnight(now))}
            return Reply(429, error("DailyQuotaExceeded", message), headers)
        arrivals = state.arrivals[business]
        if limits.business_per_minute is not None:
            while arrivals and arrivals[0] <= now - 60:
                arrivals.pop(0)
            if len(arrivals) >= limits.business_per_minute:
                state.counts["429 minute"] += 1
                wait = max(1, math.ceil(arrivals[0] + 60 - now))
                message = f"Rate limit exceeded: {limits.business_per_minute} requests per minute"
                return Reply(
                    429, error("TooManyRequests", message), {RETRY_AFTER_HEADER: str(wait)}
                )
            arrivals.append(now)  # kept only while a minute is counted
        state.day_counts[("", day)] += 1
        state.day_counts[(business, day)] += 1
        state.counts["api admitted"] += 1
    return None
