"""The runtime against the fake Sage server: pagination, businesses, faults and retries, change
feeds, limits, raw responses, and secrets kept out of logs. Sync and async."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
import threading
import time
import tracemalloc
import urllib.parse
from typing import Any

import httpx
import pytest
from present import present

from sage_accounting import (
    APIConnectionError,
    APIResponse,
    APITimeoutError,
    AsyncSageAccounting,
    InternalServerError,
    OAuthApp,
    OAuthSession,
    OutOfOrderError,
    PermissionDeniedError,
    RateLimit,
    RateLimitError,
    SageAccounting,
    TokenSet,
    UnprocessableEntityError,
)
from sage_accounting.models import ContactCreateParams
from sage_accounting.testing import Fault, SageSandbox

CONTACT: ContactCreateParams = {"name": "Acme Ltd", "contact_type_ids": ["CUSTOMER"]}


@pytest.fixture
def client(fake_sage: Any, session: OAuthSession) -> SageAccounting:
    return SageAccounting(session=session, base_url=fake_sage.base_url, timeout=2.0)


@pytest.fixture
def aclient(fake_sage: Any, session: OAuthSession) -> AsyncSageAccounting:
    return AsyncSageAccounting(session=session, base_url=fake_sage.base_url, timeout=2.0)


# -- lists ------------------------------------------------------------------------------------------


def peak_memory_listing(client: SageAccounting) -> tuple[int, int]:
    """(items seen, peak bytes allocated while iterating) for client.contacts.list().

    An httpx response refers to itself (through its stream), so a page's response, once dropped,
    waits for the cyclic collector, whose timing depends on how many objects the program makes.
    Collecting after each page measures what the pager holds, not when the collector runs."""
    gc.collect()
    tracemalloc.start()
    try:
        count = 0
        # A page under tracemalloc on a loaded machine can take over the fixture's 2 s: its retry
        # would be one request more than the pages the test counts.
        for _ in client.contacts.list(timeout=60.0):
            count += 1
            if count % 200 == 0:
                gc.collect()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, peak


def test_listing_10000_contacts_takes_50_requests_in_flat_memory(
    fake_sage: Any, client: SageAccounting
) -> None:
    # Each size is listed once before it is measured: pydantic keeps up to 16,384 short strings
    # it has parsed (ids, paths) in a bounded cache, which would count against the larger run
    # (the sandbox's ids are Sage's 32 hex digits). What is measured is what a page costs.
    fake_sage.seed("contacts", 2_000)
    peak_memory_listing(client)
    small_count, small_peak = peak_memory_listing(client)
    assert small_count == 2_000 and fake_sage.count("GET /contacts") == 2 * 10
    fake_sage.seed("contacts", 8_000)
    peak_memory_listing(client)
    count, peak = peak_memory_listing(client)
    assert count == 10_000
    assert fake_sage.count("GET /contacts") == 2 * (10 + 50)  # 200 a page: exactly 50 requests
    # One page at a time: five times the records, about the same peak.
    assert peak < small_peak * 1.5, (small_peak, peak)


def test_two_businesses_never_mix(fake_sage: Any, client: SageAccounting) -> None:
    lead, second = fake_sage.state.businesses
    fake_sage.seed("contacts", 450, business=lead)
    fake_sage.seed("contacts", 330, business=second)
    results: dict[str, list[Any]] = {}

    def collect(business: str) -> None:
        results[business] = list(client.with_business(business).contacts.list(attributes="all"))

    threads = [
        threading.Thread(target=collect, args=(b,)) for b in (lead, second) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {c.model_extra["business_id"] for c in results[lead]} == {lead} and len(
        results[lead]
    ) == 450
    assert {c.model_extra["business_id"] for c in results[second]} == {second} and len(
        results[second]
    ) == 330
    assert {b for _m, _p, b in fake_sage.state.requests} == {lead, second}  # always said which


def test_attributes_choose_the_fields(fake_sage: Any, client: SageAccounting) -> None:
    fake_sage.seed("contacts", 1, credit_limit="1500.50", contact_type_ids=["CUSTOMER"])
    (bare,) = list(client.contacts.list())
    assert bare.credit_limit is None and bare.path and bare.displayed_as
    (chosen,) = list(client.contacts.list(attributes=["credit_limit"]))
    assert str(chosen.credit_limit) == "1500.50"


async def test_async_listing_across_pages(fake_sage: Any, aclient: AsyncSageAccounting) -> None:
    fake_sage.seed("contacts", 450)
    async with aclient:
        pager = aclient.contacts.list()
        assert await pager.total == 450
        ids = [c.id async for c in pager]
    assert len(ids) == len(set(ids)) == 450
    assert fake_sage.count("GET /contacts") == 3


# -- faults and retries -------------------------------------------------------------------------------


@pytest.mark.usefixtures("no_backoff")
@pytest.mark.parametrize(
    "fault",
    [
        Fault(status=429, retry_after="0", times=2),
        Fault(status=429, times=2),  # no Retry-After: backoff
        Fault(status=500, times=2),
        Fault(status=502, times=1),
        Fault(status=503, times=2),
        Fault(status=504, times=2),
        Fault(kind="drop", times=2),
        Fault(kind="slow", delay=3.0, times=1),  # beyond the 2 s timeout
    ],
    ids=lambda f: f"{f.kind}-{f.status}-{f.retry_after}",
)
def test_each_fault_is_retried_within_budget(
    fake_sage: Any, client: SageAccounting, fault: Fault
) -> None:
    fake_sage.seed("contacts", 3)
    fault.method, fault.path = "GET", "/contacts"
    fake_sage.inject(fault)
    assert len(list(client.contacts.list())) == 3


@pytest.mark.usefixtures("no_backoff")
@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault(status=429, retry_after="0", times=3), RateLimitError),
        (Fault(status=503, times=3), InternalServerError),
        (Fault(kind="drop", times=3), APIConnectionError),
        (Fault(kind="slow", delay=3.0, times=3), APITimeoutError),
    ],
    ids=lambda v: (
        getattr(v, "kind", "") + str(getattr(v, "status", ""))
        if isinstance(v, Fault)
        else v.__name__
    ),
)
def test_a_fault_outlasting_the_budget_raises_the_typed_error(
    fake_sage: Any, client: SageAccounting, fault: Fault, error: type[Exception]
) -> None:
    fault.method, fault.path = "GET", "/contacts/"
    fake_sage.inject(fault)
    with pytest.raises(error) as raised:
        client.contacts.get("c1")  # 1 try + 2 retries
    assert "/contacts/c1" in str(raised.value)
    assert fake_sage.count("GET /contacts/c1") == 3


@pytest.mark.usefixtures("no_backoff")
@pytest.mark.parametrize(
    "fault",
    [
        Fault(status=500, after=True),
        Fault(status=503, after=True, times=2),
        Fault(kind="drop", after=True),
        Fault(kind="slow", delay=3.0, after=True),
        Fault(status=429, retry_after="0"),
    ],
    ids=lambda f: f"{f.kind}-{f.status}-after-{f.after}",
)
def test_a_retried_post_never_creates_a_duplicate(
    fake_sage: Any, client: SageAccounting, fault: Fault
) -> None:
    fault.method, fault.path = "POST", "/contacts"
    fake_sage.inject(fault)
    created = client.contacts.create(contact=CONTACT)
    records = fake_sage.records("contacts")
    assert list(records) == [created.id]  # the record the first attempt made, answered again


@pytest.mark.usefixtures("no_backoff")
def test_a_post_without_idempotency_id_is_not_retried(
    fake_sage: Any, client: SageAccounting
) -> None:
    fake_sage.inject(Fault(status=500, after=True, method="POST", path="/contacts"))
    with pytest.raises(InternalServerError):
        client.contacts.create(contact=CONTACT, idempotency_id=False)
    assert fake_sage.count("POST /contacts") == 1 and len(fake_sage.records("contacts")) == 1


def test_403_and_422_are_typed_and_explained(fake_sage: Any, client: SageAccounting) -> None:
    fake_sage.inject(
        Fault(status=403, data_code="MultiUserAccessDenied", message="Access denied", method="GET")
    )
    with pytest.raises(PermissionDeniedError) as denied:
        client.sales_invoices.list().first_page()
    assert "Sales (Full Access, Restricted Access, Read Only)" in str(denied.value)
    assert denied.value.business_id is None and denied.value.request_id
    with pytest.raises(UnprocessableEntityError) as invalid:
        client.contacts.create(contact={"name": "x", "contact_type_ids": []})
    assert invalid.value.errors[0].source == "contact_type_ids"


@pytest.mark.usefixtures("no_backoff")
async def test_async_faults_and_idempotent_posts(
    fake_sage: Any, aclient: AsyncSageAccounting
) -> None:
    fake_sage.inject(
        Fault(status=503, method="GET", path="/contacts", times=2),
        Fault(kind="drop", after=True, method="POST", path="/contacts"),
    )
    async with aclient:
        created = await aclient.contacts.create(contact=CONTACT)
        assert [c.id async for c in aclient.contacts.list()] == [created.id]
        with pytest.raises(InternalServerError):
            fake_sage.inject(Fault(status=500, method="GET", path="/contacts/", times=3))
            await aclient.contacts.get(created.id or "")
    assert len(fake_sage.records("contacts")) == 1


# -- change feeds -----------------------------------------------------------------------------------------


def test_changes_yield_upserts_and_deletions_and_a_cursor_that_misses_nothing(
    fake_sage: Any, client: SageAccounting
) -> None:
    ids = fake_sage.seed("contacts", 5, contact_type_ids=["CUSTOMER"])
    feed = client.contacts.changes(since=None, attributes="all")
    first = list(feed)
    assert sorted(present(c.id) for c in first) == sorted(ids) and {c.kind for c in first} == {
        "upsert"
    }
    cursor = feed.cursor
    assert cursor.tzinfo is not None and cursor <= dt.datetime.now(dt.UTC)

    fake_sage.clock.advance(120)  # later changes
    client.contacts.update(ids[0], contact={"notes": "changed"})
    client.contacts.delete(ids[1])
    new = client.contacts.create(contact=CONTACT)
    second_feed = client.contacts.changes(since=cursor)
    changes = {(c.kind, c.id) for c in second_feed}
    # Everything changed since is there; records changed in the cursor's own second may come
    # again (since is inclusive and the cursor errs early), never a deleted one as an upsert.
    assert {("upsert", ids[0]), ("upsert", new.id), ("delete", ids[1])} <= changes
    assert ("upsert", ids[1]) not in changes
    assert second_feed.cursor >= cursor

    with pytest.raises(OutOfOrderError, match="iterate the feed to its end"):
        client.contacts.changes(since=cursor).cursor  # noqa: B018 - not iterated yet
    with pytest.raises(ValueError):
        client.contacts.changes(since=dt.datetime(2026, 1, 1))  # naive: refused


async def test_async_changes(fake_sage: Any, aclient: AsyncSageAccounting) -> None:
    ids = fake_sage.seed("contacts", 3, contact_type_ids=["CUSTOMER"])
    async with aclient:
        feed = aclient.contacts.changes(since=None)
        assert sorted([present(c.id) async for c in feed]) == sorted(ids)
        fake_sage.clock.advance(120)
        fake_sage.delete_record("contacts", ids[2])
        again = aclient.contacts.changes(since=feed.cursor)
        changes = [(c.kind, c.id) async for c in again]
        assert [c for c in changes if c[0] == "delete"] == [("delete", ids[2])]
        assert ("upsert", ids[2]) not in changes


@pytest.mark.parametrize("sage_ahead", [3600.0, -3600.0])
def test_the_cursor_is_the_earlier_clock_less_the_overlap(
    fake_sage: Any, client: SageAccounting, sage_ahead: float
) -> None:
    fake_sage.clock.advance(sage_ahead)  # Sage's clock an hour ahead of ours, or behind
    before = dt.datetime.now(dt.UTC)
    feed = client.contacts.changes(since=None, overlap=30)
    list(feed)
    earlier = before if sage_ahead > 0 else before + dt.timedelta(seconds=sage_ahead)
    expected = earlier.replace(microsecond=0) - dt.timedelta(seconds=30)
    assert abs((feed.cursor - expected).total_seconds()) <= 2


# -- limits -----------------------------------------------------------------------------------------------


def test_requests_in_flight_are_capped_per_app() -> None:
    with SageSandbox(client_id="capped-app", demo_data=False) as sage:
        app = OAuthApp(
            "capped-app",
            sage.state.client_secret,
            sage.state.redirect_uri,
            token_url=sage.token_url,
        )
        tokens = TokenSet.from_response(sage.issue_tokens(), sage.clock.now())
        session = OAuthSession(app, tokens=tokens)
        one = SageAccounting(session=session, base_url=sage.base_url, max_in_flight=3)
        two = SageAccounting(session=session, base_url=sage.base_url)  # same app: same cap
        sage.inject(Fault(kind="slow", delay=0.15, times=100, method="GET"))
        threads = [threading.Thread(target=(one if i % 2 else two).user.get) for i in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sage.state.max_in_flight == 3
        assert sage.count("GET /user") == 12


def test_an_optional_rate_per_business(fake_sage: Any, session: OAuthSession) -> None:
    client = SageAccounting(
        session=session, base_url=fake_sage.base_url, rate_limit=RateLimit(5, per=0.5)
    )
    started = time.monotonic()
    for _ in range(10):
        client.contacts.list().first_page()
    assert time.monotonic() - started >= 0.45  # 5 at once, then 10 per second


# -- raw responses, logs ---------------------------------------------------------------------------------


def test_raw_responses(fake_sage: Any, client: SageAccounting) -> None:
    created = client.contacts.with_raw_response.create(contact=CONTACT)
    assert isinstance(created, APIResponse)
    assert created.status_code == 201 and created.request_id and created.business_id == "biz-lead"
    assert created.parsed.name == "Acme Ltd"
    page = client.contacts.with_raw_response.list()
    assert page.status_code == 200 and [c.id for c in page.parsed.items] == [created.parsed.id]
    deleted = client.contacts.with_raw_response.delete(present(created.parsed.id))
    assert deleted.status_code == 204 and deleted.parsed is None


def test_secrets_stay_out_of_logs_reprs_and_errors(
    fake_sage: Any, oauth_app: OAuthApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    request = oauth_app.authorization_url()
    callback = httpx.get(request.url, follow_redirects=False).headers["location"]
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(callback).query))["code"]
    tokens = oauth_app.exchange_code(
        callback_url=callback, expected_state=request.state, code_verifier=request.code_verifier
    )
    session = OAuthSession(oauth_app, tokens=tokens)
    client = SageAccounting(session=session, base_url=fake_sage.base_url)
    fake_sage.clock.advance(301)
    client.user.get()  # proactive refresh
    newest = present(session.store.load())
    shown = [
        caplog.text,
        repr(session),
        repr(oauth_app),
        repr(tokens),
        repr(newest),
        repr(client),
        repr(request),
    ]
    for failing in (
        lambda: client.contacts.get("missing"),
        lambda: oauth_app.refresh(tokens.refresh_token or ""),
    ):
        with pytest.raises(Exception) as err:
            failing()
        shown += [str(err.value), repr(err.value)]
    text = "\n".join(shown)
    assert "GET /user -> 200" in caplog.text  # the debug line is there...
    secrets = [fake_sage.state.client_secret, code, request.code_verifier, tokens.access_token,
               tokens.refresh_token, newest.access_token, newest.refresh_token]  # fmt: skip
    for secret in secrets:
        assert secret and secret not in text  # ...and no secret in anything shown


def test_retries_are_logged_at_info(
    fake_sage: Any, client: SageAccounting, caplog: pytest.LogCaptureFixture, no_backoff: None
) -> None:
    caplog.set_level(logging.INFO, logger="sage_accounting")
    fake_sage.inject(Fault(status=503, method="GET", path="/user"))
    client.user.get()
    assert any(
        r.levelno == logging.INFO and "retrying GET /user" in r.getMessage() for r in caplog.records
    )


async def test_async_raw_and_business_copy(fake_sage: Any, aclient: AsyncSageAccounting) -> None:
    async with aclient:
        other = aclient.with_business("biz-second")
        raw = await other.contacts.with_raw_response.create(contact=CONTACT)
        assert raw.business_id == "biz-second"
        assert fake_sage.records("contacts", "biz-second") and not fake_sage.records("contacts")
        await asyncio.sleep(0)


async def test_concurrent_pages_keep_order_and_count(
    fake_sage: Any, aclient: AsyncSageAccounting
) -> None:
    ids = fake_sage.seed("contacts", 1_050)
    async with aclient:
        listed = [c.id async for c in aclient.contacts.list().concurrent(4)]
        assert listed == ids  # in order, none twice
        assert fake_sage.count("GET /contacts") == 6  # ceil(1050 / 200): not one more
        fake_sage.inject(Fault(kind="slow", delay=0.1, times=100, method="GET", path="/contacts"))
        before = fake_sage.state.max_in_flight
        fake_sage.state.max_in_flight = 0
        assert len([c async for c in aclient.contacts.list().concurrent(3)]) == 1_050
        assert fake_sage.state.max_in_flight == 3  # a window of three pages, never more
        fake_sage.state.max_in_flight = max(before, 3)
        # An explicit page (or items_per_page, which contains "page=") still works as asked.
        explicit = [
            c.id async for c in aclient.contacts.list(page=5, items_per_page=200).concurrent(4)
        ]
        assert explicit == ids[800:]
        small = [c.id async for c in aclient.contacts.list(items_per_page=500).concurrent(4)]
        assert small == ids
