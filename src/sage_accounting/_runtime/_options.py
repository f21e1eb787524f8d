"""Per-call options (no pydantic here: importing the client must stay cheap)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal, TypedDict

import httpx

from ._errors import ArgumentValueError


class RequestOptions(TypedDict, total=False):
    """Per-call options every generated method accepts as keyword arguments.

    - ``business_id``: the ``X-Business`` to act on for this call; ``None`` (or leaving it out)
      means the client's; ``""`` is refused (``ArgumentValueError``), never "no header".
    - ``timeout``: seconds, or an ``httpx.Timeout``.
    - ``max_retries``: retries for this call (else the client's).
    - ``extra_headers`` / ``extra_query``: sent as well (for what the spec does not declare).
    - ``idempotency_id``: for POSTs; a 32-hex id to use, or ``False`` to send none (then a POST
      is never retried). By default a fresh id is generated and reused on every retry.
    """

    business_id: str | None
    timeout: float | httpx.Timeout
    max_retries: int
    extra_headers: Mapping[str, str]
    extra_query: Mapping[str, str]
    idempotency_id: str | Literal[False]


def checked_timeout(argument: str, value: object) -> httpx.Timeout:
    """``value`` (seconds: a positive finite number, or an ``httpx.Timeout``) as a Timeout; anything
    else, a wrong type too, is an ``ArgumentValueError`` naming ``argument``, before any call."""
    if isinstance(value, httpx.Timeout):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgumentValueError(
            argument,
            f"must be seconds (a number) or an httpx.Timeout, not {type(value).__name__}"
            + (" (httpx.Timeout(None) waits forever)" if value is None else ""),
        )
    if not math.isfinite(value) or value <= 0:
        raise ArgumentValueError(
            argument, f"must be a positive, finite number of seconds, not {value!r}"
        )
    return httpx.Timeout(value)


def checked_max_retries(argument: str, value: object) -> int:
    """``value`` if it is a count of retries: an int, 0 or more."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgumentValueError(argument, f"must be an int, not {type(value).__name__}")
    if value < 0:
        raise ArgumentValueError(argument, f"must be 0 or more, not {value}")
    return value
