"""One page walk: the pagers (one page at a time and concurrent), the change feeds, the agents'
runner and the CLI follow ``$next`` only under the base URL, read on by ``$total`` where
``$next`` is missing, stop at the same page, and ask for the same page sizes.

Each test puts the same Sage answer before two walkers and asserts they agree (the pages are
made by hand: no sandbox writes an untrusted ``$next``)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from policies import READER_POLICY
from present import present

from sage_accounting import AsyncSageAccounting, SageArgumentError, UntrustedURLError
from sage_accounting.agents import MemoryAuditSink, for_agent, parse_policy
from sage_accounting.agents.runner import Runner

BASE = "https://api.accounting.sage.com/v3.1"
POLICY = READER_POLICY

Handler = Callable[[httpx.Request], httpx.Response]


def _page(number: int, ids: list[str], total: int, next_: str | None, per_page: int = 2) -> bytes:
    return json.dumps(
        {"$items": [{"id": i} for i in ids], "$total": total, "$page": number, "$next": next_,
         "$back": None, "$itemsPerPage": per_page}  # fmt: skip
    ).encode()


def _answer(pages: dict[int, bytes], seen: list[httpx.Request]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        number = int(request.url.params.get("page", "1"))
        return httpx.Response(200, content=pages[number], headers={"X-Business": "biz-lead"})

    return handler


async def _runner_call(handler: Handler, arguments: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    policy = parse_policy(POLICY)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = AsyncSageAccounting(access_token="t", business_id="biz-lead", http_client=http)
        guarded = for_agent(client, policy, "reader", audit=MemoryAuditSink())
        runner = Runner(guarded, policy.agent("reader"))
        return await runner.call("contacts_list", arguments)


async def _runner_walk(handler: Handler, arguments: dict[str, Any]) -> list[str]:
    """Every id the agent reads by passing back each next_cursor (20 calls at most)."""
    ids: list[str] = []
    result, is_error = await _runner_call(handler, arguments)
    for _ in range(20):
        assert not is_error, result
        ids += [item["id"] for item in result["items"]]
        if not result["next_cursor"]:
            return ids
        result, is_error = await _runner_call(handler, {"cursor": result["next_cursor"]})
    raise AssertionError(f"the walk never ends: {ids}")


async def _pager_ids(handler: Handler, concurrency: int = 1, **query: Any) -> list[str]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = AsyncSageAccounting(access_token="t", business_id="biz-lead", http_client=http)
        pager = client.contacts.list(**query)
        if concurrency > 1:
            pager = pager.concurrent(concurrency)
        return [present(c.id) async for c in pager]


ELSEWHERE = "https://attacker.example/v3.1/contacts?page=2"


async def test_a_next_link_outside_the_base_url_stops_every_walker() -> None:
    pages = {1: _page(1, ["c1", "c2"], 4, ELSEWHERE), 2: _page(2, ["c3", "c4"], 4, None)}
    seen: list[httpx.Request] = []
    with pytest.raises(UntrustedURLError):
        await _pager_ids(_answer(pages, seen))
    with pytest.raises(UntrustedURLError):
        await _pager_ids(_answer(pages, seen), concurrency=3)
    # The agent is told, as a tool error naming the link, rather than given a cursor that reads
    # on as if the link were Sage's.
    result, is_error = await _runner_call(_answer(pages, seen), {"items_per_page": 2})
    assert is_error and "UntrustedURLError" in result["error"], result
    assert "attacker.example" in result["error"]
    assert all(r.url.host == "api.accounting.sage.com" for r in seen)


async def test_without_next_every_walker_reads_on_while_total_says_more_remain() -> None:
    """Sage's ``$next`` is not always present (docs/sage-api-notes.md): ``$total`` decides."""
    pages = {
        1: _page(1, ["c1", "c2"], 5, None),
        2: _page(2, ["c3", "c4"], 5, None),
        3: _page(3, ["c5"], 5, None),
    }
    seen: list[httpx.Request] = []
    assert await _pager_ids(_answer(pages, seen), items_per_page=2) == [
        "c1",
        "c2",
        "c3",
        "c4",
        "c5",
    ]
    assert await _runner_walk(_answer(pages, seen), {"items_per_page": 2}) == [
        "c1", "c2", "c3", "c4", "c5"
    ]  # fmt: skip


async def test_every_walker_follows_next_as_sage_wrote_it() -> None:
    """The next request is ``$next`` itself (query and all), not a page number made up."""
    link = "/contacts?page=2&items_per_page=2&attributes=from-sage"
    pages = {1: _page(1, ["c1", "c2"], 3, link), 2: _page(2, ["c3"], 3, None)}
    walkers: list[Callable[[Handler], Awaitable[list[str]]]] = [
        lambda h: _pager_ids(h, items_per_page=2),
        lambda h: _runner_walk(h, {"items_per_page": 2}),
    ]
    for walk in walkers:
        seen: list[httpx.Request] = []
        assert await walk(_answer(pages, seen)) == ["c1", "c2", "c3"]
        assert seen[-1].url.params.get("attributes") == "from-sage"


