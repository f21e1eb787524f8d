"""OpenTelemetry tracing as a request hook (``sage_accounting.otel.TracingHook``): a span per
attempt, recorded by the real OpenTelemetry SDK (in-memory exporter), against the sandbox."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from sage_accounting import (
    APIConnectionError,
    ArgumentTypeError,
    AsyncSageAccounting,
    NotFoundError,
    OAuthApp,
    OAuthSession,
    PreparedRequest,
    RequestHook,
    SageAccounting,
    SageError,
    TokenSet,
)
from sage_accounting.otel import TracingHook, redacted_url
from sage_accounting.testing import Fault


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


def traced(fake_sage: Any, provider: TracerProvider, **kwargs: Any) -> SageAccounting:
    token = fake_sage.issue_tokens()["access_token"]
    client = SageAccounting(access_token=token, base_url=fake_sage.base_url, **kwargs)
    return client.with_hooks(TracingHook(tracer_provider=provider))


def attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def test_a_span_per_request_named_and_attributed_after_the_http_conventions(
    fake_sage: Any, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    [contact_id] = fake_sage.seed("contacts", 1)
    client = traced(fake_sage, provider).with_business(fake_sage.state.lead_business)
    client.contacts.get(contact_id)
    with pytest.raises(NotFoundError):
        client.contacts.get("no-such-contact")
    found, missing = exporter.get_finished_spans()
    port = httpx.URL(fake_sage.base_url).port
    assert found.name == "GET /contacts/{key}" and found.kind is SpanKind.CLIENT
    assert attributes(found) == {
        "http.request.method": "GET",
        "url.full": f"{fake_sage.base_url}/contacts/{contact_id}",
        "url.template": "/contacts/{key}",
        "server.address": "127.0.0.1",
        "server.port": port,
        "sage.operation.id": "getContactsKey",
        "sage.business.id": fake_sage.state.lead_business,
        "http.response.status_code": 200,
        "sage.request_id": attributes(found)["sage.request_id"],
    }
    assert attributes(found)["sage.request_id"]  # Sage's X-Request-Id, for its support
    assert found.status.status_code is StatusCode.UNSET
    assert attributes(missing)["http.response.status_code"] == 404
    assert attributes(missing)["error.type"] == "404"
    assert missing.status.status_code is StatusCode.ERROR


def test_list_pages_name_their_page_and_a_post_its_idempotency_id(
    fake_sage: Any, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    fake_sage.seed("contacts", 3)
    client = traced(fake_sage, provider)
    assert len(list(client.contacts.list(items_per_page=2))) == 3
    created = client.contacts.create(
        contact={"name": "Traced", "contact_type_ids": ["CUSTOMER"]},
        idempotency_id="0123456789abcdef0123456789abcdef",
    )
    assert created.name == "Traced"
    first, second, post = exporter.get_finished_spans()
    assert (attributes(first)["sage.page"], attributes(second)["sage.page"]) == (1, 2)
    assert attributes(first)["url.full"].endswith("?items_per_page=REDACTED")
    assert attributes(post)["sage.idempotency_id"] == "0123456789abcdef0123456789abcdef"
    assert "sage.page" not in attributes(post) and "sage.business.id" not in attributes(post)


def test_each_retry_is_its_own_span_with_its_resend_count(
    fake_sage: Any, provider: TracerProvider, exporter: InMemorySpanExporter, no_backoff: None
) -> None:
    fake_sage.inject(Fault.server_error(503, times=2, path="/user"))
    traced(fake_sage, provider).user.get()
    spans = exporter.get_finished_spans()
    assert [attributes(s).get("http.request.resend_count") for s in spans] == [None, 1, 2]
    assert [attributes(s)["http.response.status_code"] for s in spans] == [503, 503, 200]
    assert [s.status.status_code for s in spans] == [StatusCode.ERROR] * 2 + [StatusCode.UNSET]


def test_the_401_replayed_after_a_refresh_is_a_span_too(
    fake_sage: Any, oauth_app: OAuthApp, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tokens = TokenSet.from_response(fake_sage.issue_tokens(), fake_sage.clock.now())
    # The client believes the token is still good (as after clock skew): Sage says 401.
    session = OAuthSession(
        oauth_app, tokens=TokenSet(tokens.access_token, tokens.refresh_token, expires_at=0)
    )
    fake_sage.clock.advance(301)
    client = SageAccounting(session=session, base_url=fake_sage.base_url)
    client.with_hooks(TracingHook(tracer_provider=provider)).user.get()
    spans = exporter.get_finished_spans()
    assert [attributes(s)["http.response.status_code"] for s in spans] == [401, 200]
    assert attributes(spans[1])["http.request.resend_count"] == 1


def test_an_attempt_without_an_answer_is_named_by_its_error_class(
    provider: TracerProvider, exporter: InMemorySpanExporter, no_backoff: None
) -> None:
    # Nothing listens on port 9 of 127.0.0.1: every attempt fails to connect.
    client = SageAccounting(access_token="t", base_url="http://127.0.0.1:9", max_retries=1)
    with pytest.raises(APIConnectionError):
        client.with_hooks(TracingHook(tracer_provider=provider)).user.get()
    spans = exporter.get_finished_spans()
    assert [attributes(s)["error.type"] for s in spans] == ["httpx.ConnectError"] * 2
    assert [s.status.status_code for s in spans] == [StatusCode.ERROR] * 2
    assert "http.response.status_code" not in attributes(spans[0])


class Refuse(RequestHook):
    def before_send(self, request: PreparedRequest, *, retry: int) -> None:
        raise SageError("refused by the user's own check")


def test_a_request_stopped_before_sending_ends_its_span(
    fake_sage: Any, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    client = traced(fake_sage, provider).with_hooks(Refuse())
    with pytest.raises(SageError, match="refused"):
        client.user.get()
    [span] = exporter.get_finished_spans()
    assert attributes(span)["error.type"] == "sage_accounting._runtime._errors.SageError"
    assert span.status.status_code is StatusCode.ERROR
    assert trace.get_current_span() is trace.INVALID_SPAN  # nothing left current
    assert fake_sage.state.requests == []


def test_ctrl_c_during_a_request_ends_its_span_and_frees_its_slot(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    def interrupted(request: httpx.Request) -> httpx.Response:
        raise KeyboardInterrupt

    http = httpx.Client(transport=httpx.MockTransport(interrupted))
    client = SageAccounting(access_token="t", base_url="https://sage.test/v3.1", http_client=http)
    hooked = client.with_hooks(TracingHook(tracer_provider=provider))
    with pytest.raises(KeyboardInterrupt):
        hooked.user.get()
    [span] = exporter.get_finished_spans()
    assert attributes(span)["error.type"] == "KeyboardInterrupt"
    assert trace.get_current_span() is trace.INVALID_SPAN
    assert client.quota.in_flight.used == 0  # the ledger's slot was given back
    http.close()


async def test_async_spans_are_each_requests_own_under_the_callers_span(
    fake_sage: Any, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    ids = fake_sage.seed("contacts", 5)
    token = fake_sage.issue_tokens()["access_token"]
    async with AsyncSageAccounting(access_token=token, base_url=fake_sage.base_url) as plain:
        client = plain.with_hooks(TracingHook(tracer_provider=provider))
        tracer = provider.get_tracer("the user's")
        with tracer.start_as_current_span("export") as parent:
            await asyncio.gather(*(client.contacts.get(i) for i in ids))
            assert trace.get_current_span() is parent
    spans = [s for s in exporter.get_finished_spans() if s.name != "export"]
    assert sorted(attributes(s)["url.full"].rsplit("/", 1)[1] for s in spans) == sorted(ids)
    assert {s.parent.span_id for s in spans if s.parent} == {parent.get_span_context().span_id}
    assert len(spans) == 5 and all(s.end_time for s in spans)


async def test_a_cancelled_async_request_ends_its_span(
    fake_sage: Any, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    fake_sage.inject(Fault.latency(5, path="/user"))
    token = fake_sage.issue_tokens()["access_token"]
    async with AsyncSageAccounting(access_token=token, base_url=fake_sage.base_url) as plain:
        client = plain.with_hooks(TracingHook(tracer_provider=provider))
        task = asyncio.ensure_future(client.user.get())
        while not fake_sage.count("GET /user"):
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await plain.quota).in_flight.used == 0  # the ledger's slot was given back
    [span] = exporter.get_finished_spans()
    assert attributes(span)["error.type"] == "asyncio.exceptions.CancelledError"


def test_no_secret_reaches_a_span(
    fake_sage: Any, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tokens = fake_sage.issue_tokens()
    client = SageAccounting(access_token=tokens["access_token"], base_url=fake_sage.base_url)
    hooked = client.with_hooks(TracingHook(tracer_provider=provider))
    secret_query = "s3cr3t-search-value"
    list(hooked.contacts.list(search=secret_query))
    with pytest.raises(NotFoundError):
        hooked.contacts.get("missing", extra_headers={"X-Api-Key": "header-secret-value"})
    text = "".join(span.to_json() for span in exporter.get_finished_spans())
    assert len(exporter.get_finished_spans()) == 2
    for secret in (tokens["access_token"], secret_query, "header-secret-value", "Bearer"):
        assert secret not in text
    assert "search=REDACTED" in text


def test_the_redacted_url_keeps_names_and_drops_values_user_info_and_fragment() -> None:
    assert (
        redacted_url("https://user:pw@api.example:8443/v3.1/x?a=1&token=abc&empty=#frag")
        == "https://api.example:8443/v3.1/x?a=REDACTED&token=REDACTED&empty=REDACTED"
    )
    assert redacted_url("http://[::1]/p") == "http://[::1]/p"


def test_without_the_extra_the_import_says_what_to_install() -> None:
    code = """
