"""Resources and their filters, read from the generated operations table (never a hand list).

``list RESOURCE``, ``get RESOURCE ID`` and ``export RESOURCE`` are groups whose subcommands are
built on demand from the resource modules' operations (``all_operations``): one per resource that has such an
operation, with one option per query parameter the spec declares (``--contact-type-id``,
``--updated-or-created-since``, ...), typed by the parameter's kind and enum.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import click

from .._runtime import Operation
from .._runtime.wire import PAGE_PARAMETER, PAGE_SIZE_PARAMETER, parse_timestamp

# Query parameters the command line drives itself rather than exposing as filters.
PAGING = frozenset({PAGE_PARAMETER, PAGE_SIZE_PARAMETER})


def operations() -> dict[str, Operation]:
    from .._runtime import all_operations

    return all_operations()


def find(resource: str, kind: str) -> Operation | None:
    """The operation of ``kind`` ("list", "get") on ``resource``: the one without a path
    parameter for a list, the one keyed by ``{key}`` for a get (else the singleton get)."""
    found = [
        op
        for op in operations().values()
        if op.resource == resource and op.kind == kind and op.name == kind
    ]
    keyed = [op for op in found if "{key}" in op.path]
    chosen = keyed or found
    return chosen[0] if chosen else None


def resources(kind: str) -> list[str]:
    return sorted({op.resource for op in operations().values() if op.kind == kind})


def option_name(parameter: str) -> str:
    """``updated_or_created_since`` -> ``--updated-or-created-since``; ``appName`` -> ``--app-name``."""
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", parameter).lower()
    return "--" + snake.replace("_", "-")


class WireValue(click.ParamType[Any]):
    """A date, date-time or decimal option read as the user typed it, refused in their words
    (what was typed, what is expected, an example) before anything is sent."""

    EXAMPLES = {
        "date": "a date, YYYY-MM-DD, e.g. 2026-01-31",
        "datetime": "a date and time with its zone, e.g. 2026-01-31T09:00:00Z (or a date, "
        "2026-01-31)",
        "decimal": "a decimal number, e.g. 1234.50",
    }

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.name = kind

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return parse_value(self.kind, value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def parse_value(kind: str, text: str) -> Any:
    """``text`` as the Python value of a query parameter of ``kind`` (ValueError in words)."""
    expected = WireValue.EXAMPLES[kind]
    try:
        if kind == "decimal":
            number = Decimal(text)
            if not number.is_finite():
                raise ValueError(text)
            return number
        if kind == "date" or (kind == "datetime" and len(text) == 10):
            return dt.date.fromisoformat(text)
        value = parse_timestamp(text)
    except (ValueError, ArithmeticError):
        raise ValueError(f"{text!r} is not {expected}") from None
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone: add one, e.g. {text}Z for UTC")
    return value


def _param_type(kind: str, enum: tuple[str, ...]) -> click.ParamType[Any]:
    if enum:
        return click.Choice(enum)
    if kind == "integer":
        return click.INT
    if kind == "boolean":
        return click.BOOL
    if kind in WireValue.EXAMPLES:
        return WireValue(kind)
    return click.STRING  # lists are comma-separated text


_KIND_HELP = {
    "date": "a date, YYYY-MM-DD",
    "datetime": "a date and time with its zone, e.g. 2026-01-31T09:00:00Z",
    "decimal": "a decimal number",
    "list": "comma-separated values",
    "boolean": "true or false",
}


def filter_options(op: Operation, skip: Iterable[str] = ()) -> list[click.Option]:
    """One option per query parameter of ``op`` (but paging and ``skip``); each option's dest is
    the wire name, so the values go to the request as they are."""
    options = []
    for name, spec in op.query.items():
        if name in PAGING or name in skip:
            continue
        help_text = (
            "Fields to fetch: comma-separated names, or all."
            if name == "attributes"
            else (
                f"Filter: {name}"
                + (f" ({_KIND_HELP[spec.kind]})" if spec.kind in _KIND_HELP else "")
            )
        )
        options.append(
            click.Option(
                [option_name(name), name],
                type=_param_type(spec.kind, spec.enum),
                required=spec.required,
                help=help_text,
            )
        )
    return options


class ResourceGroup(click.Group):
    """A group with one subcommand per resource having an operation of ``kind``, built lazily
    (building all of them would load every resource's table for each run)."""

    def __init__(self, *args: Any, kind: str, make: Callable[[str], click.Command], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._kind = kind
        self._make = make

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name.replace("_", "-") for name in resources(self._kind)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        resource = cmd_name.replace("-", "_")
        if find(resource, self._kind) is None:
            return None
        return self._make(resource)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if args and self.get_command(ctx, name) is None and not name.startswith("-"):
            known = ", ".join(self.list_commands(ctx))
            raise click.UsageError(
                f"no resource {name!r} can be used with `{self.name}`; one of: {known}", ctx
            )
        return super().resolve_command(ctx, args)
