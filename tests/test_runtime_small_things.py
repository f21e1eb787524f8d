"""Small things users expect of the runtime: configuration from the environment, streaming a
file, the response on ``APIStatusError``, DEBUG lines naming business and page, the 403 hint."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sage_accounting import (
    AsyncSageAccounting,
    BusinessMismatchError,
    NotFoundError,
    OAuthApp,
    OutOfOrderError,
    PermissionDeniedError,
    RateLimitError,
    SageAccounting,
)

PDF = b"%PDF-1.4 " + bytes(range(256)) * 1000  # 256 kB: several chunks


def sage_error(status: int, code: str, message: str, **headers: str) -> httpx.Response:
    body = [{"$severity": "error", "$dataCode": code, "$message": message, "$source": ""}]
    return httpx.Response(status, json=body, headers=headers)


def echo_business(request: httpx.Request) -> dict[str, str]:
    """Sage answers with the business it answered for."""
    return {"X-Business": request.headers.get("X-Business", "")}


# -- the environment --------------------------------------------------------------------------------


@pytest.fixture
def sage_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("SAGE_ACCESS_TOKEN", "env-token-0123456789")
    monkeypatch.setenv("SAGE_BUSINESS_ID", "env-business")
    monkeypatch.setenv("SAGE_BASE_URL", "https://sandbox.example/v3.1/")
    return monkeypatch


def test_client_reads_token_business_and_base_url_from_the_environment(
    sage_env: pytest.MonkeyPatch,
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "c1"}, headers=echo_business(request))

    http = httpx.Client(transport=httpx.MockTransport(handler))
    client = SageAccounting(http_client=http)
    client.contacts.get("c1")
    assert str(seen[0].url) == "https://sandbox.example/v3.1/contacts/c1"
    assert seen[0].headers["Authorization"] == "Bearer env-token-0123456789"
    assert seen[0].headers["X-Business"] == "env-business"
    assert "env-token" not in repr(client)


def test_arguments_win_over_the_environment(sage_env: pytest.MonkeyPatch) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "c1"}, headers=echo_business(request))

    http = httpx.Client(transport=httpx.MockTransport(handler))
    client = SageAccounting(
        access_token="arg-token", business_id="arg-business", base_url="https://x.test/v3.1",
        http_client=http,
    )  # fmt: skip
    client.contacts.get("c1")
    assert str(seen[0].url).startswith("https://x.test/v3.1/")
    assert seen[0].headers["Authorization"] == "Bearer arg-token"
    assert seen[0].headers["X-Business"] == "arg-business"


def test_no_token_anywhere_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAGE_ACCESS_TOKEN", raising=False)
    with pytest.raises(TypeError, match="SAGE_ACCESS_TOKEN"):
        SageAccounting()


def test_empty_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAGE_ACCESS_TOKEN", "")
    with pytest.raises(TypeError, match="SAGE_ACCESS_TOKEN"):
        SageAccounting()


def test_oauth_app_from_the_environment_keeps_the_secret_out_of_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SAGE_CLIENT_ID", "env-client")
    monkeypatch.setenv("SAGE_CLIENT_SECRET", "env-secret-abcdef123")
    monkeypatch.setenv("SAGE_REDIRECT_URI", "http://127.0.0.1:9/callback")
    app = OAuthApp()
    assert (app.client_id, app.redirect_uri) == ("env-client", "http://127.0.0.1:9/callback")
    assert "env-secret" not in repr(app)
    from sage_accounting._runtime._redact import redact

    assert "env-secret-abcdef123" not in redact("Sage echoed env-secret-abcdef123 back")
    assert OAuthApp("arg-client", "s" * 10, "http://h/cb").client_id == "arg-client"


def test_oauth_app_missing_secret_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAGE_CLIENT_SECRET", raising=False)
    with pytest.raises(ValueError, match="SAGE_CLIENT_SECRET"):
        OAuthApp("id", None, "http://127.0.0.1/cb")


# -- streaming a file -------------------------------------------------------------------------------


def file_handler(request: httpx.Request) -> httpx.Response:
    assert request.url.path == "/v3.1/attachments/a1/file"
    assert request.headers["Accept"] == "application/octet-stream"
    return httpx.Response(
        200,
        content=PDF,
        headers={
            "Content-Type": "application/pdf",
            "Content-Disposition": "attachment; filename*=UTF-8''Facture%20n%C2%B01.pdf",
            "X-Request-Id": "req-file",
        },
    )


def test_get_file_streams_in_chunks_with_type_and_name(make_client: Callable[..., Any]) -> None:
    client, _ = make_client(file_handler)
    with client.attachments.with_streaming_response.get_file("a1") as file:
        assert file.content_type == "application/pdf"
        assert file.filename == "Facture n°1.pdf"
        assert file.content_length == len(PDF) and file.request_id == "req-file"
        chunks = list(file.iter_bytes(chunk_size=4096))
    assert len(chunks) > 1 and b"".join(chunks) == PDF
    assert client.attachments.get_file("a1") == PDF  # the whole-bytes form stays


def test_a_file_read_before_its_with_block_is_out_of_order(
    make_client: Callable[..., Any],
) -> None:
    client, _ = make_client(file_handler)
    stream = client.attachments.with_streaming_response.get_file("a1")
    with pytest.raises(OutOfOrderError, match="in a `with` block"):
        stream.content_type  # noqa: B018 - nothing was sent yet
    with stream as file:  # the same stream is still usable the right way
        assert file.content_type == "application/pdf"


def test_get_file_writes_to_a_path_or_into_a_directory(
    make_client: Callable[..., Any], tmp_path: Path
) -> None:
    client, _ = make_client(file_handler)
    with client.attachments.with_streaming_response.get_file("a1") as file:
        written = file.write_to(tmp_path / "out.pdf")
    assert written.read_bytes() == PDF
    with client.attachments.with_streaming_response.get_file("a1") as file:
        written = file.write_to(tmp_path)
    assert written == tmp_path / "Facture n°1.pdf" and written.read_bytes() == PDF
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Facture n°1.pdf", "out.pdf"]


def test_a_file_name_cannot_escape_the_directory(
    make_client: Callable[..., Any], tmp_path: Path
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=b"x", headers={"Content-Disposition": 'attachment; filename="../../evil"'}
        )

    client, _ = make_client(handler)
    inner = tmp_path / "inner"
    inner.mkdir()
    with client.attachments.with_streaming_response.get_file("a1") as file:
        written = file.write_to(inner)
    assert written == inner / "evil"


def test_streaming_an_error_raises_the_typed_error_before_the_block(
    make_client: Callable[..., Any],
) -> None:
    client, _ = make_client(lambda r: sage_error(404, "RecordNotFound", "no attachment"))
    with pytest.raises(NotFoundError, match="RecordNotFound: no attachment"):
        with client.attachments.with_streaming_response.get_file("a1"):
            pytest.fail("the block must not run")


def test_only_methods_answering_a_file_can_be_streamed(
    make_client: Callable[..., Any],
) -> None:
    """Streaming is offered where there is a file to stream: the type checker and the IDE see
    it, and nothing else is there to call by mistake."""
    client, recorder = make_client(file_handler)
    assert callable(client.attachments.with_streaming_response.get_file)
    with pytest.raises(AttributeError):
        client.attachments.with_streaming_response.get  # noqa: B018 (answers JSON)
    with pytest.raises(AttributeError):
        client.contacts.with_streaming_response  # noqa: B018 (no file to stream)
    assert recorder.requests == []


def test_async_get_file_streams(tmp_path: Path) -> None:
    async def main() -> tuple[bytes, Path, str | None]:
        http = httpx.AsyncClient(transport=httpx.MockTransport(file_handler))
        client = AsyncSageAccounting(access_token="t", http_client=http)
        async with client.attachments.with_streaming_response.get_file("a1") as file:
            name = file.filename
            body = b"".join([c async for c in file.aiter_bytes(8192)])
        async with client.attachments.with_streaming_response.get_file("a1") as file:
            written = await file.write_to(tmp_path)
        await http.aclose()
        return body, written, name

    body, written, name = asyncio.run(main())
    assert body == PDF and written.read_bytes() == PDF and name == "Facture n°1.pdf"


class ClosingStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body that records whether it was closed (a connection given back)."""

    def __init__(self) -> None:
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield PDF

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield PDF

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


