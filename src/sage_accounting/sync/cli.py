"""``sage-accounting sync``: the click command behind the CLI's ``sync`` subcommand (the
``[sync]`` extra)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
from typing import TYPE_CHECKING

import click

if importlib.util.find_spec("dlt") is None:  # the CLI then offers `sync` with the install hint
    raise ModuleNotFoundError("No module named 'dlt'", name="dlt")
# dlt's warnings (a column that got only nulls in one load) are noise on a user's terminal; its
# errors still show. A user's own RUNTIME__LOG_LEVEL wins.
os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")

from ..cli import plugin_api
from ..cli.exit_codes import EXIT_AUTH, EXIT_USAGE

if TYPE_CHECKING:
    from .. import SageAccounting
    from .._runtime import OAuthSession, TokenStore
from . import DEFAULT_RECONCILE_EVERY
from . import sync as run_sync


@click.command("sync")
@click.option(
    "--to",
    "to",
    metavar="URL",
    help="A DuckDB file (default: sage.duckdb) or postgresql://user:password@host:port/db. "
    "Env: SAGE_SYNC_TO.",
    envvar="SAGE_SYNC_TO",
)
@click.option(
    "--business",
    "-b",
    "business",
    multiple=True,
    help="A business id (repeat for several); default: the lead business. Env: SAGE_BUSINESS_ID.",
)
@click.option("--all-businesses", is_flag=True, help="Every business the login can see.")
@click.option(
    "--resources",
    "-r",
    help="Comma-separated list resources (default: every list resource of the spec).",
)
@click.option("--dataset", default="books", show_default=True, help="Schema / dataset name.")
@click.option(
    "--reconcile-hours",
    type=click.FloatRange(min=0),
    default=DEFAULT_RECONCILE_EVERY.total_seconds() / 3600,
    show_default=True,
    help="How often an id-only listing looks for deletions Sage does not report.",
)
@click.option(
    "--leases",
    metavar="URL",
    envvar="SAGE_SYNC_LEASES",
    help="PostgreSQL URL for worker leases: several workers split the businesses. "
    "Env: SAGE_SYNC_LEASES.",
)
@click.option("--worker", help="This worker's name in the leases (default: host:pid).")
@click.option(
    "--lease-seconds",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    help="A lease not renewed for this long is taken over by another worker.",
)
@click.option(
    "--quota",
    "quota_url",
    metavar="URL",
    envvar="SAGE_QUOTA_URL",
    help="Share Sage's limits (per business and app, per minute and day) with every process "
    "using the same ledger: redis://host/0 or postgresql+psycopg://... (the [scale] extra). "
    "Default: counted in this process. Env: SAGE_QUOTA_URL.",
)
@click.option(
    "--tokens",
    "tokens_url",
    metavar="URL",
    envvar="SAGE_TOKENS_URL",
    help="Take the login's tokens from a store every worker shares, so that workers on several "
    "hosts refresh one grant exactly once: redis://host/0 or postgresql+psycopg://... / "
    "sqlite:///path (the [scale] extra). The app (client id and secret) is this machine's "
    "`sage-accounting login`, or SAGE_CLIENT_ID/SAGE_CLIENT_SECRET. Env: SAGE_TOKENS_URL.",
)
@plugin_api.grant_option
@click.option(
    "--tokens-from-login",
    is_flag=True,
    help="Move this machine's login into the --tokens store first (once, when the store holds "
    "none for the grant): the local copy is renamed, as one grant refreshed in two places dies.",
)
@click.option("--progress/--no-progress", default=True, help="The progress line on stderr.")
def sync(
    to: str | None,
    business: tuple[str, ...],
    all_businesses: bool,
    resources: str | None,
    dataset: str,
    reconcile_hours: float,
    leases: str | None,
    worker: str | None,
    lease_seconds: float,
    quota_url: str | None,
    tokens_url: str | None,
    grant: str,
    tokens_from_login: bool,
    progress: bool,
) -> None:
    """Keep businesses' books in a database: every list resource, incrementally, exactly."""
    if all_businesses and business:
        raise click.UsageError("pass --business or --all-businesses, not both")
    if tokens_from_login and not tokens_url:
        raise click.UsageError("--tokens-from-login needs --tokens URL")
    session = None
    if tokens_url:
        if os.environ.get("SAGE_ACCESS_TOKEN"):
            raise click.UsageError("pass --tokens or set SAGE_ACCESS_TOKEN, not both")
        session = _shared_session(tokens_url, grant, tokens_from_login)
    chosen: str | list[str] | None = "all" if all_businesses else list(business) or None
    if chosen is None and os.environ.get("SAGE_BUSINESS_ID"):
        chosen = [os.environ["SAGE_BUSINESS_ID"]]
    report = run_sync(
        _client(quota_url, session),
        to=to,
        businesses=chosen,
        resources=resources.split(",") if resources else None,
        dataset=dataset,
        reconcile_every=dt.timedelta(hours=reconcile_hours),
        leases=leases,
        worker=worker,
        lease_seconds=lease_seconds,
        progress=None if progress else False,
    )
    click.echo(
        f"synced {len(report.businesses)} business{'' if len(report.businesses) == 1 else 'es'}, {report.records:,} records, "
        f"{report.requests:,} requests into {report.destination}",
        err=True,
    )


def _shared_session(url: str, grant: str, from_login: bool) -> OAuthSession:
    """An ``OAuthSession`` on the shared store at ``url`` (tokens encrypted with the Fernet key
    in SAGE_TOKENS_KEY when it is set); the app is the saved login's, else the environment's."""
    from .._runtime import ArgumentValueError, OAuthApp, OAuthSession
    from ..scale import token_store_at  # MissingExtraError: exit 5

    try:
        store = token_store_at(url, grant, "--tokens")
    except ArgumentValueError as exc:
        raise plugin_api.bad_option(exc) from None
    saved = plugin_api.load_app()
    app = saved.oauth_app() if saved else OAuthApp()
    if from_login:
        _move_login(store)
    elif store.load() is None:  # not logged in: exit 3
        raise plugin_api.CommandError(
            f"{store!r} holds no tokens for grant {grant!r}: run once with --tokens-from-login "
            "on a machine that is logged in (`sage-accounting login`)",
            EXIT_AUTH,
        )
    return OAuthSession(app, store)


def _move_login(store: TokenStore) -> None:
    from .._runtime import FileTokenStore

    local = plugin_api.tokens_path()
    tokens = FileTokenStore(local).load() if local.exists() else None
    if tokens is None:
        raise plugin_api.CommandError(
            "not logged in here: run `sage-accounting login` first", EXIT_AUTH
        )
    if store.load() is not None:
        raise plugin_api.CommandError(
            f"{store!r} already holds tokens for this grant: drop --tokens-from-login", EXIT_USAGE
        )
    store.save(tokens)
    local.rename(local.with_name(local.name + ".moved"))  # never refreshed here again
    click.echo(f"moved the login's tokens into {store!r}", err=True)


def _client(quota_url: str | None, session: OAuthSession | None = None) -> SageAccounting:
    """The command line's client; with ``--quota``, counting against the shared ledger; with
    ``--tokens``, on the shared store's session."""
    quota = None
    if quota_url:
        from .. import Quota
        from ..scale import quota_backend_at  # MissingExtraError: exit 5

        quota = Quota(quota_backend_at(quota_url, "--quota"))
    base_url = click.get_current_context().find_root().obj["base_url"]
    return plugin_api.make_client(base_url, None, quota, session)
