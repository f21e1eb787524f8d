"""Pagers over Sage's list envelope.

Sage answers a list with ``{"$items": [...], "$total", "$page", "$next", "$back",
"$itemsPerPage"}`` (``$items_per_page`` on /businesses), although the spec declares a bare array.
The pager walks pages lazily and holds one page at a time, so memory stays flat:

- the next page is ``$next`` joined to the base URL by concatenation (``$next`` is relative to
  ``/v3.1``; ``urljoin`` would drop the version);
- without ``$next`` it falls back on ``$total``, asking for ``page + 1`` while items remain;
- it stops on an empty page or on a page that repeats the previous one (Sage answers a page past
  the end with the last page again, so a loop on page numbers alone would never end).

A ``$next`` is followed only when it resolves within the client's base URL (same scheme, host,
port and base path): anything else raises ``UntrustedURLError`` naming the link, before any
request; the token never goes to another host, whatever a page says.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._errors import UntrustedURLError
from ._page import Page
from ._prepare import is_within

if TYPE_CHECKING:
    import httpx
    from pydantic import BaseModel

    from ._client import AsyncClient, SyncClient
    from ._prepare import PreparedRequest

T = TypeVar("T", bound="BaseModel")


def parse_response_page(response: httpx.Response, item: type[T]) -> Page[T]:
    """The page a list response holds; ``APIResponseValidationError`` when it holds none."""
    from ._envelope import parse_page  # pydantic is loaded with the first page, not at import

    return parse_page(response, item)


def page_url(url: str, number: int) -> str:
    """``url`` asking for page ``number`` (the other parameters kept)."""
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    query["page"] = str(number)
    encoded = urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
    return urllib.parse.urlunsplit(parts._replace(query=encoded))


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
    current = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(current_url).query))
    return page_url(current_url, (page.page or int(current.get("page", "1"))) + 1)


class PageWalk:
    """The pager's decisions, with no I/O: whether a page is new, and where the next one is."""

    def __init__(self, base_url: str, first_url: str) -> None:
        self._base_url = base_url
        self._url: str | None = first_url
        self._seen_items = 0
        self._previous: tuple[Any, ...] | None = None

    def is_new(self, page: Page[Any]) -> bool:
        """False for a page that repeats the previous one (Sage answers a page past the end with
        the last page again): the walk ends there."""
        signature = page.signature()
        if signature == self._previous:
            return False
        self._previous = signature
        self._seen_items += len(page.items)
        return True

    def next(self, page: Page[Any]) -> str | None:
        assert self._url is not None
        self._url = next_url(self._base_url, self._url, page, self._seen_items)
        return self._url


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
            raise ValueError("pages must be at least 1")
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
        if "page" in query or (first.page or 1) != 1:
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
                if not pending:
                    return
                page = await pending.popleft()
                url_ = next(queued, None)
                if url_ is not None:
                    pending.append(asyncio.ensure_future(self._fetch(url_)))
                if not page.items:
                    return
        finally:
            for task in pending:
                task.cancel()

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.items:
                yield item