def test_a_streamed_answer_refused_after_it_arrived_is_closed() -> None:
    """A file answered for another business raises BusinessMismatchError before the block runs:
    the response, never handed out, must not keep its connection (sync and async)."""
    streams: list[ClosingStream] = []

    def handler(request: httpx.Request) -> httpx.Response:
        streams.append(ClosingStream())
        return httpx.Response(200, stream=streams[-1], headers={"X-Business": "other-biz"})

    client = SageAccounting(
        access_token="t",
        business_id="biz-1",
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    with pytest.raises(BusinessMismatchError):
        with client.attachments.with_streaming_response.get_file("a1"):
            pytest.fail("the block must not run")
    assert len(streams) == 1 and streams[0].closed

    async def main() -> None:
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        aclient = AsyncSageAccounting(access_token="t", business_id="biz-1", http_client=http)
        with pytest.raises(BusinessMismatchError):
            async with aclient.attachments.with_streaming_response.get_file("a1"):
                pytest.fail("the block must not run")
        await http.aclose()

    asyncio.run(main())
    assert len(streams) == 2 and streams[1].closed


# -- errors and logs --------------------------------------------------------------------------------


def test_status_error_exposes_the_response(make_client: Callable[..., Any]) -> None:
    client, _ = make_client(
        lambda r: sage_error(429, "TooManyRequests", "slow down", **{"Retry-After": "7"}),
        max_retries=0,
    )
    with pytest.raises(RateLimitError) as err:
        client.contacts.get("c1")
    assert err.value.response is not None and err.value.response.status_code == 429
    assert err.value.headers is not None and err.value.headers["Retry-After"] == "7"


def test_403_hint_is_a_sentence_of_its_own(make_client: Callable[..., Any]) -> None:
    client, _ = make_client(lambda r: sage_error(403, "MultiUserAccessDenied", "Access denied"))
    with pytest.raises(PermissionDeniedError) as err:
        client.contacts.get("c1")
    assert "MultiUserAccessDenied: Access denied. This operation needs one of these roles:" in str(
        err.value
    )


def test_403_business_not_found_has_no_roles_hint(make_client: Callable[..., Any]) -> None:
    client, _ = make_client(lambda r: sage_error(403, "BusinessNotFound", "no such business"))
    with pytest.raises(PermissionDeniedError) as err:
        client.contacts.get("c1")
    assert str(err.value).endswith("BusinessNotFound: no such business")
    assert "roles" not in str(err.value) and err.value.hint is None


def test_debug_lines_name_business_and_page_never_the_token(
    make_client: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    pages = {
        "1": {"$items": [{"id": "c1"}], "$total": 2, "$page": 1, "$next": "/contacts?page=2"},
        "2": {"$items": [{"id": "c2"}], "$total": 2, "$page": 2, "$next": None},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        page = pages[request.url.params.get("page", "1")]
        return httpx.Response(200, json=page, headers=echo_business(request))

    client, _ = make_client(handler, access_token="SECRET-TOKEN-456", business_id="biz-9")
    caplog.set_level(logging.DEBUG, logger="sage_accounting")
    assert [c.id for c in client.contacts.list()] == ["c1", "c2"]
    lines = [r.getMessage() for r in caplog.records if r.name == "sage_accounting"]
    assert any("GET /contacts -> 200" in x and "business biz-9, page 1" in x for x in lines)
    assert any("business biz-9, page 2" in x for x in lines)
    assert "SECRET-TOKEN-456" not in caplog.text


def test_streaming_never_follows_a_redirect(make_client: Callable[..., Any]) -> None:
    from sage_accounting import RedirectError

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.host == "api.accounting.sage.com"  # never the Location's host
        return httpx.Response(302, headers={"Location": "https://elsewhere.example/f"})

    client, recorder = make_client(handler)
    with pytest.raises(RedirectError):
        with client.attachments.with_streaming_response.get_file("a1"):
            pytest.fail("the block must not run")
    assert len(recorder.requests) == 1


def test_debug_lines_quote_the_request_id_sage_sent(
    make_client: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {**echo_business(request), "x-request-id": "req-77"}
        return httpx.Response(200, json={"id": "c1"}, headers=headers)

    client, _ = make_client(handler, business_id="biz-9")
    caplog.set_level(logging.DEBUG, logger="sage_accounting")
    client.contacts.get("c1")
    lines = [r.getMessage() for r in caplog.records if r.name == "sage_accounting"]
    assert any("GET /contacts/c1 -> 200" in x and "request id req-77" in x for x in lines)


def test_a_request_for_another_page_keeps_every_other_field(
    make_client: Callable[..., Any],
) -> None:
    import dataclasses

    client, _ = make_client(lambda request: httpx.Response(200, json={}), business_id="biz-9")
    request = client.contacts.list(search="acme", extra_headers={"X-Trace": "1"})._request
    other = request.with_url(request.url + "&page=2")
    assert other is not request and other.url == request.url + "&page=2"
    assert dataclasses.replace(other, url=request.url) == request
    assert request.url.endswith("items_per_page=200")  # the original is left as it was
