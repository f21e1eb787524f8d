"""Encoding values for the wire: query strings and exact-decimal JSON bodies."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from ._errors import ArgumentTypeError, ArgumentValueError, SageArgumentError
from .wire import format_timestamp, parse_timestamp

_encode_string = json.encoder.encode_basestring


# -- JSON bodies -----------------------------------------------------------------------------------


def dumps(value: Any) -> bytes:
    """JSON-encode a request body. Decimals become JSON numbers with their exact digits
    (``Decimal("0.10")`` -> ``0.10``): never a float on the way, never a quoted string."""
    parts: list[str] = []
    _encode(value, parts)
    return "".join(parts).encode("utf-8")


def _encode(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_encode_string(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send {value} as a JSON number")
        out.append(str(value))
    elif isinstance(value, int):
        out.append(str(int(value)))
    elif isinstance(value, float):
        raise TypeError("refusing to send a float: pass a Decimal so the digits stay exact")
    elif isinstance(value, dt.datetime):
        out.append(f'"{format_timestamp(value)}"')
    elif isinstance(value, dt.date):
        out.append(f'"{value.isoformat()}"')
    elif hasattr(value, "model_dump"):  # a pydantic model (not imported: it is costly)
        _encode(value.model_dump(mode="python", exclude_unset=True, by_alias=True), out)
    elif isinstance(value, Mapping):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(_encode_string(str(key)))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as JSON")


UTF8_BOM = b"\xef\xbb\xbf"


# Made once: json.loads(..., parse_float=Decimal) would make a decoder every call.
_DECODER = json.JSONDecoder(parse_float=Decimal)


def loads(content: bytes) -> Any:
    """Decode a response body; numbers with a fraction become Decimal, never float.

    A UTF-8 byte order mark is skipped. Anything that is not JSON raises ValueError, including a
    body nested too deep to decode (never RecursionError: a hostile body must not look like a bug
    in the caller's code)."""
    content = content.removeprefix(UTF8_BOM)
    try:
        return _DECODER.decode(content.decode(json.detect_encoding(content), "surrogatepass"))
    except RecursionError:
        raise ValueError("JSON nested too deeply to decode") from None


# -- query strings ---------------------------------------------------------------------------------


def encode_query_value(name: str, kind: str, enum: tuple[str, ...], value: Any) -> str:
    """Check one query argument against its declared kind and encode it; a ``SageArgumentError``
    (also a TypeError or ValueError) naming the argument, raised before any HTTP call."""
    try:
        return _encode_query_value(name, kind, enum, value)
    except SageArgumentError:
        raise
    except (TypeError, ValueError, ArithmeticError) as exc:  # "abc" as a date or a Decimal
        raise ArgumentValueError(name, str(exc)) from None


def _encode_query_value(name: str, kind: str, enum: tuple[str, ...], value: Any) -> str:
    if kind == "string":
        if not isinstance(value, str):
            raise ArgumentTypeError(name, f"must be a str, not {type(value).__name__}")
        if enum and value not in enum:
            raise ArgumentValueError(name, f"must be one of {', '.join(enum)}; got {value!r}")
        return value
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ArgumentTypeError(name, f"must be an int, not {type(value).__name__}")
        return str(value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ArgumentTypeError(name, f"must be a bool, not {type(value).__name__}")
        return "true" if value else "false"
    if kind == "decimal":
        if isinstance(value, bool) or not isinstance(value, (Decimal, int, str)):
            raise ArgumentTypeError(
                name, f"must be a Decimal, int or numeric str, not {type(value).__name__}"
            )
        return str(Decimal(value))
    if kind == "date":
        if isinstance(value, dt.datetime):
            return value.date().isoformat()
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, str):
            return dt.date.fromisoformat(value).isoformat()
        raise ArgumentTypeError(name, f"must be a date, not {type(value).__name__}")
    if kind == "datetime":
        if isinstance(value, dt.datetime):
            return format_timestamp(value)
        if isinstance(value, dt.date):
            return value.isoformat()  # Sage accepts a plain date here too
        if isinstance(value, str):
            return format_timestamp(parse_timestamp(value))
        raise ArgumentTypeError(name, f"must be a datetime, not {type(value).__name__}")
    if kind == "list":
        if isinstance(value, str):
            return value
        if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
            return ",".join(value)
        raise ArgumentTypeError(name, "must be a str or a sequence of str")
    raise AssertionError(f"unknown query kind {kind!r}")  # generator and runtime disagree
