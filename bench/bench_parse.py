"""Parsing, bytes -> models, vs `json.loads` of the same bytes (target <= 1.5x): a 200-invoice
page with every attribute filled, the typical list (five attributes, 200 records) and a whole
10,000-record sync through the pager (50 pages of 200 from a mock transport)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).parent))
from _timing import interleaved, report  # noqa: E402

from sage_accounting._runtime._pagination import parse_response_page  # noqa: E402
from sage_accounting.models import SalesInvoice  # noqa: E402

REPEAT = 30  # the full page (~25 ms a parse)
REPEAT_SMALL = 500  # the typical page (~0.2 ms): more runs for a steady median
TARGET = 1.5
SYNC_RECORDS = 10_000


REFERENCE = {
    "id": "9a994b92267a11e797950a57719b2edb",
    "displayed_as": "Reference",
    "$path": "/x/9a99",
}


def filled(model: type[BaseModel], depth: int = 0) -> dict[str, Any]:
    """A wire-shaped object with every field of ``model`` filled, as Sage sends it with
    ``attributes=all``: nested records as references (id, displayed_as, $path), lists of lines
    with every attribute of each line (two lines per invoice), money as strings."""
    from typing import get_args, get_origin

    out: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        key = field.alias or name
        annotation = field.annotation
        text = str(annotation)
        args = [a for a in get_args(annotation) if a is not type(None)] or [annotation]
        target = args[0]
        if get_origin(target) is list:
            (item,) = get_args(target)
            if isinstance(item, type) and issubclass(item, BaseModel):
                out[key] = (
                    [filled(item, depth + 1) for _ in range(2)] if depth == 0 else [REFERENCE]
                )
            else:
                out[key] = ["a", "b"]
        elif isinstance(target, type) and issubclass(target, BaseModel):
            out[key] = dict(REFERENCE)
        elif target is Decimal:
            out[key] = "1234.56"
        elif target is bool:
            out[key] = True
        elif target is int:
            out[key] = 7
        elif "lenient date-time" in text or target is dt.datetime:
            out[key] = "2026-11-21T10:11:12Z"
        elif "lenient date" in text or target is dt.date:
            out[key] = "2026-11-21"
        else:
            out[key] = f"value of {key}"
    return out


def typical(i: int) -> dict[str, Any]:
    """A record of the typical list: ``attributes=`` five fields (id, displayed_as and $path come
    with every record; money and a date-time are what callers ask for)."""
    return {
        "id": f"inv{i}",
        "displayed_as": f"SI-{i}",
        "$path": f"/sales_invoices/inv{i}",
        "total_amount": "1234.56",
        "updated_at": "2026-11-23T10:00:00Z",
    }


def page_bytes(n: int = 200, record: dict[str, Any] | None = None) -> bytes:
    invoice = filled(SalesInvoice) if record is None else record
    items = [dict(invoice, id=f"inv{i}") for i in range(n)]
    return envelope_bytes(items)


def envelope_bytes(items: list[dict[str, Any]], page: int = 1, pages: int = 1) -> bytes:
    n = len(items)
    envelope = {
        "$total": n * pages,
        "$page": page,
        "$next": f"/sales_invoices?page={page + 1}" if page < pages else None,
        "$back": None,
        "$itemsPerPage": n,
        "$items": items,
    }
    return json.dumps(envelope).encode()


def response_of(content: bytes) -> httpx.Response:
    """A list response as the client receives it (the body already read)."""
    request = httpx.Request("GET", "https://api.accounting.sage.com/v3.1/sales_invoices")
    return httpx.Response(200, content=content, request=request)


def parse(response: httpx.Response) -> list[SalesInvoice]:
    return parse_response_page(response, SalesInvoice).items


def read_typical(response: httpx.Response) -> None:
    """Parse, then read the five fields the list asked for, as a caller does."""
    read = [
        (invoice.id, invoice.displayed_as, invoice.path, invoice.total_amount, invoice.updated_at)
        for invoice in parse(response)
    ]
    assert len(read) == 200


def main() -> bool:
    content = page_bytes()
    whole = response_of(content)
    invoice = parse(whole)[0]
    assert isinstance(invoice.total_amount, Decimal) and isinstance(invoice.contact, BaseModel)
    print(
        f"page: {len(content) / 1e6:.2f} MB, {len(json.loads(content)['$items'][0])} attributes per invoice"
    )
    subject, baseline = interleaved(lambda: parse(whole), lambda: json.loads(content), REPEAT)
    ok = report("200 invoices bytes -> models", subject, baseline, TARGET)
    typical_page = envelope_bytes([typical(i) for i in range(200)])
    typical_response = response_of(typical_page)
    read_typical(typical_response)  # builds the five fields' validators once
    subject, baseline = interleaved(
        lambda: parse(typical_response), lambda: json.loads(typical_page), REPEAT_SMALL
    )
    ok &= report("typical list, 200 records of 5 attributes", subject, baseline, TARGET)
    subject, baseline = sync_timings()
    ok &= report(f"{SYNC_RECORDS}-record sync through the pager", subject, baseline, TARGET)
    # Not a target: what reading the asked-for fields adds (each validated once, on first read).
    subject, baseline = interleaved(
        lambda: read_typical(typical_response), lambda: json.loads(typical_page), REPEAT_SMALL
    )
    report("typical list, parsed and its 5 fields read", subject, baseline, None)
    subject, baseline = interleaved(
        lambda: [i.model_dump() for i in parse(whole)], lambda: json.loads(content), 5
    )
    report("200 invoices parsed and dumped whole", subject, baseline, None)
    return ok


def sync_timings() -> tuple[float, float]:
    """A full sync (every record of every page, 5 attributes each) through ``list()`` over a mock
    transport, against ``json.loads`` of the same page bodies (the transport's cost is in both:
    the baseline reads the pages through bare httpx with the same transport)."""
    from sage_accounting import SageAccounting

    pages = SYNC_RECORDS // 200
    bodies = [
        envelope_bytes([typical(p * 200 + i) for i in range(200)], p + 1, pages)
        for p in range(pages)
    ]

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=bodies[int(request.url.params.get("page", 1)) - 1])

    transport = httpx.MockTransport(handle)
    http = httpx.Client(transport=transport, base_url="https://api.accounting.sage.com/v3.1")
    client = SageAccounting(access_token="bench-token", http_client=http)

    def sdk() -> None:
        assert sum(1 for _ in client.sales_invoices.list()) == SYNC_RECORDS

    def bare() -> None:
        count = 0
        for page in range(1, pages + 1):
            body = http.get("/sales_invoices", params={"page": page, "items_per_page": 200})
            count += len(json.loads(body.content)["$items"])
        assert count == SYNC_RECORDS

    sdk()
    try:
        return interleaved(sdk, bare, 5)
    finally:
        http.close()


if __name__ == "__main__":
    main()
