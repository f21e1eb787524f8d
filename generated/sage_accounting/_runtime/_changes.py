"""Polling for changes: Sage has no webhooks, lists take ``updated_or_created_since``
(inclusive) and ``deleted_since`` (exclusive).

    feed = client.contacts.changes(since=cursor)   # cursor None: everything, to start a sync
    for change in feed:
        if change.kind == "upsert": save(change.record)
        else: delete(change.id)
    cursor = feed.cursor                           # store it; pass it as since next time

The cursor is the time the poll started, by the earlier of this machine's clock and Sage's
``Date`` header, less ``overlap`` seconds (default 60, for clock skew and the header's one-second
resolution). Anything changed after the poll's queries ran is therefore at or after the next
``since``: nothing is missed, at the cost of some changes coming twice (apply them idempotently).
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ._options import RequestOptions
    from ._pagination import AsyncPager, Page, SyncPager
    from ._resource import AsyncAPIResource, SyncAPIResource

T = TypeVar("T", bound="BaseModel")


@dataclass(frozen=True)
class Change(Generic[T]):
    kind: Literal["upsert", "delete"]
    record: T

    @property
    def id(self) -> str | None:
        return getattr(self.record, "id", None)


def _server_time(page: Page[Any]) -> dt.datetime | None:
    if not page.date:
        return None
    try:
        return email.utils.parsedate_to_datetime(page.date).astimezone(dt.UTC)
    except (TypeError, ValueError):
        return None


class _Feed(Generic[T]):
    def __init__(
        self,
        operation_id: str,
        item: type[T],
        since: dt.datetime | None,
        query: Mapping[str, Any],
        overlap: float,
        options: RequestOptions,
    ) -> None:
        if since is not None and (since.tzinfo is None or since.utcoffset() is None):
            raise ValueError("since must be a timezone-aware datetime (or None for everything)")
        self._operation_id = operation_id
        self._item = item
        self._since = since
        self._query = dict(query)
        self._overlap = dt.timedelta(seconds=overlap)
        self._options = options
        self._cursor: dt.datetime | None = None
        self._started = False
        # ``$total`` of the upserts' first page, once fetched: for progress bars.
        self.upserts_total: int | None = None

    @property
    def cursor(self) -> dt.datetime:
        """Pass this as ``since`` next time. Known once the feed has been iterated to its end."""
        if self._cursor is None:
            raise RuntimeError("iterate the feed to its end before reading its cursor")
        return self._cursor

    def _begin(self) -> dt.datetime:
        if self._started:
            raise RuntimeError("a change feed is iterated once; start a new one with its cursor")
        self._started = True
        return dt.datetime.now(dt.UTC)

    def _upserts_query(self) -> dict[str, Any]:
        return {**self._query, "updated_or_created_since": self._since}

    def _deletions_query(self) -> dict[str, Any]:
        return {**self._query, "deleted_since": self._since}

    def _finish(self, local_start: dt.datetime, server_start: dt.datetime | None) -> None:
        start = min(local_start, server_start) if server_start else local_start
        self._cursor = start.replace(microsecond=0) - self._overlap


class ChangeFeed(_Feed[T]):
    def __init__(self, resource: SyncAPIResource, *args: Any) -> None:
        super().__init__(*args)
        self._resource = resource

    def _pager(self, query: dict[str, Any]) -> SyncPager[T]:
        return self._resource._list(
            self._operation_id, item=self._item, query=query, options=self._options
        )

    def __iter__(self) -> Iterator[Change[T]]:
        local_start = self._begin()
        server_start = None
        for page in self._pager(self._upserts_query()).pages():
            server_start = server_start or _server_time(page)
            if self.upserts_total is None:
                self.upserts_total = page.total
            for record in page.items:
                yield Change("upsert", record)
        if self._since is not None:
            for record in self._pager(self._deletions_query()):
                yield Change("delete", record)
        self._finish(local_start, server_start)


class AsyncChangeFeed(_Feed[T]):
    def __init__(self, resource: AsyncAPIResource, *args: Any) -> None:
        super().__init__(*args)
        self._resource = resource

    def _pager(self, query: dict[str, Any]) -> AsyncPager[T]:
        return self._resource._list(
            self._operation_id, item=self._item, query=query, options=self._options
        )

    async def __aiter__(self) -> AsyncIterator[Change[T]]:
        local_start = self._begin()
        server_start = None
        async for page in self._pager(self._upserts_query()).pages():
            server_start = server_start or _server_time(page)
            if self.upserts_total is None:
                self.upserts_total = page.total
            for record in page.items:
                yield Change("upsert", record)
        if self._since is not None:
            async for record in self._pager(self._deletions_query()):
                yield Change("delete", record)
        self._finish(local_start, server_start)
