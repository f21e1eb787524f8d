"""One business's sync: every chosen resource read from Sage and merged into the destination in
one dlt load, then its cursors committed.

Per table (see ``_tables.Strategy``):

- no cursor yet, or a ``full`` table: every record (``attributes=all``); the ids the database
  holds for this business that Sage no longer lists are deleted;
- a cursor: ``updated_or_created_since`` (inclusive) for what changed and, where the list takes
  it, ``deleted_since`` for what was deleted; every ``reconcile_every`` an id-only listing finds
  what was deleted where Sage has no ``deleted_since`` (and anything a shifting page skipped).

Rows are merged on (business_id, id): one business's record never replaces another's, and a
window read twice (a killed run, the cursor's overlap) leaves one row. A deletion is a row
flagged ``_sage_deleted`` (dlt's hard delete: the row and its child rows go). ``_sage_seq``
orders the rows of one load, so when a record comes twice the last one read wins.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .._runtime import SyncClient
from .._runtime._changes import _Feed
from . import _cursors
from ._destination import Destination, short_hash
from ._errors import DestinationError
from ._fetch import PAGE_SIZE, Counters, RawPages
from ._tables import Table, shaped

DELETED = "_sage_deleted"
SEQ = "_sage_seq"
OVERLAP_SECONDS = 60.0
BOOKKEEPING_COLUMNS = {
    DELETED: {"name": DELETED, "data_type": "bool", "hard_delete": True},
    SEQ: {"name": SEQ, "data_type": "bigint", "dedup_sort": "desc"},
}


@dataclass
class BusinessResult:
    business_id: str
    counters: Counters = field(default_factory=Counters)
    tables: dict[str, int] = field(default_factory=dict)  # records loaded per resource
    skipped: dict[str, str] = field(default_factory=dict)  # resource -> why (a 403, a 404)
    seconds: float = 0.0


class _Pass:
    """One table's reading in one run: its rows, then (once read to the end) its new cursor."""

    def __init__(
        self,
        sync: BusinessSync,
        table: Table,
        cursor: _cursors.Cursor | None,
        existing: set[str] | None,
    ) -> None:
        self.sync, self.table, self.cursor, self.existing = sync, table, cursor, existing
        self.new_cursor: _cursors.Cursor | None = None
        self.loaded = 0

    def least_requests(self) -> int:
        """The fewest requests this table's pass can take: one page of changes (or of
        everything), one of deletions where it reads them, one of ids where it reconciles."""
        incremental = self.cursor is not None and self.table.strategy != "full"
        deletions = incremental and self.table.strategy == "feed"
        return 1 + int(deletions) + int(incremental and self.existing is not None)

    def _pages(self, query: dict[str, Any]) -> RawPages:
        return RawPages(self.sync.client, self.table, query, self.sync.result.counters)

    def rows(self) -> Iterator[list[dict[str, Any]]]:
        """The rows in lists of up to a page: dlt handles a list as one item (a row at a time
        cost as much again as the rest of its extract step)."""
        from .._runtime import NotFoundError, PermissionDeniedError

        batch: list[dict[str, Any]] = []
        try:
            for row in self._rows():
                batch.append(row)
                if len(batch) >= PAGE_SIZE:
                    yield batch
                    batch = []
            if batch:
                yield batch
        except (NotFoundError, PermissionDeniedError) as exc:
            # Not in this business's region or plan, or not for this user's role: said, not fatal.
            self.sync.result.skipped[self.table.resource] = str(exc)

    def _rows(self) -> Iterator[dict[str, Any]]:
        table, sync = self.table, self.sync
        incremental = self.cursor is not None and table.strategy != "full"
        since = self.cursor.since if incremental and self.cursor else None
        feed: _Feed[Any, RawPages] = _Feed(
            self._pages, since, {"attributes": "all"}, OVERLAP_SECONDS
        )
        business, shape, resource = sync.business, table.shape, table.resource
        seen: set[str] = set()
        deleted: set[str] = set()
        for page in feed._upserts().pages():
            sync.checkpoint()
            feed._upserted(page)
            for raw in page.items:
                record_id = raw.get("id")
                where = f"{resource} {record_id} of business {business}"
                seen.add(str(record_id))
                yield self._numbered(shaped(raw, shape, business, where))
            sync.progress(resource)
        if incremental and table.strategy == "feed":
            deletions = feed._deletions()
            assert deletions is not None
            for page in deletions.pages():
                sync.checkpoint()
                for raw in page.items:
                    seen.discard(str(raw["id"]))
                    deleted.add(str(raw["id"]))
                    yield self._deletion(str(raw["id"]))
                sync.progress(resource)
        reconciled_at = self.cursor.reconciled_at if self.cursor else None
        if self.existing is not None:
            listed = seen if not incremental else self._listed_ids()
            for gone in sorted(self.existing - listed - deleted):
                yield self._deletion(gone)
            if incremental:
                yield from self._fetch_missing(listed - self.existing - seen)
            reconciled_at = dt.datetime.now(dt.UTC)
        feed._finish()
        self.new_cursor = _cursors.Cursor(
            business, resource, feed.cursor, reconciled_at, self.loaded
        )

    def _listed_ids(self) -> set[str]:
        """Every id Sage lists now (no attributes: the lightest listing there is)."""
        ids: set[str] = set()
        for page in self._pages({}).pages():
            self.sync.checkpoint()
            ids.update(str(item["id"]) for item in page.items)
        return ids

    def _fetch_missing(self, missing: set[str]) -> Iterator[dict[str, Any]]:
        """Records Sage has that the database lacks (a page that shifted under a past run)."""
        if not missing:
            return
        pages = self._pages({"attributes": "all"})
        business, resource = self.sync.business, self.table.resource
        if self.table.get is None or len(missing) > PAGE_SIZE:
            wanted = missing  # cheaper to read the whole list again than one by one
            for page in pages.pages():
                for raw in page.items:
                    if str(raw.get("id")) in wanted:
                        where = f"{resource} {raw.get('id')} of business {business}"
                        yield self._numbered(shaped(raw, self.table.shape, business, where))
            return
        for record_id in sorted(missing):
            raw = pages._one(record_id)
            where = f"{resource} {record_id} of business {business}"
            yield self._numbered(shaped(raw, self.table.shape, business, where))

    def _numbered(self, row: dict[str, Any]) -> dict[str, Any]:
        self.loaded += 1
        self.sync.result.counters.records += 1
        row[SEQ] = self.sync.next_seq()
        return row

    def _deletion(self, record_id: str) -> dict[str, Any]:
        self.loaded += 1
        self.sync.result.counters.deleted += 1
        return {"business_id": self.sync.business, "id": record_id, DELETED: True,
                SEQ: self.sync.next_seq()}  # fmt: skip


