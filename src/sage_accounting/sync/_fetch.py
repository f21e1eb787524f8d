"""Reading a list resource as raw records (JSON objects, numbers as ``Decimal``), page by page,
with the fallback a production client of Sage needs for heavy pages.

A page asked with ``attributes`` can fail at Sage with a 5xx or its 45-second 504 where the same
records in smaller pieces go through. When a page of ``PAGE_SIZE`` still fails after the SDK's
own retries, its records are read as ``SMALL_PAGE`` pages; a small page that fails too is
listed without ``attributes`` (ids only: light) and each record is then read on its own with
the resource's GET (or as a page of one where there is no GET). Every fallback is counted and
reported; a record that fails on its own too is an error, never skipped.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .._runtime import (
    APIConnectionError,
    InternalServerError,
    Page,
    PageWalk,
    SyncClient,
    loads,
    page_number,
    page_of_body,
    wire,
    with_page_size,
)
from ._tables import Table

PAGE_SIZE = wire.MAX_PAGE_SIZE
SMALL_PAGE = 20  # divides PAGE_SIZE: a failed page is exactly PAGE_SIZE // SMALL_PAGE small ones
AHEAD = 4  # pages of one list in flight at once (Sage takes 150 per app; the ledger meters)
HEAVY = (InternalServerError, APIConnectionError)  # APITimeoutError is an APIConnectionError


@dataclass
class Counters:
    """What a run has done so far (for the progress line and the report)."""

    records: int = 0
    deleted: int = 0
    pages: int = 0
    requests: int = 0
    fallbacks: list[str] = field(default_factory=list)


class RawPages:
    """The pages of one list query: ``Page`` objects whose items are raw dicts."""

    def __init__(
        self, client: SyncClient, table: Table, query: dict[str, Any], counters: Counters
    ) -> None:
        self._client = client
        self._table = table
        self._query = {k: v for k, v in query.items() if v is not None}
        self._counters = counters

    def _query_of(self, number: int, size: int, query: dict[str, Any]) -> dict[str, Any]:
        asked = with_page_size(self._table.op, {**query, wire.PAGE_SIZE_PARAMETER: size})
        return {**asked, wire.PAGE_PARAMETER: number}

    def _get(self, number: int, size: int, query: dict[str, Any]) -> Page[Any]:
        request = self._client.prepare(
            self._table.op, query=self._query_of(number, size, query), options={}
        )
        self._counters.requests += 1
        response = self._client.send(request)
        return page_of_body(response, loads(response.content))

    def _one(self, record_id: str) -> dict[str, Any]:
        get = self._table.get
        if get is None:
            raise RuntimeError("no GET")  # not reached: _ids_then_one checks
        self._counters.requests += 1
        response = self._client.send(self._client.prepare(get, path={"key": record_id}, options={}))
        record: dict[str, Any] = loads(response.content)
        return record

    def _ids_then_one(self, number: int, size: int) -> Page[Any]:
        """The records of a failed small page one by one."""
        light = {k: v for k, v in self._query.items() if k != "attributes"}
        listed = self._get(number, size, light)
        if self._table.get is not None:
            items = [self._one(str(item["id"])) for item in listed.items]
        else:
            first = (number - 1) * size + 1
            items = [
                record
                for index in range(first, first + len(listed.items))
                for record in self._get(index, 1, self._query).items
            ]
        self._counters.fallbacks.append(
            f"{self._table.resource}: page {number} of {size} failed, read {len(items)} "
            "records one by one"
        )
        return Page(items, listed.total, number, size, listed.next, None, listed.date)

    def _small(self, number: int, size: int) -> Page[Any]:
        try:
            return self._get(number, size, self._query)
        except HEAVY:
            if "attributes" not in self._query:
                raise
            return self._ids_then_one(number, size)

    def _page(self, number: int) -> Page[Any]:
        try:
            return self._get(number, PAGE_SIZE, self._query)
        except HEAVY as exc:
            if "attributes" not in self._query:
                raise
            reason = type(exc).__name__
        parts = PAGE_SIZE // SMALL_PAGE
        first = (number - 1) * parts + 1
        pieces = []
        for small in range(first, first + parts):
            piece = self._small(small, SMALL_PAGE)
            pieces.append(piece)
            if len(piece.items) < SMALL_PAGE:
                break
        self._counters.fallbacks.append(
            f"{self._table.resource}: page {number} of {PAGE_SIZE} failed ({reason}), "
            f"read as pages of {SMALL_PAGE}"
        )
        items = [item for piece in pieces for item in piece.items]
        head = pieces[0]
        return Page(items, head.total, number, PAGE_SIZE, None, None, head.date)

    def pages(self) -> Iterator[Page[Any]]:
        """Every page in order, up to ``AHEAD`` of the next ones fetched in threads while this
        one is being loaded: once the first page gives ``$total``, the pages it implies are
        asked at once (the wait for Sage overlaps itself and the work on the pages before;
        the ledger still meters each request). Without a total, one page ahead. Where the walk
        ends and which page comes next is the runtime's one page walk (``PageWalk``: ``$next``,
        ``$total``, a repeated page); a page shorter than asked ends it too."""
        first_url = self._client.prepare(
            self._table.op, query=self._query_of(1, PAGE_SIZE, self._query), options={}
        ).url
        walk = PageWalk(self._client.base_url, first_url)
        with ThreadPoolExecutor(AHEAD, thread_name_prefix="sage-sync-page") as pool:
            ahead: deque[tuple[int, Future[Page[Any]]]] = deque([(1, pool.submit(self._page, 1))])
            asked = 1
            try:
                while ahead:
                    current, future = ahead.popleft()
                    page = future.result()
                    if not walk.is_new(page):  # Sage's last page again: the walk ended
                        break
                    self._counters.pages += 1
                    following = walk.next(page)
                    if following is None or len(page.items) < PAGE_SIZE:
                        _cancel(ahead)
                    else:
                        wanted = page_number(following)
                        if wanted != (ahead[0][0] if ahead else current + 1):
                            _cancel(ahead)  # $next points elsewhere: follow it
                            asked = wanted - 1
                        implied = -(-page.total // PAGE_SIZE) if page.total else 0
                        last_wanted = max(implied, wanted)  # the next one, at least
                        while len(ahead) < AHEAD and asked < last_wanted:
                            asked += 1
                            ahead.append((asked, pool.submit(self._page, asked)))
                    yield page
            finally:  # stopped early (an error, a lost lease, GeneratorExit): ask no more
                _cancel(ahead)


def _cancel(ahead: deque[tuple[int, Future[Page[Any]]]]) -> None:
    for _, future in ahead:
        future.cancel()
    ahead.clear()
