"""Commands other parts of the package add to ``sage-accounting``, imported only when used.

Each plugin is a module and an attribute (a click command, or a list of them). A plugin whose
module is absent from this installation is simply not offered; one whose module is present but
needs an extra that is missing is offered as a command that says which extra to install (an
ImportError of anything else is a bug and is raised).
"""

from __future__ import annotations

import importlib
from typing import NamedTuple

import click

from ._errors import CommandError
from .exit_codes import EXIT_MISSING_EXTRA, missing_extra


class Plugin(NamedTuple):
    module: str
    attribute: str
    names: tuple[str, ...]  # the commands it brings (for --help, without importing it)
    extra: str  # what `pip install 'sage-accounting[EXTRA]'` adds for it


PLUGINS = (
    Plugin("sage_accounting.testing.cli", "sandbox", ("sandbox",), "cli"),
    Plugin("sage_accounting.agents.cli", "COMMANDS", ("agents", "audit", "mcp"), "agents"),
    Plugin("sage_accounting.sync.cli", "sync", ("sync",), "sync"),
)


def _own_modules(module: str) -> set[str]:
    """``a.b.c`` -> {"a.b", "a.b.c"}: the plugin's package and module (not ``sage_accounting``)."""
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(2, len(parts) + 1)}


def load(plugin: Plugin) -> list[click.Command] | None:
    """The plugin's commands; None when its module is not in this installation."""
    try:
        module = importlib.import_module(plugin.module)
    except ModuleNotFoundError as exc:
        if exc.name in _own_modules(plugin.module):
            return None
        return [_needs_extra(name, plugin.extra, exc.name or "?") for name in plugin.names]
    value = getattr(module, plugin.attribute)
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _needs_extra(name: str, extra: str, missing: str) -> click.Command:
    @click.command(
        name=name,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        add_help_option=False,
        help=f"(needs the [{extra}] extra: pip install 'sage-accounting[{extra}]')",
    )
    def command() -> None:
        raise CommandError(missing_extra(f"`{name}`", extra, missing), EXIT_MISSING_EXTRA)

    return command


def find(name: str) -> click.Command | None:
    for plugin in PLUGINS:
        if name in plugin.names:
            for command in load(plugin) or []:
                if command.name == name:
                    return command
    return None


def available_names() -> list[str]:
    names: list[str] = []
    for plugin in PLUGINS:
        commands = load(plugin)
        if commands:
            names.extend(c.name for c in commands if c.name)
    return names
