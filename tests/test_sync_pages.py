"""The sync's page loop (``sync/_fetch.py``) walks pages with the runtime's one page walk and
reads each page as the runtime reads a list envelope: what a careless or hostile Sage answers is
refused by name, never read as an empty (or endless) list."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from sage_accounting import APIResponseValidationError, SageAccounting, UntrustedURLError

pytest.importorskip("dlt")

from sage_accounting.sync._fetch import Counters, RawPages  # noqa: E402
from sage_accounting.sync._tables import all_tables  # noqa: E402

Answer = Callable[[httpx.Request], dict[str, Any]]


def _pages(answer: Answer, seen: list[httpx.Request]) -> RawPages:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = json.dumps(answer(request)).encode()
        return httpx.Response(200, content=body, headers={"X-Business": "biz-a"})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    client = SageAccounting(access_token="t", business_id="biz-a", http_client=http, max_retries=0)
    return RawPages(client, all_tables()["contacts"], {"attributes": "all"}, Counters())


def _record(n: int) -> dict[str, Any]:
    return {"id": f"c{n}", "displayed_as": f"C {n}", "$path": f"/contacts/c{n}"}


@pytest.mark.parametrize("body", [{}, {"$items": "none"}, {"$items": [], "$total": "3"}])
def test_a_list_answer_that_is_no_envelope_is_refused_not_read_as_empty(body: Any) -> None:
    """Read as an empty page, it would have let the sync delete every record it holds."""
    seen: list[httpx.Request] = []
    with pytest.raises(APIResponseValidationError):
        list(_pages(lambda request: body, seen).pages())
    assert len(seen) == 1


def test_a_next_link_off_the_base_url_is_refused_and_never_asked() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> dict[str, Any]:
        items = [_record(n) for n in range(200)]
        return {"$items": items, "$total": 400, "$page": 1, "$next": "https://evil.test/p2"}

    with pytest.raises(UntrustedURLError):
        list(_pages(answer, seen).pages())
    assert {r.url.host for r in seen} == {"api.accounting.sage.com"}


def test_pages_are_asked_by_size_and_number_and_the_walk_ends_at_the_total() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> dict[str, Any]:
        number = int(request.url.params["page"])
        size = int(request.url.params["items_per_page"])
        first = (number - 1) * size
        items = [_record(n) for n in range(first, min(first + size, 450))]
        last = first + size >= 450
        following = None if last else f"/contacts?page={number + 1}&items_per_page={size}"
        return {"$items": items, "$total": 450, "$page": number, "$next": following}

    pages = list(_pages(answer, seen).pages())
    assert [len(p.items) for p in pages] == [200, 200, 50]
    asked = sorted((int(r.url.params["page"]), int(r.url.params["items_per_page"])) for r in seen)
    assert asked == [(1, 200), (2, 200), (3, 200)]  # none past the end, none twice


def test_a_page_repeating_the_one_before_ends_the_walk() -> None:
    """Sage answers a page past the end with its last page again; a $next that never ends."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> dict[str, Any]:
        if len(seen) > 5:  # the loop it used to be (no $total: one more page, forever)
            raise RuntimeError("asked past the repeated page")
        items = [_record(n) for n in range(200)]
        return {"$items": items, "$page": 1, "$next": "/contacts?page=2&items_per_page=200"}

    pages = list(_pages(answer, seen).pages())
    assert len(pages) == 1 and len(seen) == 2
