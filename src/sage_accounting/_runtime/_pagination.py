"""The one page walk over Sage's list envelope (``wire.py`` names its keys), and the pagers.

Sage answers a list with an envelope (its records, ``$total``, ``$page``, ``$next``, ``$back``,
the page size), although the spec declares a bare array. Every walker (the sync and async
pagers, the concurrent pager, change feeds, the agents' runner, the CLI) takes its decisions
from ``PageWalk`` and its page size from ``with_page_size``:

- the next page is ``$next`` joined to the base URL by concatenation (``$next`` is relative to
  ``/v3.1``; ``urljoin`` would drop the version);
- without ``$next`` it falls back on ``$total``, asking for ``page + 1`` while items remain;
- it stops on an empty page or on a page that repeats the previous one (Sage answers a page past
  the end with the last page again, so a loop on page numbers alone would never end);
- a page size left out is Sage's maximum, 200 (the fewest requests: Sage's quota is per
  request), or the walker's own default (the agents' smaller page); a chosen one is sent as
  chosen up to 200, above it as 200 (Sage's cap), and one below 1 is refused before any request.

A ``$next`` is followed only when it resolves within the client's base URL (same scheme, host,
port and base path): anything else raises ``UntrustedURLError`` naming the link, before any
request; the token never goes to another host, whatever a page says.
"""

from __future__ import annotations

import hashlib
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from . import wire
from ._errors import ArgumentValueError, UntrustedURLError
from ._page import Page
from ._prepare import is_within

if TYPE_CHECKING:
    from collections.abc import Mapping

    import httpx
    from pydantic import BaseModel

    from ._client import AsyncClient, SyncClient
    from ._operation import Operation
    from ._prepare import PreparedRequest

T = TypeVar("T", bound="BaseModel")


def parse_response_page(response: httpx.Response, item: type[T]) -> Page[T]:
    """The page a list response holds; ``APIResponseValidationError`` when it holds none."""
    from ._envelope import parse_page  # pydantic is loaded with the first page, not at import

    return parse_page(response, item)


AUTO_PAGE_SIZE = wire.MAX_PAGE_SIZE  # the fewest requests when a walker reads every page


def with_page_size(
    op: Operation, query: Mapping[str, Any] | None, default: int = AUTO_PAGE_SIZE
) -> dict[str, Any]:
    """A list's query with the page size every walker asks for: ``default`` when the caller
    chose none (Sage's maximum for the pagers and change feeds, so one request per 200 records,
    not per 20); a chosen size as chosen up to Sage's maximum and that maximum above it (Sage's
    own cap); below 1 an ``ArgumentValueError``, before any request. A size of another type is
    left for the query's encoding to refuse."""
    query = dict(query or {})
    name = wire.PAGE_SIZE_PARAMETER
    if name not in op.query:
        return query
    size = query.get(name)
    if size is None:
        query[name] = default
    elif isinstance(size, int) and not isinstance(size, bool):
        if size < 1:
            raise ArgumentValueError(name, f"must be at least 1, not {size}")
        query[name] = min(size, wire.MAX_PAGE_SIZE)
    return query


def page_url(url: str, number: int) -> str:
    """``url`` asking for page ``number`` (the other parameters kept)."""
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    query[wire.PAGE_PARAMETER] = str(number)
    encoded = urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
    return urllib.parse.urlunsplit(parts._replace(query=encoded))


def page_number(url: str) -> int:
    """The page ``url`` asks for (1 when it names none)."""
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    return int(query.get(wire.PAGE_PARAMETER, "1"))


def next_url(base_url: str, current_url: str, page: Page[Any], seen_items: int) -> str | None:
    """Where the next page is, or None when this was the last one."""
    if not page.items:
        return None
    if page.next:
        url = base_url + page.next if page.next.startswith("/") else page.next
        if not is_within(url, base_url):
            raise UntrustedURLError(page.next, base_url, "the $next link")
        return url
    if page.total is None or seen_items >= page.total:
        return None
    return page_url(current_url, (page.page or page_number(current_url)) + 1)


@dataclass(frozen=True)
class WalkPoint:
    """Where a walk stands between two pages, for taking it up again later (what the agents'
    runner keeps in its cursor): the next page's URL, the records seen so far (for the
    ``$total`` rule) and a digest of the last page (for the repeated-page rule)."""

    url: str
    seen_items: int
    previous: str


