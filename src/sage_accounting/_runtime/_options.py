"""Per-call options (no pydantic here: importing the client must stay cheap)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, TypedDict

import httpx


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
