"""The ``sage-accounting`` command group: every command, and errors as one line.

API commands build the SDK client from the environment or the stored login (``_config``); a
``SageError`` anywhere becomes ``error: <its message>`` on stderr with the exit code of its kind
(``_errors``). Resource commands are generated from the operations table (``_resources``).
"""

from __future__ import annotations

import datetime as dt
import sys
import threading
import webbrowser
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import click

from .. import __version__
from .._runtime import Operation, SageError, SyncPager
from .._runtime.wire import PAGE_SIZE_PARAMETER
from . import _config, _export, _plugins, _resources
from ._errors import CommandError, OneLineGroup
from ._output import FORMATS, print_one, print_records
from .exit_codes import EXIT_AUTH, EXIT_CODES_HELP, EXIT_USAGE

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .. import SageAccounting
    from .._runtime import SageModel

DEFAULT_REDIRECT_URI = "http://127.0.0.1:8400/callback"
T = TypeVar("T")
M = TypeVar("M", bound="BaseModel")


class SageGroup(OneLineGroup):
    """The main group: the other parts' commands added lazily, and errors made one line."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *_plugins.available_names()])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or _plugins.find(cmd_name)


@click.group(
    cls=SageGroup,
    help="Sage Business Cloud Accounting from the command line.\n\n"
    "Log in once (`sage-accounting login`), or set SAGE_ACCESS_TOKEN (and SAGE_BASE_URL for a "
    "sandbox). SAGE_BUSINESS_ID picks the business; `--business` overrides it.",
    epilog=EXIT_CODES_HELP,
)
@click.option(
    "--base-url",
    envvar="SAGE_BASE_URL",
    help="The API's base URL (default: Sage's, or the one saved at login). Env: SAGE_BASE_URL.",
)
@click.version_option(__version__, prog_name="sage-accounting")
@click.pass_context
def cli(ctx: click.Context, base_url: str | None) -> None:
    ctx.obj = {"base_url": base_url}


def _keep_base_url(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.find_root().obj["base_url"] = value


def base_url_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--base-url`` after the subcommand too (``sage-accounting list contacts --base-url ...``):
    the same setting as the main one, which it overrides."""
    return click.option(
        "--base-url",
        expose_value=False,
        callback=_keep_base_url,
        help="The API's base URL, as the main option (default: Sage's). Env: SAGE_BASE_URL.",
    )(f)


def business_option(f: Callable[..., Any]) -> Callable[..., Any]:
    f = base_url_option(f)
    return click.option(
        "--business",
        "-b",
        envvar="SAGE_BUSINESS_ID",
        help="Business id (default: the lead business). Env: SAGE_BUSINESS_ID.",
    )(f)


def format_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--format",
        "-f",
        "fmt",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="Output format. Money is printed exactly as Sage sent it.",
    )(f)


def client_for(business: str | None = None) -> SageAccounting:
    ctx = click.get_current_context()
    return _config.make_client(ctx.find_root().obj["base_url"], business)


def model_of(op: Operation) -> type[SageModel]:
    """The model of ``op``'s answer (its list item for a list), or ``SageModel`` when it has none."""
    from .. import models
    from .._runtime import SageModel

    model: type[SageModel] = getattr(models, op.model) if op.model else SageModel
    return model


def checked(call: Callable[[], T]) -> T:
    """The SDK checks arguments before any request: a wrong one is a usage error (exit 2)."""
    try:
        return call()
    except (TypeError, ValueError) as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None


# -- login ------------------------------------------------------------------------------------------


