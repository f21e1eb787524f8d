"""Exit codes, and the one place errors become one line on stderr.

  0  success
  1  Sage answered with an error (4xx, 5xx), or another SDK error
  2  usage: an unknown resource, option or value (before any request)
  3  authorization: not logged in, the login expired or was revoked, the OAuth flow failed
  4  Sage could not be reached (connection refused, timeout)
  5  a needed extra is not installed
130  interrupted (Ctrl-C)
"""

from __future__ import annotations

from typing import IO, Any

import click

from .._runtime._redact import redact

EXIT_SAGE_ERROR = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_CONNECTION = 4
EXIT_MISSING_EXTRA = 5
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = (
    "Exit codes: 0 success; 1 Sage answered with an error; 2 usage error; 3 not logged in or "
    "authorization failed; 4 Sage could not be reached; 5 a needed extra is not installed; "
    "130 interrupted."
)


class CommandError(click.ClickException):
    """One line on stderr (``error: ...``) and an exit code from the table above."""

    def __init__(self, message: str, exit_code: int = EXIT_SAGE_ERROR) -> None:
        super().__init__(redact(message))
        self.exit_code = exit_code  # type: ignore[misc]  # click declares it on the class

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class NotLoggedIn(CommandError):
    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_AUTH)


def from_sage_error(error: Exception) -> CommandError:
    """The SDK's error as one line (its message names the cause and the request id)."""
    from .._runtime import (
        APIConnectionError,
        AuthenticationError,
        MissingExtraError,
        OAuthError,
        ReauthorizationRequired,
        SageArgumentError,
        TokenStoreError,
    )

    message = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, MissingExtraError):
        return CommandError(message, EXIT_MISSING_EXTRA)
    if isinstance(error, SageArgumentError):  # refused before any request
        return CommandError(message, EXIT_USAGE)
    if isinstance(error, ReauthorizationRequired):
        return CommandError(f"{message} (run `sage-accounting login`)", EXIT_AUTH)
    if isinstance(error, (OAuthError, AuthenticationError, TokenStoreError)):
        return CommandError(message, EXIT_AUTH)
    if isinstance(error, APIConnectionError):
        return CommandError(message, EXIT_CONNECTION)
    return CommandError(message, EXIT_SAGE_ERROR)
