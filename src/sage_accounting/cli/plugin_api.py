"""What a command that another part of the package adds to ``sage-accounting`` (``agents``,
``audit``, ``mcp``, ``sandbox``, ``sync``; see ``_plugins.PLUGINS``) may use of the command line:
its error, its login and its client. Everything else in ``cli/`` is the command line's own.

- ``CommandError(message, exit_code)``: one line on stderr (``error: ...``, secrets redacted)
  and an exit code of ``exit_codes`` (a public module too: it imports nothing);
- ``make_client(base_url, business, quota=None, session=None)``: the client an API command
  uses (``SAGE_ACCESS_TOKEN``, else the stored login; ``session``: a session of one's own,
  e.g. on a shared token store), exit code 3 when there is neither;
- ``load_app()`` (a ``SavedApp`` or None) and ``tokens_path()``: the login ``sage-accounting
  login`` saved (the app, its OAuth endpoints and base URL; the token file);
- ``OneLineGroup``: a click group whose commands' errors are one line, as the main command's
  (for a part's own ``python -m`` entry point);
- ``grant_option``: the ``--grant NAME`` option of a command that takes ``--tokens URL`` (a
  shared token store), the same for every such command;
- ``bad_option(error)``: an ``ArgumentValueError`` whose ``.argument`` is an option's name
  (``--tokens``: what ``scale.token_store_at(url, grant, "--tokens")`` raises) as click's usage
  error for that option.

It imports click, as every such command does already (the plugins are imported only once click
is known to be installed: ``cli.main`` and ``_plugins``).
"""

from __future__ import annotations

import click

from .._runtime import ArgumentValueError
from ._config import SavedApp, load_app, make_client, tokens_path
from ._errors import CommandError, OneLineGroup


def bad_option(error: ArgumentValueError) -> click.BadParameter:
    """``error``, about the option ``error.argument``, as click's error for that option."""
    return click.BadParameter(
        str(error).removeprefix(f"{error.argument}: "), param_hint=error.argument
    )


def _named_grant(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    if not value.strip():
        raise click.BadParameter("must name the grant (e.g. its user), not be blank")
    return value


grant_option = click.option(
    "--grant",
    default="default",
    show_default=True,
    envvar="SAGE_TOKENS_GRANT",
    callback=_named_grant,
    help="The grant's name in the --tokens store. Env: SAGE_TOKENS_GRANT.",
)

__all__ = [
    "CommandError",
    "OneLineGroup",
    "SavedApp",
    "bad_option",
    "grant_option",
    "load_app",
    "make_client",
    "tokens_path",
]
