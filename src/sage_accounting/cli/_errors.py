"""The one place errors become one line on stderr, with an exit code of ``exit_codes``."""

from __future__ import annotations

import os
import sys
from typing import IO, Any

import click

from .._runtime import SageError, redact
from .exit_codes import (
    EXIT_AUTH,
    EXIT_CONNECTION,
    EXIT_INTERRUPTED,
    EXIT_MISSING_EXTRA,
    EXIT_SAGE_ERROR,
    EXIT_USAGE,
)


class CommandError(click.ClickException):
    """One line on stderr (``error: ...``) and an exit code of ``exit_codes``."""

    def __init__(
        self, message: str, exit_code: int = EXIT_SAGE_ERROR, *, argument: str | None = None
    ) -> None:
        # ``argument``: the name of the argument the message is about, put in front of it
        # unredacted ("client_secret: is required" is no credential's label and value).
        text = redact(message)
        super().__init__(text if argument is None else f"{argument}: {text}")
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
        problem = message.removeprefix(f"{error.argument}: ")
        return CommandError(problem, EXIT_USAGE, argument=error.argument)
    if isinstance(error, ReauthorizationRequired):
        return CommandError(f"{message} (run `sage-accounting login`)", EXIT_AUTH)
    if isinstance(error, (OAuthError, AuthenticationError, TokenStoreError)):
        return CommandError(message, EXIT_AUTH)
    if isinstance(error, APIConnectionError):
        return CommandError(message, EXIT_CONNECTION)
    return CommandError(message, EXIT_SAGE_ERROR)


def usage_error(exc: click.UsageError) -> CommandError:
    """Click's usage error (usage, hint and message on three lines) as our one line."""
    where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
    return CommandError(" ".join(exc.format_message().split()) + where, EXIT_USAGE)


class OneLineGroup(click.Group):
    """A group whose commands' errors are one line: the SDK's errors, usage errors, Ctrl-C."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            raise usage_error(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SageError as exc:
            raise from_sage_error(exc) from None
        except click.UsageError as exc:
            raise usage_error(exc) from None
        except KeyboardInterrupt:
            raise CommandError("interrupted", EXIT_INTERRUPTED) from None
        except BrokenPipeError:  # the reader stopped reading (`| head -1`): stop, quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # nothing more to flush at exit
            return None
