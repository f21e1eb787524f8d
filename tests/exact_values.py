"""Equality that tells exact values apart: what decoded or validated money must keep."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel


def same(a: Any, b: Any) -> bool:
    """Equal values of the same types all the way down (Decimal("1.10") is not Decimal("1.1"));
    two models are the same when their types and dumps are."""
    if isinstance(a, BaseModel):
        return type(a) is type(b) and same(a.model_dump(), b.model_dump())
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Decimal):
        return str(a) == str(b)
    if isinstance(a, float) and a != a:  # NaN
        return bool(b != b)
    return bool(a == b)
