"""The generated client on the runtime, through an httpx mock transport."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from sage_accounting import (
    BusinessMismatchError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)

BASE = "https://api.accounting.sage.com/v3.1"


def ok(payload: Any = None, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=payload if payload is not None else {}, headers=headers)


def envelope(
    items: list[dict[str, Any]], page: int, total: int, next_: str | None
) -> dict[str, Any]:
    return {
        "$items": items,
        "$total": total,
        "$page": page,
        "$next": next_,
        "$back": None,
        "$itemsPerPage": 2,
    }


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Backoff waits, recorded instead of slept."""
    waited: list[float] = []
    monkeypatch.setattr("sage_accounting._runtime._client.time.sleep", waited.append)
    return waited


# -- arguments ---------------------------------------------------------------------------------------


def test_query_arguments_are_encoded_for_the_wire(make_client: Callable[..., Any]) -> None:
    client, rec = make_client(lambda r: ok(envelope([], 1, 0, None)))
    list(
        client.sales_invoices.list(
            from_date=dt.datetime(2026, 1, 31, 23, 0),  # means a date
            to_date=dt.date(2026, 2, 28),
            updated_or_created_since=dt.datetime(
                2026, 1, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))
            ),
            attributes=["date", "total_amount"],
            has_attachments=True,
        )
    )
    params = rec.requests[0].url.params
    assert params["from_date"] == "2026-01-31"
    assert params["to_date"] == "2026-02-28"
    assert params["updated_or_created_since"] == "2026-01-01T07:30:00Z"
    assert params["attributes"] == "date,total_amount"
    assert params["has_attachments"] == "true"
    assert params["items_per_page"] == "200"  # the largest page when paginating automatically
    assert "page" not in params


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda c: c.contacts.list(page="2"), TypeError),
        (lambda c: c.contacts.list(updated_or_created_since=dt.datetime(2026, 1, 1)), ValueError),
        (lambda c: c.contacts.list(nonexistent=1), TypeError),
        (lambda c: c.contacts.get(""), ValueError),
        (lambda c: c.contacts.get(None), TypeError),  # not a str: a TypeError, as users expect
        (lambda c: c.ledger_accounts.list(visible_in="everywhere"), ValueError),
        (lambda c: c.contacts.create(contact={"contact_type_ids": ["CUSTOMER"]}), ValueError),
        (lambda c: c.contacts.create(contact={"name": "x", "contact_type_ids": ["C"], "credit_limit": 1.5}), ValueError),
    ],
)  # fmt: skip
def test_a_wrong_argument_fails_before_any_request(
    make_client: Callable[..., Any], call: Callable[[Any], Any], error: type[Exception]
) -> None:
    client, rec = make_client(lambda r: ok())
    with pytest.raises(error):
        call(client)
    assert rec.requests == []


def test_path_keys_are_escaped(make_client: Callable[..., Any]) -> None:
    client, rec = make_client(lambda r: ok({"id": "a/b"}))
    client.contacts.get("a/b?c")
    assert rec.requests[0].url.raw_path == b"/v3.1/contacts/a%2Fb%3Fc"


# -- bodies -------------------------------------------------------------------------------------------


def test_post_body_is_wrapped_exact_and_idempotent(make_client: Callable[..., Any]) -> None:
    client, rec = make_client(lambda r: ok({"id": "new", "credit_limit": "100.10"}, 201))
    contact = client.contacts.create(
        contact={
            "name": "Acme",
            "contact_type_ids": ["CUSTOMER"],
            "credit_limit": Decimal("100.10"),
        }
    )
    assert contact.id == "new" and contact.credit_limit == Decimal("100.10")
    request = rec.requests[0]
    assert request.headers["content-type"] == "application/json"
    assert b'"credit_limit":100.10' in request.content
    inner = json.loads(request.content)["contact"]
    assert len(inner["idempotency_id"]) == 32 and int(inner["idempotency_id"], 16) >= 0
    client.contacts.create(contact={"name": "B", "contact_type_ids": ["C"]}, idempotency_id=False)
    assert "idempotency_id" not in json.loads(rec.requests[1].content)["contact"]
    client.contacts.create(
        contact={"name": "C", "contact_type_ids": ["C"]}, idempotency_id="f" * 32
    )
    assert json.loads(rec.requests[2].content)["contact"]["idempotency_id"] == "f" * 32


