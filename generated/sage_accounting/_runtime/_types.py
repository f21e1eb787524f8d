"""Types shared by the runtime and the generated code."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypedDict

import httpx
from pydantic import AfterValidator, BeforeValidator


class RequestOptions(TypedDict, total=False):
    """Per-call options every generated method accepts as keyword arguments.

    - ``business_id``: the ``X-Business`` to act on for this call (else the client's).
    - ``timeout``: seconds, or an ``httpx.Timeout``.
    - ``max_retries``: retries for this call (else the client's).
    - ``extra_headers`` / ``extra_query``: sent as well (for what the spec does not declare).
    - ``idempotency_id``: for POSTs; a 32-hex id to use, or ``False`` to send none (then a POST
      is never retried). By default a fresh id is generated and reused on every retry.
    """

    business_id: str
    timeout: float | httpx.Timeout
    max_retries: int
    extra_headers: Mapping[str, str]
    extra_query: Mapping[str, str]
    idempotency_id: str | Literal[False]


def _empty_to_none(_value: str) -> None:
    return None


def _no_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError("money is not a float: pass a Decimal, an int or a numeric string")
    return value


# Sage sends "" where a date is expected (e.g. "mtd_authenticated_date": ""): read it as None.
# The "" branch is tried only after a real date fails, so well-formed dates never run Python code.
_EmptyAsNone = Annotated[Literal[""], AfterValidator(_empty_to_none)]

if TYPE_CHECKING:
    LenientDate = dt.date
    LenientDateTime = dt.datetime
    RequestDecimal = Decimal
else:
    LenientDate = Annotated[dt.date | _EmptyAsNone, "lenient date"]
    LenientDateTime = Annotated[dt.datetime | _EmptyAsNone, "lenient date-time"]
    # Request amounts: Decimal, int or numeric string; never float (binary rounding).
    RequestDecimal = Annotated[Decimal, BeforeValidator(_no_float)]
