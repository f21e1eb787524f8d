"""Type-checked, not run: raw responses, streams and pagers have the types a user expects, the
same on the sync and async clients (``assert_type`` fails mypy when a type drifts; a wrong
argument marked ``type: ignore`` fails it when the error goes away, through
``warn_unused_ignores``)."""

from __future__ import annotations

from typing import assert_type

from sage_accounting import (
    APIResponse,
    AsyncPager,
    AsyncSageAccounting,
    Page,
    SageAccounting,
    SyncPager,
)
from sage_accounting._runtime import AsyncFileOpening, FileStream
from sage_accounting.models import Contact


def sync_raw(client: SageAccounting) -> None:
    got = client.contacts.with_raw_response.get("c1", attributes="all")
    assert_type(got, APIResponse[Contact])
    assert_type(got.parsed, Contact)
    assert_type(got.status_code, int)
    assert_type(got.request_id, str | None)
    first = client.contacts.with_raw_response.list(search="Acme")
    assert_type(first, APIResponse[Page[Contact]])
    assert_type(first.parsed.items, list[Contact])
    assert_type(client.contacts.with_raw_response.delete("c1"), APIResponse[None])
    assert_type(client.attachments.with_raw_response.get_file("a1"), APIResponse[bytes])
    client.contacts.with_raw_response.get(key=1)  # type: ignore[arg-type]
    client.contacts.with_raw_response.list(serch="Acme")  # type: ignore[call-arg]


def sync_streams_and_pagers(client: SageAccounting) -> None:
    stream = client.attachments.with_streaming_response.get_file("a1")
    assert_type(stream, FileStream)
    with stream as file:
        assert_type(file, FileStream)
    pager = client.contacts.list()
    assert_type(pager, SyncPager[Contact])
    assert_type(pager.total, int | None)
    assert_type(pager.first_page(), Page[Contact])


async def async_raw(client: AsyncSageAccounting) -> None:
    got = await client.contacts.with_raw_response.get("c1")
    assert_type(got, APIResponse[Contact])
    first = await client.contacts.with_raw_response.list()
    assert_type(first, APIResponse[Page[Contact]])
    assert_type(await client.contacts.with_raw_response.delete("c1"), APIResponse[None])
    opening = client.attachments.with_streaming_response.get_file("a1")
    assert_type(opening, AsyncFileOpening)
    async with opening as file:
        assert_type(file.filename, str | None)
    pager = client.contacts.list()
    assert_type(pager, AsyncPager[Contact])
    assert_type(await pager.total, int | None)
    assert_type(await pager.first_page(), Page[Contact])
