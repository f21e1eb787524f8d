"""Every pager the SDK builds asks for Sage's maximum page (200) unless the caller says otherwise:
Sage's quota is per request, so 20 a page would cost ten times what it must."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx


def _empty_list(request: httpx.Request) -> httpx.Response:
    body = {"$items": [], "$total": 0, "$page": 1, "$next": None, "$back": None}
    return httpx.Response(200, content=json.dumps(body).encode())


def test_list_and_change_feeds_ask_for_200_a_page(make_client: Callable[..., Any]) -> None:
    client, recorder = make_client(_empty_list)
    list(client.contacts.list())
    feed = client.contacts.changes(since=None)
    list(feed)
    feed_again = client.contacts.changes(since=feed.cursor)
    list(feed_again)
    sizes = [r.url.params.get("items_per_page") for r in recorder.requests]
    # one list, one first poll (upserts only), one repeat poll (upserts and deletions)
    assert sizes == ["200"] * 4


def test_a_page_size_the_caller_chooses_is_kept(make_client: Callable[..., Any]) -> None:
    client, recorder = make_client(_empty_list)
    list(client.contacts.list(items_per_page=50))
    list(client.contacts.changes(since=None, items_per_page=25))
    assert [r.url.params.get("items_per_page") for r in recorder.requests] == ["50", "25"]


async def test_async_change_feeds_ask_for_200_a_page(make_async_client: Callable[..., Any]) -> None:
    client, recorder = make_async_client(_empty_list)
    async for _ in client.contacts.changes(since=None):
        pass
    assert [r.url.params.get("items_per_page") for r in recorder.requests] == ["200"]
