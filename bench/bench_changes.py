"""Change feeds cost what a list costs: 10,000 changed contacts through `changes()` take
ceil(10000/200) = 50 requests; a repeat poll with nothing changed takes one request per list it
reads (upserts and deletions: 2). Requests are counted, not timed: Sage's quota is per request."""

from __future__ import annotations

import datetime as dt
import json
import math

import httpx

from sage_accounting import SageAccounting

RECORDS = 10_000
SAGE_MAX_PAGE = 200


def contact(i: int) -> dict[str, object]:
    return {
        "id": f"con{i:08d}",
        "displayed_as": f"Contact {i}",
        "updated_at": "2026-11-23T10:00:00Z",
    }


def sage_contacts(requests: list[httpx.Request]) -> httpx.MockTransport:
    """/contacts paged as Sage pages it (at most 200 a page, 20 when the caller says nothing):
    every record changed since the first poll, none deleted, nothing changed after it."""

    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        params = request.url.params
        size = min(int(params.get("items_per_page", 20)), SAGE_MAX_PAGE)
        page = int(params.get("page", 1))
        changed = RECORDS if "updated_or_created_since" not in params else 0
        if "deleted_since" in params:
            changed = 0
        pages = max(1, math.ceil(changed / size))
        first = (page - 1) * size
        items = [contact(i) for i in range(first, min(first + size, changed))]
        # Sage's $next repeats the query with the next page number
        nxt = str(request.url.copy_merge_params({"page": page + 1})) if page < pages else None
        body = {"$items": items, "$total": changed, "$page": page, "$next": nxt, "$back": None}
        return httpx.Response(200, content=json.dumps(body).encode())

    return httpx.MockTransport(handle)


def main() -> bool:
    requests: list[httpx.Request] = []
    with httpx.Client(transport=sage_contacts(requests)) as http:
        client = SageAccounting(access_token="bench-token", http_client=http)
        feed = client.contacts.changes(since=None)
        received = sum(1 for _ in feed)
        first = len(requests)
        requests.clear()
        again = client.contacts.changes(since=feed.cursor + dt.timedelta(hours=1))
        repeated = sum(1 for _ in again)
        repeat = len(requests)
    want_first = math.ceil(RECORDS / SAGE_MAX_PAGE)
    ok_first = received == RECORDS and first <= want_first
    ok_repeat = repeated == 0 and repeat <= 2
    print(
        f"change feed, {received} changed records: {first} requests "
        f"(target <= ceil({RECORDS}/{SAGE_MAX_PAGE}) = {want_first}) {'ok' if ok_first else 'OVER TARGET'}"
    )
    print(
        f"repeat poll, nothing changed: {repeat} requests (target <= 2: one per list read, "
        f"upserts and deletions) {'ok' if ok_repeat else 'OVER TARGET'}"
    )
    return ok_first and ok_repeat


if __name__ == "__main__":
    main()
