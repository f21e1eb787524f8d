"""``TracingHook``: an OpenTelemetry span for each attempt of each request a client sends.

Spans follow OpenTelemetry's semantic conventions for HTTP clients: one CLIENT span per attempt
(each retry and the replay after a 401 is a new span carrying ``http.request.resend_count``),
named ``{method} {url.template}`` (``GET /contacts/{key}``), with ``sage.*`` attributes for what
the conventions have no name for. It reads only the public hook surface (``RequestHook``,
``PreparedRequest``); the span is current while the attempt is under way, so spans and logs
made meanwhile (an httpx instrumentation's) are its children.

Never recorded: headers (so no token, no Authorization), bodies, query values (``url.full``
keeps the query's names, each value ``REDACTED``), exception messages (they may quote Sage's
text); an error is named by its class only.
"""

from __future__ import annotations

import contextvars
import urllib.parse
from typing import TYPE_CHECKING, NamedTuple

import httpx
from opentelemetry import context, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from sage_accounting import ArgumentTypeError, PreparedRequest, RequestHook, __version__

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

REDACTED = "REDACTED"
_DEFAULT_PORTS = {"http": 80, "https": 443}


class _Open(NamedTuple):
    """The span of one attempt under way in this context, and what to restore after it."""

    request: PreparedRequest
    span: Span
    token: contextvars.Token[Context]  # of the OpenTelemetry context that made it current
    outer: _Open | None


class TracingHook(RequestHook):
    """A request hook that traces every attempt of every request as an OpenTelemetry span.

    ``client.with_hooks(TracingHook())``; ``tracer_provider``: the provider to take the tracer
    from (default: the global one, ``opentelemetry.trace.set_tracer_provider``). One hook may
    serve any number of clients, threads and asyncio tasks: the span under way is kept per
    context (``contextvars``), as OpenTelemetry keeps the current span.
    """

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        if tracer_provider is not None and not isinstance(tracer_provider, trace.TracerProvider):
            raise ArgumentTypeError(
                "tracer_provider",
                f"must be an OpenTelemetry TracerProvider, not {type(tracer_provider).__name__}",
            )
        self._tracer = trace.get_tracer(
            "sage_accounting", __version__, tracer_provider=tracer_provider
        )
        self._open: contextvars.ContextVar[_Open | None] = contextvars.ContextVar(
            f"sage_accounting.otel.{id(self):x}", default=None
        )

    def before_send(self, request: PreparedRequest, *, retry: int) -> None:
        span = self._tracer.start_span(
            f"{request.method} {request.operation.path}",
            kind=SpanKind.CLIENT,
            attributes=request_attributes(request, retry),
        )
        token = context.attach(trace.set_span_in_context(span))
        self._open.set(_Open(request, span, token, self._open.get()))

    def after_response(self, request: PreparedRequest, response: httpx.Response) -> None:
        span = self._close(request)
        if span is None:
            return
        status = response.status_code
        span.set_attribute("http.response.status_code", status)
        request_id = self.request_id_of(response)
        if request_id:
            span.set_attribute("sage.request_id", request_id)
        if status >= 400:
            span.set_attribute("error.type", str(status))
            span.set_status(Status(StatusCode.ERROR))
        span.end()

    def on_error(self, request: PreparedRequest, error: httpx.TransportError) -> None:
        self._fail(request, error)

    def on_stopped(self, request: PreparedRequest, error: BaseException) -> None:
        self._fail(request, error)

    def _fail(self, request: PreparedRequest, error: BaseException) -> None:
        span = self._close(request)
        if span is None:
            return
        kind = error_type(error)
        span.set_attribute("error.type", kind)
        span.set_status(Status(StatusCode.ERROR, kind))
        span.end()

    def _close(self, request: PreparedRequest) -> Span | None:
        """The span of ``request``'s attempt, no longer current; None when this context has
        none open for it (the hook was added while the request was under way)."""
        current = self._open.get()
        if current is None or current.request is not request:
            return None
        context.detach(current.token)
        self._open.set(current.outer)
        return current.span


def request_attributes(request: PreparedRequest, retry: int) -> dict[str, str | int]:
    """What a span says of an attempt before it is sent: nothing secret (see the module)."""
    parts = urllib.parse.urlsplit(request.url)
    scheme = parts.scheme
    port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
    attributes: dict[str, str | int] = {
        "http.request.method": request.method,
        "url.full": redacted_url(request.url),
        "url.template": request.operation.path,
        "server.address": parts.hostname or "",
        "server.port": port,
        "sage.operation.id": request.operation_id,
    }
    if retry:
        attributes["http.request.resend_count"] = retry
    if request.business_id:
        attributes["sage.business.id"] = request.business_id
    page = request.page
    if page is not None:
        attributes["sage.page"] = page
    if request.idempotency_id:
        attributes["sage.idempotency_id"] = request.idempotency_id
    return attributes


def redacted_url(url: str) -> str:
    """``url`` without user info or fragment, each query value replaced by ``REDACTED`` (the
    names kept): what ``url.full`` may carry."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    names = [name for name, _ in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)]
    query = "&".join(f"{urllib.parse.quote(name)}={REDACTED}" for name in names)
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def error_type(error: BaseException) -> str:
    """An error's class as ``error.type`` names it: fully qualified (``httpx.ConnectError``,
    ``sage_accounting.agents.errors.AccessDenied``), never its message."""
    cls = type(error)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"
