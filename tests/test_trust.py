"""Issue 8, the transport half: one focused test per fault found (each failed before its fix).

Mock transports only; the same faults against a real socket server are in ``tests/faults/``.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from sage_accounting import (
    APIResponseValidationError,
    ArgumentTypeError,
    ArgumentValueError,
    BadRequestError,
    ClientClosedError,
    InternalServerError,
    MissingBusinessHeaderError,
    MissingBusinessHeaderWarning,
    RedirectError,
    RequestValidationError,
    SageArgumentError,
    SageError,
    UntrustedURLError,
)
from sage_accounting.resources import contacts

TOKEN = "trust-test-token-0123456789"


def ok(payload: Any, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=payload, headers=headers)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waited: list[float] = []
    monkeypatch.setattr("sage_accounting._runtime._client.time.sleep", waited.append)
    return waited


# -- 1. the token never leaves the base URL ---------------------------------------------------------


def page_with_next(next_link: str) -> dict[str, Any]:
    return {"$items": [{"id": "a"}], "$total": 5, "$page": 1, "$next": next_link}


@pytest.mark.parametrize(
    "link",
    [
        "http://evil.example/steal",
        "https://api.accounting.sage.com.evil.example/v3.1/contacts?page=2",
        "http://api.accounting.sage.com/v3.1/contacts?page=2",  # scheme downgrade
        "https://api.accounting.sage.com:8443/v3.1/contacts?page=2",  # another port
        "https://api.accounting.sage.com/v2/contacts?page=2",  # outside the base path
        "/../../steal",  # concatenated, then normalised out of /v3.1
        "/%2e%2e/steal",
        "contacts?page=2",  # relative to nothing
        "http://[::1",  # not a URL
    ],
)
def test_a_next_link_outside_the_base_url_is_refused(
    make_client: Callable[..., Any], link: str
) -> None:
    client, rec = make_client(lambda r: ok(page_with_next(link)), access_token=TOKEN)
    with pytest.raises(UntrustedURLError) as err:
        list(client.contacts.list())
    assert len(rec.requests) == 1  # page 1 only: nothing sent to the link
    assert "$next" in str(err.value)


def test_a_next_link_within_the_base_url_is_followed_absolute_or_relative(
    make_client: Callable[..., Any],
) -> None:
    pages = {
        "1": page_with_next("https://api.accounting.sage.com/v3.1/contacts?page=2"),
        "2": {"$items": [{"id": "b"}], "$total": 2, "$page": 2, "$next": None},
    }
    client, rec = make_client(lambda r: ok(pages[r.url.params.get("page", "1")]))
    assert [c.id for c in client.contacts.list()] == ["a", "b"]
    assert len(rec.requests) == 2


async def test_the_async_pager_refuses_a_foreign_next_link(
    make_async_client: Callable[..., Any],
) -> None:
    client, rec = make_async_client(lambda r: ok(page_with_next("http://evil.example/steal")))
    with pytest.raises(UntrustedURLError):
        [c async for c in client.contacts.list()]
    assert [r.url.host for r in rec.requests] == ["api.accounting.sage.com"]


def test_send_never_attaches_the_token_outside_the_base_url(
    make_client: Callable[..., Any],
) -> None:
    client, rec = make_client(lambda r: ok({}), access_token=TOKEN)
    prepared = client.prepare(contacts.GET_CONTACTS_KEY, path={"key": "c1"})
    with pytest.raises(UntrustedURLError):
        client.send(prepared.with_url("https://evil.example/v3.1/contacts/c1"))
    assert rec.requests == []


def test_a_redirect_is_an_error_even_with_a_client_that_follows_redirects() -> None:
    from sage_accounting import SageAccounting

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"Location": "https://evil.example/steal"})

    http = httpx.Client(transport=httpx.MockTransport(handler), follow_redirects=True)
    client = SageAccounting(access_token=TOKEN, http_client=http)
    with pytest.raises(RedirectError) as err:
        client.contacts.get("c1")
    assert [r.url.host for r in seen] == ["api.accounting.sage.com"]
    assert err.value.status_code == 302 and "evil.example/steal" in str(err.value)


# -- 3. dot segments ----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [".", ".."])
def test_dot_ids_are_refused_before_any_request(make_client: Callable[..., Any], key: str) -> None:
    client, rec = make_client(lambda r: httpx.Response(204))
    with pytest.raises(ArgumentValueError, match="key"):
        client.contacts.delete(key)
    with pytest.raises(ArgumentValueError, match="key"):
        client.contacts.get(key)
    assert rec.requests == []


def test_ids_with_dots_inside_are_sent_as_one_segment(make_client: Callable[..., Any]) -> None:
    client, rec = make_client(lambda r: ok({"id": "x"}))
    client.contacts.get("...")
    client.contacts.get("a.b")
    assert [r.url.raw_path for r in rec.requests] == [b"/v3.1/contacts/...", b"/v3.1/contacts/a.b"]


# -- 4. malformed success bodies ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"   ", "empty"),
        (b"null", "not a JSON object"),
        (b"[1, 2]", "not a JSON object"),
        (b"<html><body>Gateway</body></html>", "not a JSON object"),
        (b'{"id": "x"', "JSON"),
        (b'{"$items": [], "$total": 0}', "a list where one record"),
        (b'{"name": "\xff\xfe"}', "not UTF-8"),
        (b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
        (b'{"a": 12345678901234567.5, "b":' + b"[" * 100_000 + b"]" * 100_000 + b"}", "deep"),
    ],
)
def test_a_malformed_success_body_is_a_typed_error(
    make_client: Callable[..., Any], content: bytes, reason: str
) -> None:
    client, _ = make_client(
        lambda r: httpx.Response(200, content=content, headers={"X-Request-Id": "req-4"})
    )
    with pytest.raises(APIResponseValidationError) as err:
        client.contacts.get("c1")
    error = err.value
    assert error.status_code == 200 and error.request_id == "req-4"
    assert reason.lower() in str(error).lower()
    assert len(error.body_excerpt) <= 500


@pytest.mark.parametrize(
    "content", [b"", b"null", b'{"id": "x"}', b"<html></html>", b"[" * 100_000 + b"]" * 100_000]
)
def test_a_malformed_list_page_is_a_typed_error(
    make_client: Callable[..., Any], content: bytes
) -> None:
    client, _ = make_client(lambda r: httpx.Response(200, content=content))
    with pytest.raises(APIResponseValidationError):
        list(client.contacts.list())


def test_a_utf8_bom_is_accepted(make_client: Callable[..., Any]) -> None:
    bom = b"\xef\xbb\xbf"
    client, _ = make_client(
        lambda r: httpx.Response(
            200,
            content=bom
            + (
                b'{"$items": [{"id": "a"}], "$total": 1}'
                if r.url.path.endswith("s")
                else b'{"id": "x"}'
            ),
        )
    )
    assert client.contacts.get("c1").id == "x"
    assert [c.id for c in client.contacts.list()] == ["a"]


def test_a_deeply_nested_error_body_is_a_plain_status_error(
    make_client: Callable[..., Any],
) -> None:
    client, _ = make_client(lambda r: httpx.Response(400, content=b"[" * 100_000 + b"]" * 100_000))
    with pytest.raises(BadRequestError) as err:
        client.contacts.get("c1")
    assert len(str(err.value)) < 1000


def test_a_secret_in_a_malformed_body_is_redacted(make_client: Callable[..., Any]) -> None:
    client, _ = make_client(
        lambda r: httpx.Response(200, content=f"<html>Bearer {TOKEN}</html>".encode()),
        access_token=TOKEN,
    )
    with pytest.raises(APIResponseValidationError) as err:
        client.contacts.get("c1")
    assert TOKEN not in str(err.value) + repr(err.value) + err.value.body_excerpt


# -- 5. the business header ----------------------------------------------------------------------------


def echo_business(request: httpx.Request) -> httpx.Response:
    return ok({"id": "x"}, **{"X-Business": request.headers.get("x-business", "lead")})


def test_business_id_none_per_call_means_the_clients_business(
    make_client: Callable[..., Any],
) -> None:
    client, rec = make_client(echo_business, business_id="b1")
    client.contacts.get("x", business_id=None)
    assert rec.requests[0].headers.get_list("x-business") == ["b1"]


@pytest.mark.parametrize(
    ("business_id", "error"),
    [
        ("", ArgumentValueError),
        ("b1\r\nX-Evil: 1", ArgumentValueError),
        ("bücher", ArgumentValueError),
        (42, ArgumentTypeError),
    ],
)
def test_a_bad_business_id_is_refused_before_any_request(
    make_client: Callable[..., Any], business_id: Any, error: type[Exception]
) -> None:
    client, rec = make_client(echo_business, business_id="b1")
    with pytest.raises(error, match="business_id"):
        client.contacts.get("x", business_id=business_id)
    with pytest.raises(error, match="business_id"):
        client.with_business(business_id)
    assert rec.requests == []


def test_headers_merge_case_insensitively(make_client: Callable[..., Any]) -> None:
    client, rec = make_client(
        echo_business, business_id="b1", default_headers={"user-agent": "mine/1"}
    )
    client.contacts.get("x", extra_headers={"x-business": "b2", "accept": "application/json"})
    request = rec.requests[0]
    assert request.headers.get_list("x-business") == ["b2"]
    assert request.headers.get_list("accept") == ["application/json"]
    assert request.headers.get_list("user-agent") == ["mine/1"]


@pytest.mark.parametrize(
    "headers", [{"X-Trace": "a\r\nb"}, {"X-Trace": "naïve"}, {"X-T\nrace": "a"}]
)
def test_a_bad_extra_header_is_refused_before_any_request(
    make_client: Callable[..., Any], headers: dict[str, str]
) -> None:
    client, rec = make_client(echo_business)
    with pytest.raises(ArgumentValueError, match="extra_headers"):
        client.contacts.get("x", extra_headers=headers)
    assert rec.requests == []


def test_a_missing_business_header_warns_by_default_or_raises(
    make_client: Callable[..., Any],
) -> None:
    client, _ = make_client(lambda r: ok({"id": "x"}), business_id="b1")
    with pytest.warns(MissingBusinessHeaderWarning, match="b1"):
        client.contacts.get("x")
    strict, _ = make_client(
        lambda r: ok({"id": "x"}), business_id="b1", missing_business_header="error"
    )
    with pytest.raises(MissingBusinessHeaderError, match="b1"):
        strict.contacts.get("x")
    # /businesses and /user are not about one business: Sage sends no header there.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        strict.user.get()
    quiet, _ = make_client(
        lambda r: ok({"id": "x"}), business_id="b1", missing_business_header="ignore"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet.contacts.get("x")


# -- 6. Retry-After on every retryable status -------------------------------------------------------------


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_retry_after_is_honoured_on_every_retryable_status(
    make_client: Callable[..., Any], sleeps: list[float], status: int
) -> None:
    answers = iter([httpx.Response(status, headers={"Retry-After": "3"}), ok({"id": "c1"})])
    client, _ = make_client(lambda r: next(answers))
    client.contacts.get("c1")
    assert sleeps == [3.0]


@pytest.mark.parametrize("value", ["-5", "soon", "nan", "inf", "Mon, 99 Foo 2026 99:99:99 GMT"])
def test_an_unreadable_retry_after_falls_back_on_backoff(
    make_client: Callable[..., Any], sleeps: list[float], value: str
) -> None:
    answers = iter([httpx.Response(503, headers={"Retry-After": value}), ok({"id": "c1"})])
    client, _ = make_client(lambda r: next(answers))
    client.contacts.get("c1")
    assert len(sleeps) == 1 and 0.375 <= sleeps[0] <= 0.5  # the first backoff step


# -- 7. copies and closing -----------------------------------------------------------------------------


def test_closing_a_copy_does_not_close_the_parent(make_client: Callable[..., Any]) -> None:
    from sage_accounting import SageAccounting

    calls: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return echo_business(request)

    transport = httpx.MockTransport(record)
    client = SageAccounting(access_token=TOKEN, business_id="b1")
    client._pool._make = lambda: httpx.Client(transport=transport)  # the pool it owns
    with client.with_business("b2") as other:
        other.contacts.get("x")
    with pytest.raises(ClientClosedError):
        other.contacts.get("x")
    assert client.contacts.get("x").id == "x"  # the parent goes on
    client.close()
    with pytest.raises(ClientClosedError):
        client.contacts.get("x")
    with pytest.raises(ClientClosedError):
        client.with_options(timeout=3).contacts.get("x")  # a copy of a closed parent
    assert len(calls) == 2


async def test_closing_an_async_copy_does_not_close_the_parent() -> None:
    from sage_accounting import AsyncSageAccounting

    transport = httpx.MockTransport(echo_business)
    client = AsyncSageAccounting(access_token=TOKEN, business_id="b1")
    client._pool._make = lambda: httpx.AsyncClient(transport=transport)
    async with client.with_business("b2") as other:
        await other.contacts.get("x")
    assert (await client.contacts.get("x")).id == "x"
    await client.close()
    with pytest.raises(ClientClosedError):
        await client.contacts.get("x")


def test_a_closed_user_supplied_http_client_is_a_typed_error() -> None:
    from sage_accounting import SageAccounting

    http = httpx.Client(transport=httpx.MockTransport(echo_business))
    client = SageAccounting(access_token=TOKEN, http_client=http)
    http.close()
    with pytest.raises(ClientClosedError, match="http_client"):
        client.contacts.get("x")


# -- 8. argument errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "argument"),
    [
        (lambda c: c.contacts.create(contact={"name": "x"}), RequestValidationError, "contact"),
        (lambda c: c.contacts.create(contact=42), RequestValidationError, "contact"),
        (lambda c: c.contacts.get(123), ArgumentTypeError, "key"),
        (lambda c: c.contacts.get("x" * 10_000_000), ArgumentValueError, "key"),
        (lambda c: c.contacts.list(page="2"), ArgumentTypeError, "page"),
        (lambda c: c.contacts.list(nonexistent=1), ArgumentTypeError, "nonexistent"),
        (lambda c: c.contacts.list(updated_or_created_since="yesterday"), ArgumentValueError, "updated_or_created_since"),
        (lambda c: c.contacts.get("x", business_id="a\nb"), ArgumentValueError, "business_id"),
        (lambda c: c.contacts.get("x", business_id="ü"), ArgumentValueError, "business_id"),
        (lambda c: c.contacts.create(contact={"name": "x", "contact_type_ids": ["C"], "credit_limit": Decimal("NaN")}), RequestValidationError, "contact"),
        # An undeclared key is refused before its value reaches the encoder (a float there too).
        (lambda c: c.contacts.create(contact={"name": "x", "contact_type_ids": ["C"], "extra": 1.5}), RequestValidationError, "contact"),
        (lambda c: c.contacts.create(contact={"name": "x", "contact_type_ids": ["C"]}, idempotency_id=7), ArgumentValueError, "idempotency_id"),
    ],
)  # fmt: skip
def test_argument_errors_are_typed_name_the_argument_and_send_nothing(
    make_client: Callable[..., Any],
    call: Callable[[Any], Any],
    error: type[SageArgumentError],
    argument: str,
) -> None:
    client, rec = make_client(lambda r: ok({"id": "x"}))
    with pytest.raises(error) as err:
        call(client)
    assert isinstance(err.value, SageArgumentError) and err.value.argument == argument
    assert str(err.value).startswith(argument) and len(str(err.value)) < 500
    assert rec.requests == []


def test_a_body_validation_error_names_each_field(make_client: Callable[..., Any]) -> None:
    client, _ = make_client(lambda r: ok({"id": "x"}))
    with pytest.raises(RequestValidationError) as err:
        client.contacts.create(contact={"name": "x", "credit_limit": 1.5})
    fields = [loc for loc, _ in err.value.errors]
    assert "contact_type_ids" in fields and "credit_limit" in fields
    assert isinstance(err.value, ValueError)


def test_constructor_arguments_are_typed() -> None:
    from sage_accounting import SageAccounting

    with pytest.raises(ArgumentTypeError):
        SageAccounting()
    with pytest.raises(ArgumentValueError, match="business_id"):
        SageAccounting(access_token=TOKEN, business_id="b\r\n")
    with pytest.raises(ArgumentValueError, match="missing_business_header"):
        SageAccounting(access_token=TOKEN, missing_business_header="maybe")  # type: ignore[arg-type]


# -- 10. secrets in what Sage sends back -------------------------------------------------------------


def test_sage_echoing_the_token_is_redacted_from_errors_and_logs(
    make_client: Callable[..., Any], caplog: pytest.LogCaptureFixture, sleeps: list[float]
) -> None:
    echo = [{"$dataCode": "Bad", "$message": f"token {TOKEN} rejected", "$source": TOKEN}]
    client, _ = make_client(
        lambda r: ok(echo, 500, Location=f"https://x/?access_token={TOKEN}"), access_token=TOKEN
    )
    caplog.set_level(logging.DEBUG, logger="sage_accounting")
    with pytest.raises(InternalServerError) as err:
        client.contacts.get(TOKEN)  # even an id that happens to be the token
    error = err.value
    text = str(error) + repr(error) + repr(error.body) + repr(error.errors) + error.path
    assert TOKEN not in text + caplog.text
    assert "[REDACTED]" in str(error)


def test_every_error_is_a_sage_error() -> None:
    for cls in (
        APIResponseValidationError,
        ClientClosedError,
        UntrustedURLError,
        RedirectError,
        MissingBusinessHeaderError,
        RequestValidationError,
    ):
        assert issubclass(cls, SageError)
    assert issubclass(ArgumentTypeError, TypeError) and issubclass(ArgumentValueError, ValueError)


def test_a_204_where_a_record_is_declared_is_an_empty_record(
    make_client: Callable[..., Any],
) -> None:
    client, _ = make_client(lambda r: httpx.Response(204))
    voided = client.sales_invoices.delete("i1")
    assert voided.id is None and voided.model_fields_set == set()