async def test_every_walker_stops_at_a_page_that_repeats_the_one_before() -> None:
    """Sage answers a page past the end with the last page again; should that page still carry
    a ``$next``, a walk on links alone never ends (the agent was handed cursors forever)."""
    looping = "/contacts?page=3&items_per_page=2"
    pages = {
        1: _page(1, ["c1", "c2"], 3, "/contacts?page=2&items_per_page=2"),
        2: _page(2, ["c3"], 3, looping),
        3: _page(2, ["c3"], 3, looping),  # page 3 is past the end: page 2 again
    }
    seen: list[httpx.Request] = []
    assert await _pager_ids(_answer(pages, seen), items_per_page=2) == ["c1", "c2", "c3"]
    assert await _runner_walk(_answer(pages, seen), {"items_per_page": 2}) == ["c1", "c2", "c3"]


async def test_the_agents_page_size_is_the_sdks_up_to_sages_maximum() -> None:
    """A size the caller chooses is sent as chosen up to Sage's 200 (the runner cut it to 100);
    above 200 every walker asks for 200, Sage's cap; below 1 is refused before any request."""
    pages = {1: _page(1, [], 0, None)}
    for asked, sent in ((150, "150"), (200, "200"), (500, "200")):
        seen: list[httpx.Request] = []
        await _pager_ids(_answer(pages, seen), items_per_page=asked)
        result, is_error = await _runner_call(_answer(pages, seen), {"items_per_page": asked})
        assert not is_error, result
        assert [r.url.params["items_per_page"] for r in seen] == [sent, sent], asked
    for asked in (0, -5):
        seen = []
        with pytest.raises(SageArgumentError, match="items_per_page"):
            await _pager_ids(_answer(pages, seen), items_per_page=asked)
        result, is_error = await _runner_call(_answer(pages, seen), {"items_per_page": asked})
        assert is_error and "invalid arguments: items_per_page" in result["error"], result
        assert seen == []
    # Left out, the pager asks for Sage's maximum (the fewest requests), the agent for a small
    # page (what fits an agent's context), Sage's own default.
    seen = []
    await _pager_ids(_answer(pages, seen))
    await _runner_call(_answer(pages, seen), {})
    assert [r.url.params["items_per_page"] for r in seen] == ["200", "20"]


async def test_a_forged_cursor_cannot_send_the_token_elsewhere() -> None:
    import base64

    seen: list[httpx.Request] = []
    pages = {1: _page(1, ["c1"], 1, None)}
    for forged in (
        {"next": ELSEWHERE},
        {"next": BASE + "/bank_accounts?page=2"},
        {"next": 12},
        ["not", "an", "object"],
    ):
        cursor = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode()
        result, is_error = await _runner_call(_answer(pages, seen), {"cursor": cursor})
        assert is_error, (forged, result)
    assert seen == []


def _records(ids: list[str]) -> Any:
    from sage_accounting._runtime._envelope import parse_page

    response = httpx.Response(
        200,
        content=_page(1, ids, total=len(ids), next_=None),
        request=httpx.Request("GET", f"{BASE}/contacts"),
    )
    from sage_accounting.models import Contact

    return parse_page(response, Contact)


def test_a_walk_tells_a_repeated_page_whatever_the_facts_of_the_page_before() -> None:
    from sage_accounting._runtime import PageWalk

    last = _records(["a", "b"])  # complete: no $next, $total reached
    walk = PageWalk(BASE, f"{BASE}/contacts")
    assert walk.is_new(last)
    assert walk.is_new(last) is False  # asked again although the walk had ended: a repeat
    assert walk.is_new(_records(["c"]))
    again = PageWalk(BASE, f"{BASE}/contacts")
    assert again.is_new(last)
    assert again.next(last) is None and again.point() is None


def test_a_walk_point_carries_the_last_pages_digest_into_the_resumed_walk() -> None:
    from sage_accounting._runtime import PageWalk
    from sage_accounting._runtime._page import Page

    first = _records(["a", "b"])
    more = Page(first.items, total=4, page=1, items_per_page=2, next=None, back=None)
    walk = PageWalk(BASE, f"{BASE}/contacts?items_per_page=2")
    assert walk.is_new(more)
    assert walk.next(more) == f"{BASE}/contacts?items_per_page=2&page=2"
    point = walk.point()
    assert point is not None and point.seen_items == 2
    resumed = PageWalk.resume(BASE, point)
    assert resumed.is_new(more) is False  # the same page again, told by its digest
    other = PageWalk.resume(BASE, point)
    assert other.is_new(_records(["c", "d"]))
