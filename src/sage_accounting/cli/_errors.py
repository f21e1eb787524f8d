"""The one place errors become one line on stderr, with an exit code of ``exit_codes``."""

from __future__ import annotations

from typing import IO, Any

import click

from .._runtime import redact
from .exit_codes import (
    EXIT_AUTH,
    EXIT_CONNECTION,
    EXIT_MISSING_EXTRA,
    EXIT_SAGE_ERROR,
    EXIT_USAGE,
)


class CommandError(click.ClickException):
    """One line on stderr (``error: ...``) and an exit code of ``exit_codes``."""

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
