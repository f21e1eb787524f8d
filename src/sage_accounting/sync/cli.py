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

from ..cli import _config

if TYPE_CHECKING:
    from .. import SageAccounting
    from .._runtime import QuotaBackend
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
    progress: bool,
) -> None:
    """Keep businesses' books in a database: every list resource, incrementally, exactly."""
    if all_businesses and business:
        raise click.UsageError("pass --business or --all-businesses, not both")
    chosen: str | list[str] | None = "all" if all_businesses else list(business) or None
    if chosen is None and os.environ.get("SAGE_BUSINESS_ID"):
        chosen = [os.environ["SAGE_BUSINESS_ID"]]
    report = run_sync(
        _client(quota_url),
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


def _client(quota_url: str | None) -> SageAccounting:
    """The command line's client; with ``--quota``, counting against the shared ledger."""
    quota = None
    if quota_url:
        from .. import Quota

        try:
            from ..scale import RedisQuotaBackend, SQLQuotaBackend
        except ImportError as exc:
            raise ModuleNotFoundError(str(exc), name=exc.name) from None
        backend: QuotaBackend = (
            RedisQuotaBackend(quota_url)
            if quota_url.startswith(("redis://", "rediss://"))
            else SQLQuotaBackend(quota_url)
        )
        quota = Quota(backend)
    base_url = click.get_current_context().find_root().obj["base_url"]
    return _config.make_client(base_url, None, quota)