@cli.command()
@click.option("--client-id", envvar="SAGE_CLIENT_ID", help="Env: SAGE_CLIENT_ID.")
@click.option(
    "--client-secret",
    envvar="SAGE_CLIENT_SECRET",
    help="Env: SAGE_CLIENT_SECRET (prefer it: options show in the process list).",
)
@click.option(
    "--redirect-uri",
    envvar="SAGE_REDIRECT_URI",
    default=DEFAULT_REDIRECT_URI,
    show_default=True,
    help="Registered with your Sage app; must be http://127.0.0.1:PORT/... or localhost. "
    "Port 0 takes a free port. Env: SAGE_REDIRECT_URI.",
)
@click.option("--scope", type=click.Choice(["full_access", "readonly"]), default="full_access")
@click.option("--no-browser", is_flag=True, help="Print the URL only; do not open a browser.")
@click.option("--timeout", type=float, default=300.0, show_default=True, help="Seconds to wait.")
@click.option("--authorize-url", help="OAuth authorize endpoint (a sandbox's).")
@click.option("--token-url", help="OAuth token endpoint (a sandbox's).")
@click.option("--revoke-url", help="OAuth revoke endpoint (a sandbox's).")
@base_url_option
@click.pass_context
def login(
    ctx: click.Context,
    client_id: str | None,
    client_secret: str | None,
    redirect_uri: str,
    scope: Literal["full_access", "readonly"],
    no_browser: bool,
    timeout: float,
    authorize_url: str | None,
    token_url: str | None,
    revoke_url: str | None,
) -> None:
    """Authorize this computer with your Sage app (OAuth, PKCE) and keep the tokens."""
    from ._login import CallbackServer

    for name, value, variable in (
        ("--client-id", client_id, "SAGE_CLIENT_ID"),
        ("--client-secret", client_secret, "SAGE_CLIENT_SECRET"),
    ):
        if not value:
            raise CommandError(f"login needs {name} (or {variable} in the environment)", EXIT_USAGE)
    assert client_id and client_secret
    try:
        server = CallbackServer(redirect_uri)
    except ValueError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    except OSError as exc:
        raise CommandError(
            f"cannot listen for the callback on {redirect_uri}: {exc.strerror}"
        ) from None
    saved = _config.SavedApp(
        client_id=client_id,
        client_secret=client_secret,
        redirect_uri=server.redirect_uri,
        base_url=ctx.find_root().obj["base_url"],
        authorize_url=authorize_url,
        token_url=token_url,
        revoke_url=revoke_url,
    )
    app = saved.oauth_app()
    request = app.authorization_url(scope=scope)
    click.echo(f"Open this URL to authorize sage-accounting:\n\n  {request.url}\n", err=True)
    if not no_browser:  # in a thread: a browser command that waits must not block the callback
        threading.Thread(target=webbrowser.open, args=(request.url,), daemon=True).start()

    def complete(callback_url: str) -> str:  # while the browser waits for its page
        tokens = app.exchange_code(
            callback_url=callback_url,
            expected_state=request.state,
            code_verifier=request.code_verifier,
        )
        from .._runtime import FileTokenStore

        _config.make_config_dir()
        store = FileTokenStore(_config.tokens_path())
        with store.lock():
            store.save(tokens)
        _config.save_app(saved)
        return "Logged in: sage-accounting has your tokens."

    if server.wait(timeout, request.state, complete) is None:
        raise CommandError(f"no answer from the browser within {timeout:g} s", EXIT_AUTH)
    if server.ignored:
        click.echo(f"(ignored {server.ignored} callback(s) not from this login)", err=True)
    click.echo(f"Logged in; tokens kept in {_config.tokens_path()} (mode 0600).", err=True)


@cli.command()
def logout() -> None:
    """Revoke the stored refresh token and forget the login."""
    from .._runtime import FileTokenStore

    app = _config.load_app()
    store = FileTokenStore(_config.tokens_path())
    tokens = store.load()
    revoke_error: SageError | None = None
    if app is not None and tokens is not None and tokens.refresh_token:
        try:
            app.oauth_app().revoke(tokens.refresh_token)
        except SageError as exc:
            revoke_error = exc
    for path in (_config.tokens_path(), _config.app_path()):
        path.unlink(missing_ok=True)
    if revoke_error is not None:
        raise CommandError(
            f"the login is forgotten here, but Sage did not revoke it: {revoke_error}"
        )
    click.echo("Logged out." if tokens else "Not logged in.", err=True)


# -- who and which business -------------------------------------------------------------------------


@cli.command()
@format_option
@base_url_option
def whoami(fmt: str) -> None:
    """The user the token belongs to."""
    print_one(client_for().user.get(), fmt)


@cli.command()
@format_option
@base_url_option
def businesses(fmt: str) -> None:
    """The businesses the user can reach (use an id with --business)."""
    print_records(pages_of(client_for().businesses.list()), fmt, ["name"])


# -- any resource -----------------------------------------------------------------------------------


def pages_of(pager: SyncPager[M], limit: int | None = None) -> Iterator[list[M]]:
    """A pager's records page by page (each printed as it arrives), ``limit`` records at most."""
    left = limit
    for page in pager.pages():
        items = list(page.items if left is None else page.items[:left])
        yield items
        if left is not None:
            left -= len(items)
            if left <= 0:
                return