def test_put_takes_a_model_and_sends_only_what_was_set(make_client: Callable[..., Any]) -> None:
    from sage_accounting.models import ContactUpdate

    client, rec = make_client(lambda r: ok({"id": "c1"}))
    client.contacts.update("c1", contact=ContactUpdate(notes="hello"))
    assert json.loads(rec.requests[0].content) == {"contact": {"notes": "hello"}}
    assert rec.requests[0].method == "PUT"


def test_delete_returns_none_and_files_return_bytes(make_client: Callable[..., Any]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            return httpx.Response(204)
        return httpx.Response(200, content=b"%PDF-1.7 bytes")

    client, rec = make_client(handler)
    assert client.contacts.delete("c1") is None
    assert client.attachments.get_file("a1") == b"%PDF-1.7 bytes"
    assert rec.requests[1].headers["accept"] == "application/octet-stream"
    assert rec.requests[1].url.path == "/v3.1/attachments/a1/file"


# -- business -----------------------------------------------------------------------------------------


def test_business_header_default_copy_and_per_call(make_client: Callable[..., Any]) -> None:
    client, rec = make_client(
        lambda r: ok({"id": "x"}, **{"X-Business": r.headers.get("x-business", "lead")}),
        business_id="b1",
    )
    client.contacts.get("x")
    other = client.with_business("b2")
    other.contacts.get("x")
    client.contacts.get("x", business_id="b3")
    assert [r.headers["x-business"] for r in rec.requests] == ["b1", "b2", "b3"]
    assert other._http is client._http  # the copy shares the connection pool
    assert client.business_id == "b1" and other.business_id == "b2"


def test_an_answer_for_another_business_raises(make_client: Callable[..., Any]) -> None:
    client, _ = make_client(
        lambda r: ok({"id": "x"}, 200, **{"X-Business": "someone-else"}), business_id="b1"
    )
    with pytest.raises(BusinessMismatchError, match="b1.*someone-else"):
        client.contacts.get("x")


# -- pagination ---------------------------------------------------------------------------------------


def items(prefix: str, n: int) -> list[dict[str, Any]]:
    return [{"id": f"{prefix}{i}", "displayed_as": f"{prefix}{i}"} for i in range(n)]


def test_pager_follows_next_by_concatenation(make_client: Callable[..., Any]) -> None:
    pages = {
        "1": envelope(items("a", 2), 1, 5, "/contacts?page=2&items_per_page=2"),
        "2": envelope(items("b", 2), 2, 5, "/contacts?page=3&items_per_page=2"),
        "3": envelope(items("c", 1), 3, 5, None),
    }
    client, rec = make_client(lambda r: ok(pages[r.url.params.get("page", "1")]))
    pager = client.contacts.list(items_per_page=2)
    assert pager.total == 5
    assert [c.id for c in pager] == ["a0", "a1", "b0", "b1", "c0"]
    assert [str(r.url) for r in rec.requests] == [
        f"{BASE}/contacts?items_per_page=2",
        f"{BASE}/contacts?page=2&items_per_page=2",
        f"{BASE}/contacts?page=3&items_per_page=2",
    ]


def test_pager_falls_back_on_total_and_stops_on_a_repeated_page(
    make_client: Callable[..., Any],
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        # No $next at all; a page past the end repeats the last one, as Sage does.
        shown = min(page, 2)
        return ok(envelope(items(f"p{shown}-", 2), shown, 6, None))

    client, rec = make_client(handler)
    ids = [c.id for c in client.contacts.list(items_per_page=2)]
    assert ids == ["p1-0", "p1-1", "p2-0", "p2-1"]
    assert len(rec.requests) == 3  # the third answer repeated page 2: stop


def test_pager_stops_on_an_empty_page_and_gives_whole_pages(
    make_client: Callable[..., Any],
) -> None:
    responses = iter(
        [
            envelope(items("a", 2), 1, 99, "/contacts?page=2"),
            envelope([], 2, 99, "/contacts?page=3"),
        ]
    )
    client, rec = make_client(lambda r: ok(next(responses)))
    pages = list(client.contacts.list().pages())
    assert [len(p.items) for p in pages] == [2, 0]
    assert len(rec.requests) == 2


# -- errors and retries ---------------------------------------------------------------------------------


def sage_error(
    status: int, code: str, message: str, source: str = "", **headers: str
) -> httpx.Response:
    body = [{"$severity": "error", "$dataCode": code, "$message": message, "$source": source}]
    return httpx.Response(status, json=body, headers=headers)


def test_403_names_the_areas_and_roles_the_operation_needs(make_client: Callable[..., Any]) -> None:
    client, _ = make_client(
        lambda r: sage_error(
            403, "MultiUserAccessDenied", "Access denied", **{"X-Request-Id": "req-9"}
        ),
        business_id="b1",
    )
    with pytest.raises(PermissionDeniedError) as err:
        client.sales_invoices.create(
            sales_invoice={"contact_id": "c", "date": "2026-01-01", "invoice_lines": []}
        )
    text = str(err.value)
    assert "\n" not in text
    assert "403 on POST /sales_invoices" in text and "req-9" in text and "b1" in text
    assert "MultiUserAccessDenied" in text and "Sales (Full Access, Restricted Access)" in text
    assert err.value.request_id == "req-9" and err.value.data_code == "MultiUserAccessDenied"


def test_422_lists_each_problem_with_its_source(make_client: Callable[..., Any]) -> None:
    client, _ = make_client(
        lambda r: sage_error(422, "RecordInvalid", "is not valid", "line_items.tax_rate_id")
    )
    with pytest.raises(UnprocessableEntityError) as err:
        client.contacts.create(contact={"name": "x", "contact_type_ids": ["C"]})
    (detail,) = err.value.errors
    assert (detail.severity, detail.data_code, detail.source) == (
        "error",
        "RecordInvalid",
        "line_items.tax_rate_id",
    )


def test_404_is_not_retried(make_client: Callable[..., Any], sleeps: list[float]) -> None:
    client, rec = make_client(lambda r: sage_error(404, "RecordNotFound", "no such contact"))
    with pytest.raises(NotFoundError):
        client.contacts.get("nope")
    assert len(rec.requests) == 1 and sleeps == []


def test_get_is_retried_on_5xx_with_backoff(
    make_client: Callable[..., Any], sleeps: list[float]
) -> None:
    answers = iter([httpx.Response(503), httpx.Response(502), ok({"id": "c1"})])
    client, rec = make_client(lambda r: next(answers))
    assert client.contacts.get("c1").id == "c1"
    assert len(rec.requests) == 3
    assert 0.375 <= sleeps[0] <= 0.5 and 0.75 <= sleeps[1] <= 1.0


def test_post_is_retried_only_with_its_idempotency_id(
    make_client: Callable[..., Any], sleeps: list[float]
) -> None:
    answers = iter([httpx.Response(500), ok({"id": "c1"}, 201)])
    client, rec = make_client(lambda r: next(answers))
    client.contacts.create(contact={"name": "x", "contact_type_ids": ["C"]})
    assert len(rec.requests) == 2 and rec.requests[0].content == rec.requests[1].content

    client, rec = make_client(lambda r: httpx.Response(500))
    with pytest.raises(Exception, match="500"):
        client.contacts.create(
            contact={"name": "x", "contact_type_ids": ["C"]}, idempotency_id=False
        )
    assert len(rec.requests) == 1


def test_retry_after_is_honoured_up_to_a_cap(
    make_client: Callable[..., Any], sleeps: list[float]
) -> None:
    answers = iter(
        [sage_error(429, "RateLimited", "slow down", **{"Retry-After": "3"}), ok({"id": "c1"})]
    )
    client, _ = make_client(lambda r: next(answers))
    client.contacts.get("c1")
    assert sleeps == [3.0]

    client, rec = make_client(
        lambda r: sage_error(429, "RateLimited", "tomorrow", **{"Retry-After": "3600"})
    )
    with pytest.raises(RateLimitError) as err:
        client.contacts.get("c1")
    assert err.value.retry_after == 3600 and len(rec.requests) == 1


def test_connection_errors_are_retried_then_raised(
    make_client: Callable[..., Any], sleeps: list[float]
) -> None:
    from sage_accounting import APIConnectionError

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client, rec = make_client(handler)
    with pytest.raises(APIConnectionError):
        client.contacts.get("c1", max_retries=1)
    assert len(rec.requests) == 2


def test_no_token_in_repr_or_debug_logs(
    make_client: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    client, _ = make_client(
        lambda r: sage_error(401, "Unauthorized", "expired"), access_token="SECRET-TOKEN-123"
    )
    caplog.set_level(logging.DEBUG, logger="sage_accounting")
    with pytest.raises(Exception) as err:
        client.contacts.get("c1")
    assert "SECRET-TOKEN-123" not in repr(client) + str(err.value) + repr(err.value) + caplog.text
    assert "GET /contacts/c1 -> 401" in caplog.text


# -- async ----------------------------------------------------------------------------------------------


async def test_async_client_lists_creates_and_raises(make_async_client: Callable[..., Any]) -> None:
    pages = {
        "1": envelope(items("a", 2), 1, 3, "/contacts?page=2&items_per_page=2"),
        "2": envelope(items("b", 1), 2, 3, None),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return ok({"id": "new"}, 201)
        if request.method == "DELETE":
            return httpx.Response(204)
        if request.url.path.endswith("/contacts"):
            return ok(pages[request.url.params.get("page", "1")])
        return sage_error(404, "RecordNotFound", "gone")

    client, rec = make_async_client(handler)
    async with client:
        pager = client.contacts.list(items_per_page=2)
        assert await pager.total == 3
        assert [c.id async for c in pager] == ["a0", "a1", "b0"]
        created = await client.contacts.create(contact={"name": "x", "contact_type_ids": ["C"]})
        assert created.id == "new"
        with pytest.raises(NotFoundError):
            await client.contacts.get("c9")
        assert await client.contacts.delete("c1") is None


def test_retry_after_as_seconds_or_an_http_date() -> None:
    from email.utils import formatdate

    from sage_accounting._runtime._retry import backoff_delay, parse_retry_after

    now = 1_800_000_000.0
    assert parse_retry_after(httpx.Headers({"Retry-After": "7"}), now) == 7.0
    assert (
        parse_retry_after(httpx.Headers({"Retry-After": formatdate(now + 30, usegmt=True)}), now)
        == 30.0
    )
    assert (
        parse_retry_after(httpx.Headers({"Retry-After": formatdate(now - 30, usegmt=True)}), now)
        == 0.0
    )
    assert parse_retry_after(httpx.Headers({"Retry-After": "soon"}), now) is None
    assert parse_retry_after(httpx.Headers(), now) is None
    # The documented backoff: 0.5 s doubling to 8 s, each up to 25 % shorter.
    assert [backoff_delay(n, rand=0.0) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert backoff_delay(1, rand=1.0) == 0.75


def test_copies_share_the_connection_pool_made_on_first_use() -> None:
    from sage_accounting import SageAccounting

    client = SageAccounting(access_token="t")
    other = client.with_business("b2").with_options(timeout=5)
    assert other._http is client._http  # one pool, made when first needed, for every copy
    client.close()
    assert client._pool.owned_instance is not None and client._pool.owned_instance.is_closed


def test_per_call_options_reach_the_request(make_client: Callable[..., Any]) -> None:
    client, rec = make_client(lambda r: ok({"id": "c1"}))
    client.contacts.get(
        "c1", extra_headers={"X-Trace": "t-1"}, extra_query={"beta": "yes"}, attributes="all"
    )
    request = rec.requests[0]
    assert request.headers["x-trace"] == "t-1"
    assert request.url.params["beta"] == "yes" and request.url.params["attributes"] == "all"
    assert request.headers["user-agent"].startswith("sage-accounting-python/")
    assert request.headers["authorization"] == "Bearer test-token"


def test_a_per_call_timeout_is_used(fake_sage: Any) -> None:
    from sage_accounting import APITimeoutError, SageAccounting
    from sage_accounting.testing import Fault

    client = SageAccounting(
        access_token=fake_sage.issue_tokens()["access_token"], base_url=fake_sage.base_url
    )
    fake_sage.inject(Fault(kind="slow", delay=1.0, method="GET", path="/user"))
    started = time.monotonic()
    with pytest.raises(APITimeoutError):
        client.user.get(timeout=0.2, max_retries=0)
    assert time.monotonic() - started < 0.9