class BusinessSync:
    """Sync one business into the destination (``run()``)."""

    def __init__(
        self,
        client: SyncClient,
        business: str,
        tables: list[Table],
        destination: Destination,
        *,
        reconcile_every: dt.timedelta,
        checkpoint: Callable[[], None] = lambda: None,
        on_progress: Callable[[BusinessSync, str], None] = lambda sync, resource: None,
    ) -> None:
        self.client = client.with_business(business)
        self.business = business
        self.tables = tables
        self.destination = destination
        self.reconcile_every = reconcile_every
        self.checkpoint = checkpoint
        self._on_progress = on_progress
        self.result = BusinessResult(business)
        self._seq = 0

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def progress(self, resource: str) -> None:
        self._on_progress(self, resource)

    def _existing_ids(self, sql: Any, table: Table) -> set[str]:
        name = sql.make_qualified_table_name(table.resource)
        try:
            rows = sql.execute_sql(f"SELECT id FROM {name} WHERE business_id = %s", self.business)
        except Exception:  # not created yet: nothing stored
            return set()
        return {str(row[0]) for row in rows or []}

    def _needs_listing(self, table: Table, cursor: _cursors.Cursor | None) -> bool:
        if cursor is None or table.strategy == "full":
            return True
        done = cursor.reconciled_at
        return done is None or dt.datetime.now(dt.UTC) - done >= self.reconcile_every

    def run(self) -> BusinessResult:
        import time

        import dlt

        started = time.monotonic()
        workdir = tempfile.mkdtemp(prefix="sage-sync-")
        try:
            pipeline = dlt.pipeline(
                pipeline_name=f"sage_{short_hash(self.business)}",
                destination=self.destination.factory(short_hash(self.business)),
                dataset_name=self.destination.dataset,
                pipelines_dir=workdir,
            )
            try:
                with pipeline.sql_client() as sql:
                    cursors = _cursors.read(sql, self.business)
                    passes = []
                    for table in self.tables:
                        cursor = cursors.get(table.resource)
                        existing = (
                            self._existing_ids(sql, table)
                            if self._needs_listing(table, cursor)
                            else None
                        )
                        passes.append(_Pass(self, table, cursor, existing))
            except Exception as exc:
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                raise DestinationError(
                    f"cannot read the sync's state in {self.destination}: {exc}"
                ) from exc
            # The day's budget is checked before the business's first request of data: a sync
            # that cannot finish today does not start (DailyQuotaExceededError).
            self.client.quota.require(
                sum(p.least_requests() for p in passes),
                what=f"the sync of business {self.business}",
            )
            resources = [self._resource(p) for p in passes]
            self._load(pipeline, resources)
            self.checkpoint()  # a worker that lost its lease does not move the cursors
            done = [p.new_cursor for p in passes if p.new_cursor is not None]
            try:
                with pipeline.sql_client() as sql:
                    _cursors.write(sql, done)
            except Exception as exc:
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                raise DestinationError(  # the data is loaded; the next run reads it again
                    f"cannot write the cursors of business {self.business} in "
                    f"{self.destination}: {exc}"
                ) from exc
            self.result.tables = {p.table.resource: p.loaded for p in passes}
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        self.result.seconds = time.monotonic() - started
        return self.result

    def _resource(self, one: _Pass) -> Any:
        import dlt

        table = one.table
        resource: Any = dlt.resource  # its overloads do not take our hint dicts as typed
        return resource(
            one.rows(),
            name=table.resource,
            table_name=table.resource,
            write_disposition={"disposition": "merge", "strategy": "delete-insert"},
            primary_key=("business_id", "id"),
            columns={**table.columns(), **BOOKKEEPING_COLUMNS},
            nested_hints=table.nested_hints(),
        )

    def _load(self, pipeline: Any, resources: list[Any]) -> None:
        """Extract, normalize and load; a load that fails on a table another worker created at
        the same moment is tried again (dlt then sees the table and only adds what is missing)."""
        from dlt.pipeline.exceptions import PipelineStepFailed

        fmt = self.destination.file_format
        try:
            pipeline.extract(resources, **({"loader_file_format": fmt} if fmt else {}))
        except PipelineStepFailed as exc:
            raise _cause(exc) from None
        try:
            pipeline.normalize()
        except PipelineStepFailed as exc:
            raise _cause(exc) from None
        for attempt in range(3):
            try:
                pipeline.load()
                return
            except PipelineStepFailed as exc:
                if isinstance(_cause(exc), KeyboardInterrupt):
                    raise KeyboardInterrupt from None
                if attempt == 2:
                    raise DestinationError(
                        f"loading business {self.business} into {self.destination} failed: "
                        f"{exc.exception}"
                    ) from exc


def _cause(exc: BaseException) -> BaseException:
    """What failed inside dlt's extract step: our own error (a Sage error, a lost lease, a
    value that cannot be stored) as itself, anything else as dlt raised it."""
    from .._runtime import SageError

    ours = (SageError, KeyboardInterrupt)  # Ctrl-C in a step is still Ctrl-C
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ours):
            return seen
        inner = getattr(seen, "exception", None)
        if isinstance(inner, ours):
            return inner
        seen = seen.__cause__ or seen.__context__
    return exc
