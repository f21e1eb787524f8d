"""Field types of the generated models (these import pydantic: only models use them)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field


def _empty_to_none(_value: str) -> None:
    # Renaming it? pydantic's error locations carry the name: see _errors.EMPTY_AS_NONE_MEMBER.
    return None


def _no_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError("money is not a float: pass a Decimal, an int or a numeric string")
    return value


# Sage sends "" where a date is expected (e.g. "mtd_authenticated_date": ""): read it as None.
# The "" branch is tried only after a real date fails, so well-formed dates never run Python code.
# Left to right: a date string is read by the date member at once (pydantic's default "smart"
# union first tries every member in strict mode, which a string never passes: ~1.6x the cost of
# each date read). Every input reads as in smart mode: the members accept disjoint inputs.
_EmptyAsNone = Annotated[Literal[""], AfterValidator(_empty_to_none)]
_FirstMatch = Field(union_mode="left_to_right")

if TYPE_CHECKING:
    LenientDate = dt.date
    LenientDateTime = dt.datetime
    RequestDecimal = Decimal
else:
    LenientDate = Annotated[dt.date | _EmptyAsNone, _FirstMatch, "lenient date"]
    LenientDateTime = Annotated[dt.datetime | _EmptyAsNone, _FirstMatch, "lenient date-time"]
    # Request amounts: Decimal, int or numeric string; never float (binary rounding).
    RequestDecimal = Annotated[Decimal, BeforeValidator(_no_float)]