import sys
class Missing:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "opentelemetry":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Missing())
try:
    import sage_accounting.otel
except ModuleNotFoundError as exc:
    print(exc)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "pip install 'sage-accounting[otel]'" in result.stdout


def test_the_runtime_does_not_import_opentelemetry() -> None:
    code = "import sys, sage_accounting; print(json.dumps(sorted(m for m in sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", "import json; " + code], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert not [m for m in json.loads(result.stdout) if m.startswith("opentelemetry")]


def test_a_faulty_hook_before_the_tracer_leaves_no_span_open(
    fake_sage: Any, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    class Faulty(RequestHook):
        def after_response(self, request: PreparedRequest, response: httpx.Response) -> None:
            raise SageError("a hook's own bug")

    token = fake_sage.issue_tokens()["access_token"]
    client = SageAccounting(access_token=token, base_url=fake_sage.base_url)
    with pytest.raises(SageError, match="own bug"):
        client.with_hooks(Faulty(), TracingHook(tracer_provider=provider)).user.get()
    [span] = exporter.get_finished_spans()
    assert attributes(span)["http.response.status_code"] == 200
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_a_wrong_tracer_provider_is_refused_before_any_request() -> None:
    with pytest.raises(ArgumentTypeError, match="tracer_provider: must be an OpenTelemetry"):
        TracingHook(tracer_provider="console")  # type: ignore[arg-type]


def test_without_an_sdk_the_hook_costs_nothing_and_breaks_nothing(fake_sage: Any) -> None:
    """The global provider of a process that installed no SDK makes no-op spans."""
    token = fake_sage.issue_tokens()["access_token"]
    client = SageAccounting(access_token=token, base_url=fake_sage.base_url)
    assert client.with_hooks(TracingHook()).user.get().id == "user-1"
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_one_hook_shared_by_threads_gives_each_request_its_own_span(
    fake_sage: Any, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    ids = fake_sage.seed("contacts", 8)
    client = traced(fake_sage, provider)

    def get(contact_id: str) -> str:
        return client.contacts.get(contact_id).id or ""

    with ThreadPoolExecutor(4) as pool:
        assert sorted(pool.map(get, ids)) == sorted(ids)
    spans = exporter.get_finished_spans()
    assert sorted(attributes(s)["url.full"].rsplit("/", 1)[1] for s in spans) == sorted(ids)
    assert all(s.parent is None for s in spans)  # none made a child of another thread's
