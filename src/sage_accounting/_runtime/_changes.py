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
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from ._errors import ArgumentValueError, OutOfOrderError
from ._page import Page
from ._pagination import AsyncPager, SyncPager
from .wire import DELETED_SINCE, UPDATED_SINCE

if TYPE_CHECKING:
    from pydantic import BaseModel

T = TypeVar("T", bound="BaseModel")
PagerT = TypeVar("PagerT")


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


class ChangePoll(Generic[PagerT]):
    """One poll of a list's changes, for a caller that walks the pages itself (the database
    sync reads raw records, several pages in flight): the feed's state and decisions, no I/O.

    ``pagers`` makes the list's pager for a query (the client's ``paginate`` with the
    operation, item model and per-call options bound, or a pager of one's own): the poll knows
    nothing of resources. The steps, in this order::

        poll = ChangePoll(pagers, since, query, overlap)  # since None: everything
        for page in poll.upserts().pages():       # records created or updated since ``since``
            poll.saw(page)                        # Sage's clock and ``$total``, from each page
            ...
        deletions = poll.deletions()              # None when since is None
        ...
        cursor = poll.finish()                    # pass it as ``since`` next time

    ``ChangeFeed`` and ``AsyncChangeFeed`` are this poll, iterated."""

    def __init__(
        self,
        pagers: Callable[[dict[str, Any]], PagerT],
        since: dt.datetime | None,
        query: Mapping[str, Any],
        overlap: float,
    ) -> None:
        if since is not None and (since.tzinfo is None or since.utcoffset() is None):
            raise ArgumentValueError(
                "since", "must be a timezone-aware datetime (or None for everything)"
            )
        self._pagers = pagers
        self._since = since
        self._query = dict(query)
        self._overlap = dt.timedelta(seconds=overlap)
        self._cursor: dt.datetime | None = None
        self._started = False
        self._local_start: dt.datetime | None = None
        self._server_start: dt.datetime | None = None
        # ``$total`` of the upserts' first page, once fetched: for progress bars.
        self.upserts_total: int | None = None

    @property
    def cursor(self) -> dt.datetime:
        """Pass this as ``since`` next time. Known once the feed has been iterated to its end
        (``finish``); an ``OutOfOrderError`` before."""
        if self._cursor is None:
            raise OutOfOrderError("iterate the feed to its end before reading its cursor")
        return self._cursor

    def upserts(self) -> PagerT:
        """The pager of records created or updated since ``since``; the poll starts here (its
        clock is read now). Once per poll: an ``OutOfOrderError`` the second time."""
        if self._started:
            raise OutOfOrderError("a change feed is iterated once; start a new one with its cursor")
        self._started = True
        self._local_start = dt.datetime.now(dt.UTC)
        return self._pagers({**self._query, UPDATED_SINCE: self._since})

    def saw(self, page: Page[Any]) -> None:
        """Note a page of upserts: Sage's ``Date`` (the cursor takes the earlier clock) and the
        first page's ``$total`` (``upserts_total``)."""
        self._server_start = self._server_start or _server_time(page)
        if self.upserts_total is None:
            self.upserts_total = page.total

    def deletions(self) -> PagerT | None:
        """The pager of records deleted since ``since`` (None on a first sync: nothing to
        delete from an empty copy)."""
        if self._since is None:
            return None
        return self._pagers({**self._query, DELETED_SINCE: self._since})

    def finish(self) -> dt.datetime:
        """End the poll, once every page wanted was read: its cursor (also ``cursor``), the
        poll's start by the earlier clock, less ``overlap``. An ``OutOfOrderError`` before
        ``upserts``."""
        if self._local_start is None:
            raise OutOfOrderError("a change poll finishes after its upserts() were read")
        start = self._local_start
        if self._server_start is not None:
            start = min(start, self._server_start)
        self._cursor = start.replace(microsecond=0) - self._overlap
        return self._cursor

    def _upserted(self, page: Page[T]) -> list[Change[T]]:
        self.saw(page)
        return [Change("upsert", record) for record in page.items]


class ChangeFeed(ChangePoll[SyncPager[T]], Generic[T]):
    """A list's changes since a cursor, iterated (``resource.changes(since=...)``)."""

    def __iter__(self) -> Iterator[Change[T]]:
        for page in self.upserts().pages():
            yield from self._upserted(page)
        for record in self.deletions() or ():
            yield Change("delete", record)
        self.finish()


class AsyncChangeFeed(ChangePoll[AsyncPager[T]], Generic[T]):
    """``ChangeFeed`` for the async client (``async for change in feed``)."""

    async def __aiter__(self) -> AsyncIterator[Change[T]]:
        async for page in self.upserts().pages():
            for change in self._upserted(page):
                yield change
        deletions = self.deletions()
        if deletions is not None:
            async for record in deletions:
                yield Change("delete", record)
        self.finish()