def _digest(signature: tuple[Any, ...]) -> str:
    return hashlib.sha256(repr(signature).encode()).hexdigest()[:16]


class PageWalk:
    """The walk's decisions, with no I/O: whether a page is new, and where the next one is.

    A page's signature (its items' ids) is taken only when something will compare it: a walk
    whose page is its last (most lists are one page) keeps the page and signs it only if it is
    asked about another page after all."""

    def __init__(self, base_url: str, first_url: str) -> None:
        self._base_url = base_url
        self._url: str | None = first_url
        self._seen_items = 0
        self._previous: tuple[Any, ...] | None = None
        self._unsigned: Page[Any] | None = None  # the previous page, when not signed yet
        self._previous_digest: str | None = None  # a walk taken up again: its last page's

    @classmethod
    def resume(cls, base_url: str, point: WalkPoint) -> PageWalk:
        """The walk ``point`` was taken from, at its next page."""
        walk = cls(base_url, point.url)
        walk._seen_items, walk._previous_digest = point.seen_items, point.previous
        return walk

    def _previous_signature(self) -> tuple[Any, ...] | None:
        if self._unsigned is not None:
            self._previous, self._unsigned = self._unsigned.signature(), None
        return self._previous

    def is_new(self, page: Page[Any]) -> bool:
        """False for a page that repeats the previous one (Sage answers a page past the end with
        the last page again): the walk ends there."""
        previous = self._previous_signature()
        seen = self._seen_items + len(page.items)
        if previous is None and self._previous_digest is None and not _goes_on(page, seen):
            self._unsigned, self._seen_items = page, seen  # nothing to compare it with yet
            return True
        signature = page.signature()
        if signature == previous or (
            self._previous_digest is not None and _digest(signature) == self._previous_digest
        ):
            return False
        self._previous, self._previous_digest = signature, None
        self._seen_items = seen
        return True

    def point(self) -> WalkPoint | None:
        """Where to take the walk up again after ``next``; None once it has ended."""
        if self._url is None:
            return None
        previous = self._previous_signature()
        return (
            None if previous is None else WalkPoint(self._url, self._seen_items, _digest(previous))
        )

    def next(self, page: Page[Any]) -> str | None:
        """The next page's URL, or None when ``page`` was the last; ``UntrustedURLError`` for a
        ``$next`` outside the base URL."""
        assert self._url is not None
        self._url = next_url(self._base_url, self._url, page, self._seen_items)
        return self._url


def _goes_on(page: Page[Any], seen_items: int) -> bool:
    """Whether ``next_url`` may find a page after ``page`` (``seen_items`` counted with it)."""
    return bool(page.items) and (
        bool(page.next) or (page.total is not None and seen_items < page.total)
    )


def page_of_body(response: httpx.Response, body: object) -> Page[Any]:
    """A page of plain JSON records (dicts, as decoded) from a list's decoded ``body``: for a
    walker that hands the records on as JSON (the agents' runner). ``APIResponseValidationError``
    when ``body`` is no list envelope."""
    from ._response import response_validation_error

    if isinstance(body, list):
        body = {wire.ITEMS: body, wire.TOTAL: len(body), wire.PAGE: 1}
    if not isinstance(body, dict) or not isinstance(body.get(wire.ITEMS), list):
        raise response_validation_error(response, f"{wire.ITEMS}: a list envelope was expected")
    facts: dict[str, Any] = {}
    for key, kind in (
        (wire.TOTAL, int), (wire.PAGE, int), (wire.NEXT, str), (wire.BACK, str),
        (wire.ITEMS_PER_PAGE, int), (wire.ITEMS_PER_PAGE_BUSINESSES, int),
    ):  # fmt: skip
        value = body.get(key)
        if value is not None and (type(value) is not kind):
            raise response_validation_error(response, f"{key}: {kind.__name__} expected")
        facts[key] = value
    return Page(
        items=body[wire.ITEMS],
        total=facts[wire.TOTAL],
        page=facts[wire.PAGE],
        items_per_page=facts[wire.ITEMS_PER_PAGE] or facts[wire.ITEMS_PER_PAGE_BUSINESSES],
        next=facts[wire.NEXT] or None,
        back=facts[wire.BACK] or None,
        date=response.headers.get(wire.DATE_HEADER),
        http_response=response,
    )


