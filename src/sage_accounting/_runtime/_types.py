"""Field types of the generated models (these import pydantic: only models use them)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator


def _empty_to_none(_value: str) -> None:
    # Renaming it? pydantic's error locations carry the name: see _errors.EMPTY_AS_NONE_MEMBER.
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
