"""A business's books kept in a database, incremental and exact: ``sage_accounting.sync``
(extra ``[sync]``: dlt with DuckDB and PostgreSQL).

    from sage_accounting import SageAccounting
    from sage_accounting.sync import sync

    client = SageAccounting(session=...)
    report = sync(client, to="sage.duckdb")                       # the lead business
    report = sync(client, to="postgresql://...", businesses="all",
                  resources=["contacts", "sales_invoices"])

Every list resource of the spec (or those named), of one business, several or all the login can
see, merged into tables keyed by (business_id, id), money as DECIMAL(38, 10), child tables for
lists of records (``sales_invoices__invoice_lines``, with ``business_id`` and ``parent_id``).
Cursors per (business, resource) in ``_sage_sync_cursors``, written only after the load. With
``leases=`` (a PostgreSQL URL) several workers on several hosts split the businesses: see
``_leases``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from .._runtime import ArgumentValueError, missing_extra
from ._business import BusinessResult, BusinessSync, load
from ._destination import Destination
from ._errors import DestinationError, LeaseLost, SyncDataError, SyncError
from ._progress import Progress
from ._tables import Table, all_tables, choose

if TYPE_CHECKING:
    from .. import SageAccounting

__all__ = [
    "DestinationError",
    "LeaseLost",
    "SyncDataError",
    "SyncError",
    "SyncReport",
    "Table",
    "all_tables",
    "businesses_of",
    "sync",
]

DEFAULT_RECONCILE_EVERY = dt.timedelta(days=1)
# Businesses loaded together without leases: dlt's fixed cost of a load (~1 s) paid once for
# them; a run killed mid-batch reads the batch again (nothing lost or doubled, only re-read).
BATCH = 10


@dataclass
class SyncReport:
    destination: str
    businesses: list[BusinessResult] = field(default_factory=list)

    @property
    def records(self) -> int:
        return sum(b.counters.records for b in self.businesses)

    @property
    def requests(self) -> int:
        return sum(b.counters.requests for b in self.businesses)


def businesses_of(client: SageAccounting, which: str | Sequence[str] | None) -> list[str]:
    """The business ids a sync covers: None (the client's business, else the lead), "all"
    (every business the login can see), or the ids given."""
    if which is None:
        if client.business_id:
            return [client.business_id]
        lead = client.businesses.get(key="lead")
        return [str(lead.id)]
    if which == "all":
        return [str(b.id) for b in client.businesses.list()]
    if isinstance(which, str):
        which = [which]
    ids = [b.strip() for b in which if b.strip()]
    if not ids:
        raise ArgumentValueError("businesses", "name at least one business id, or 'all'")
    return ids


def sync(
    client: SageAccounting,
    *,
    to: str | None = None,
    businesses: str | Sequence[str] | None = None,
    resources: Iterable[str] | None = None,
    dataset: str = "books",
    reconcile_every: dt.timedelta = DEFAULT_RECONCILE_EVERY,
    leases: str | None = None,
    worker: str | None = None,
    lease_seconds: float = 60.0,
    progress: IO[str] | None | bool = None,
) -> SyncReport:
    """Sync businesses into ``to`` (a DuckDB file, ``sage.duckdb`` by default, or a
    ``postgresql://`` URL). With ``leases`` (a PostgreSQL URL, often the same database),
    businesses are claimed one at a time with a lease other workers respect; see ``_leases``.
    ``progress``: a stream (stderr by default; False for none)."""
    try:  # loaded by the first load; without [sync], say which extra before anything is done
        import dlt  # noqa: F401
    except ModuleNotFoundError as exc:
        raise missing_extra("sage_accounting.sync", "sync", exc) from exc
    destination = Destination.parse(to, dataset)
    if leases is not None and destination.kind != "postgres":
        raise ArgumentValueError(  # a DuckDB file takes one writer at a time
            "leases", "workers splitting businesses need a PostgreSQL destination (--to)"
        )
    tables = choose(resources)
    ids = businesses_of(client, businesses)
    shown = None if progress is False else Progress(progress if progress is not True else None)
    report = SyncReport(str(destination))

    def runs(businesses: list[str], checkpoint: Any = lambda: None) -> None:
        batch = [
            BusinessSync(
                client,
                business,
                tables,
                destination,
                reconcile_every=reconcile_every,
                checkpoint=checkpoint,
                on_progress=shown.page if shown else lambda s, r: None,
            )
            for business in businesses
        ]
        load(batch, destination, credentials)
        for run in batch:
            report.businesses.append(run.result)
            if shown:
                shown.done(run, run.result)

    if leases is None:
        with destination.opened() as credentials:
            for start in range(0, len(ids), BATCH):
                runs(ids[start : start + BATCH])
        return report
    from ._leases import LeaseBoard

    with LeaseBoard(leases, worker=worker, seconds=lease_seconds) as board:
        board.offer(ids)
        for lease in board.claims(ids):
            with lease, destination.opened() as credentials:
                runs([lease.business_id], lease.check)
    return report