class _Pager(Generic[T]):
    """What both pagers hold: the first request, the item model, the first page once fetched."""

    def __init__(
        self, client: SyncClient | AsyncClient, request: PreparedRequest, item: type[T]
    ) -> None:
        self._client = client
        self._request = request
        self._item = item
        self._first: Page[T] | None = None
        self.last_response: httpx.Response | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._request.method} {self._request.path})"

    def _page_of(self, response: httpx.Response) -> Page[T]:
        self.last_response = response
        return parse_response_page(response, self._item)

    def _walk(self) -> PageWalk:
        return PageWalk(self._client.base_url, self._request.url)


class SyncPager(_Pager[T]):
    """Iterate to get every item across pages; ``.pages()`` for whole pages; ``.total``."""

    _client: SyncClient

    def first_page(self) -> Page[T]:
        if self._first is None:
            self._first = self._fetch(self._request.url)
        return self._first

    @property
    def total(self) -> int | None:
        """``$total`` from the first page (fetched if need be)."""
        return self.first_page().total

    def _fetch(self, url: str) -> Page[T]:
        return self._page_of(self._client.send(self._request.with_url(url)))

    def pages(self) -> Iterator[Page[T]]:
        walk = self._walk()
        page: Page[T] | None = self.first_page()
        while page is not None and walk.is_new(page):
            yield page
            url = walk.next(page)
            page = self._fetch(url) if url else None

    def __iter__(self) -> Iterator[T]:
        for page in self.pages():
            yield from page.items


class AsyncPager(_Pager[T]):
    """``async for`` every item across pages; ``.pages()``; ``await pager.total``.

    ``.concurrent(n)`` fetches up to ``n`` pages at once once the first page has told how many
    there are (``$total``, ``$itemsPerPage``), still yielding items in order and holding at most
    ``n`` pages: for long lists where Sage's latency, not the work, is what takes the time.
    """

    _client: AsyncClient
    _concurrency = 1

    def concurrent(self, pages: int) -> AsyncPager[T]:
        if pages < 1:
            raise ArgumentValueError("pages", f"must be at least 1, not {pages!r}")
        self._concurrency = pages
        return self

    async def first_page(self) -> Page[T]:
        if self._first is None:
            self._first = await self._fetch(self._request.url)
        return self._first

    @property
    def total(self) -> Awaitable[int | None]:
        """``$total`` from the first page (fetched if need be): ``await pager.total``."""
        return self._total()

    async def _total(self) -> int | None:
        return (await self.first_page()).total

    async def _fetch(self, url: str) -> Page[T]:
        return self._page_of(await self._client.send(self._request.with_url(url)))

    def _remaining_urls(self, first: Page[T]) -> list[str] | None:
        """Every further page's URL, when the first page says how many there are."""
        if self._concurrency < 2 or first.total is None or not first.items_per_page:
            return None
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self._request.url).query)
        if wire.PAGE_PARAMETER in query or (first.page or 1) != 1:
            return None  # the caller asked for a page of their own: follow $next
        count = -(-first.total // first.items_per_page)
        return [page_url(self._request.url, n) for n in range(2, count + 1)]

    async def pages(self) -> AsyncIterator[Page[T]]:
        first = await self.first_page()
        urls = self._remaining_urls(first)
        if urls is not None:
            async for windowed in self._windowed(first, urls):
                yield windowed
            return
        walk = self._walk()
        page: Page[T] | None = first
        while page is not None and walk.is_new(page):
            yield page
            url = walk.next(page)
            page = await self._fetch(url) if url else None

    async def _windowed(self, first: Page[T], urls: list[str]) -> AsyncIterator[Page[T]]:
        import asyncio
        from collections import deque

        walk = self._walk()
        pending: deque[asyncio.Task[Page[T]]] = deque()
        queued = iter(urls)
        try:
            for url in queued:
                pending.append(asyncio.ensure_future(self._fetch(url)))
                if len(pending) >= self._concurrency:
                    break
            page = first
            while walk.is_new(page):
                yield page
                # The walk's rule decides where to stop (and refuses an untrusted $next); the
                # pages themselves come from the URLs made from the first page.
                if walk.next(page) is None or not pending:
                    return
                page = await pending.popleft()
                url_ = next(queued, None)
                if url_ is not None:
                    pending.append(asyncio.ensure_future(self._fetch(url_)))
        finally:
            for task in pending:
                task.cancel()

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.items:
                yield item
