"""The SDK's fixed cost per request, in this process: ``sales_invoices.list()`` of Sage's recorded
invoices page (200 records, records not read) and ``contacts.get(id)``, each against bare httpx
(the same transport, the same bytes) decoding with ``json.loads``. Everything runs here, so its
CPU time is measured, over many interleaved runs: ``bench_real_pages`` shows the same list()
ratio among its figures from fewer runs, and ``bench_overhead`` the get() ratio against a
sandbox on a socket (wall clock, much noisier on a shared machine). Goal: list() <= 1.1x."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _timing import interleaved, report  # noqa: E402
from bench_real_pages import BASE_URL, WIRE, page_of_records  # noqa: E402

from sage_accounting import SageAccounting  # noqa: E402

LIST_GOAL = 1.1
REPEAT = 1000
CPU = time.process_time
CONTACT_ID = "4f9d3a1c2b7e48d6a0c5e1f2b3d4c5a6"
# A contact as Sage answers one (the fields a get() validates whole), with its business header.
CONTACT = {
    "id": CONTACT_ID,
    "displayed_as": "Acme Trading (ACME001)",
    "$path": f"/contacts/{CONTACT_ID}",
    "name": "Acme Trading",
    "reference": "ACME001",
    "contact_types": [{"id": "CUSTOMER", "displayed_as": "Customer", "$path": "/contact_types"}],
    "credit_limit": "100.00",
    "currency": {"id": "GBP", "displayed_as": "Pound Sterling (GBP)", "$path": "/currencies/GBP"},
    "created_at": "2024-01-01T10:00:00Z",
    "updated_at": "2024-01-02T10:00:00Z",
}


def main() -> bool:
    name = "GetAll_SalesInvoice.json"
    if not (WIRE / name).exists():
        print(f"{name}: not found under {WIRE} (../shared beside the repository)")
        return False
    page, contact = page_of_records(name), json.dumps(CONTACT).encode()

    def answer(request: httpx.Request) -> httpx.Response:
        body = contact if request.url.path.startswith("/v3.1/contacts/") else page
        return httpx.Response(200, content=body, headers={"X-Business": "biz-lead"})

    http = httpx.Client(transport=httpx.MockTransport(answer), base_url=BASE_URL)
    client = SageAccounting(access_token="bench-token", http_client=http, business_id="biz-lead")
    invoices, contacts = client.sales_invoices, client.contacts
    headers = {
        "Authorization": "Bearer bench-token",
        "X-Business": "biz-lead",
        "Accept": "application/json",
    }
    cases: tuple[tuple[str, Callable[[], object], Callable[[], object], float | None], ...] = (
        (
            "list() of 200 invoices, records not read",
            lambda: list(invoices.list()),
            lambda: json.loads(http.get("/sales_invoices", headers=headers).content),
            LIST_GOAL,
        ),
        (
            "get() of one contact",
            lambda: contacts.get(CONTACT_ID),
            lambda: json.loads(http.get(f"/contacts/{CONTACT_ID}", headers=headers).content),
            None,
        ),
    )
    ok = True
    try:
        for label, sdk, bare, goal in cases:
            for _ in range(50):  # validators built, caches warm
                sdk()
                bare()
            subject, baseline = interleaved(sdk, bare, REPEAT, CPU)
            ok &= report(label, subject * 1e6, baseline * 1e6, goal, unit="us")
    finally:
        http.close()
    return ok


if __name__ == "__main__":
    main()