def _filters(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


def make_list(resource: str) -> click.Command:
    op = _resources.find(resource, "list")
    assert op is not None

    @business_option
    @format_option
    @click.option(
        "--limit", type=click.IntRange(1, sys.maxsize), help="Stop after this many records."
    )
    def command(business: str | None, fmt: str, limit: int | None, **values: Any) -> None:
        query = _filters(values)
        query[PAGE_SIZE_PARAMETER] = limit  # the page walk's size rule: at most Sage's 200
        client = client_for(business)
        pager = checked(lambda: client.paginate(op, model_of(op), query=query, options={}))
        preferred = [a for a in str(query.get("attributes") or "").split(",") if a != "all"]
        print_records(pages_of(pager, limit), fmt, preferred)

    command.__doc__ = f"List {resource} ({op.method} {op.path}); filters from the spec."
    return _with_filters(click.command(name=resource.replace("_", "-"))(command), op)


def make_get(resource: str) -> click.Command:
    op = _resources.find(resource, "get")
    assert op is not None
    keyed = "{key}" in op.path

    @business_option
    @format_option
    def command(business: str | None, fmt: str, **values: Any) -> None:
        key = values.pop("key", None)
        client = client_for(business)
        path, query = {"key": key} if keyed else None, _filters(values)
        checked(lambda: client.prepare(op, path=path, query=query, options={}))  # no request
        print_one(client.call(op, model_of(op), path=path, query=query, options={}), fmt)

    command.__doc__ = f"Get one of {resource} ({op.method} {op.path})."
    built = click.command(name=resource.replace("_", "-"))(command)
    if keyed:
        built.params.insert(0, click.Argument(["key"], metavar="ID"))
    return _with_filters(built, op)


def make_export(resource: str) -> click.Command:
    op = _resources.find(resource, "list")
    assert op is not None
    feed = _export.has_feed(op)

    @business_option
    @click.option(
        "--to",
        "target",
        required=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="FILE.csv or FILE.jsonl",
    )
    @click.option(
        "--since",
        help="Only what changed since this time (ISO 8601 with zone), appended to FILE.",
    )
    @click.option("--resume", is_flag=True, help="--since the cursor saved beside FILE.")
    @click.option("--progress/--no-progress", default=True, help="The progress bar on stderr.")
    def command(
        business: str | None,
        target: Path,
        since: str | None,
        resume: bool,
        progress: bool,
        **values: Any,
    ) -> None:
        if since and resume:
            raise CommandError("pass --since or --resume, not both", EXIT_USAGE)
        _export.file_format(target)
        _export.check_directory(target)
        query = _filters(values)
        since_time = None
        if resume:  # the same filters and attributes as the export the cursor ends
            since_time, saved_query = _export.read_cursor(target, resource, business)
            query = _export.resumed_query(target, query, saved_query)
        if since:
            since_time = _parse_since(since)
        query[PAGE_SIZE_PARAMETER] = None  # the page walk's (Sage's maximum)
        client = client_for(business)
        checked(lambda: client.prepare(op, query=query, options={}))  # no request
        summary = _export.run(
            client, op, model_of(op), target, query, since_time, business, progress
        )
        click.echo(summary, err=True)

    command.__doc__ = (
        f"Export every record of {resource} to a CSV or JSONL file, with a progress bar"
        + (", then the change cursor beside it (FILE.cursor) for --resume." if feed else ".")
    )
    built = click.command(name=resource.replace("_", "-"))(command)
    return _with_filters(built, op, skip=_export.FEED_PARAMETERS)


def _parse_since(text: str) -> dt.datetime:
    try:
        value = _resources.parse_value("datetime", text)
    except ValueError as exc:
        raise CommandError(f"--since {exc}", EXIT_USAGE) from None
    if not isinstance(value, dt.datetime):  # a date: its midnight, UTC
        value = dt.datetime.combine(value, dt.time(), dt.UTC)
    return value


def _with_filters(
    command: click.Command, op: Operation, skip: tuple[str, ...] = ()
) -> click.Command:
    command.params.extend(_resources.filter_options(op, skip))
    return command


for _kind, _name, _make, _help in (
    ("list", "list", make_list, "List any resource: `sage-accounting list contacts --help`."),
    ("get", "get", make_get, "Get one record: `sage-accounting get contacts ID`."),
    ("list", "export", make_export, "Export a resource to CSV or JSONL, resumably."),
):
    cli.add_command(_resources.ResourceGroup(name=_name, kind=_kind, make=_make, help=_help))
