"""Raw access to a response, typed.

``client.contacts.with_raw_response.get(key)`` returns an ``APIResponse[Contact]``: status,
headers, request id, business and the parsed body. A list answers the first ``Page`` with its
response (``APIResponse[Page[Contact]]``), sync and async alike. Each resource's
``with_raw_response`` is a generated class whose methods are the resource's own, wrapped here:
the wrappers keep the method's parameters (``ParamSpec``), so the type checker sees both the
arguments and the raw return type.

How a wrapper gets the response without changing what the method returns: while it runs the
method, a context variable holds a ``Capture``; the client's send plan ``record``\\ s the response
it returns into it. (A context variable: threads and asyncio tasks each see their own.)
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, ParamSpec, TypeVar

import httpx

from ._errors import APIResponseValidationError, body_excerpt

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ._page import Page
    from ._pagination import AsyncPager, SyncPager
    from ._streaming import AsyncFileStream, FileStream

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
ItemT = TypeVar("ItemT", bound="BaseModel")

REQUEST_ID_HEADERS = ("x-request-id", "x_request_id", "request-id")


def request_id_of(headers: httpx.Headers) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value: str | None = headers.get(name)
        if value:
            return value
    return None


def response_validation_error(response: httpx.Response, reason: str) -> APIResponseValidationError:
    """A success answer whose body is not what the operation returns."""
    request = response.request
    return APIResponseValidationError(
        reason,
        status_code=response.status_code,
        method=request.method,
        path=request.url.raw_path.decode("ascii", errors="replace"),
        request_id=request_id_of(response.headers),
        body_excerpt=body_excerpt(response.content),
    )


@dataclass(frozen=True)
class APIResponse(Generic[T]):
    http_response: httpx.Response
    parsed: T

    @property
    def status_code(self) -> int:
        return self.http_response.status_code

    @property
    def headers(self) -> httpx.Headers:
        return self.http_response.headers

    @property
    def request_id(self) -> str | None:
        return request_id_of(self.http_response.headers)

    @property
    def business_id(self) -> str | None:
        value: str | None = self.http_response.headers.get("x-business")
        return value


# -- capturing what a call answered -----------------------------------------------------------------


@dataclass
class Capture:
    """What the one call made through a wrapper answered. With ``hold`` (streaming), a call
    answering a file prepares its request and leaves it here unsent, as ``stream``."""

    hold: bool = False
    response: httpx.Response | None = None
    stream: FileStream | AsyncFileStream | None = None  # when held

    def raw(self, parsed: R) -> APIResponse[R]:
        assert self.response is not None, "the wrapped method sent no request"
        return APIResponse(self.response, parsed)


_CAPTURE: contextvars.ContextVar[Capture | None] = contextvars.ContextVar(
    "sage_capture", default=None
)


@contextlib.contextmanager
def capturing(hold: bool = False) -> Iterator[Capture]:
    capture = Capture(hold=hold)
    token = _CAPTURE.set(capture)
    try:
        yield capture
    finally:
        _CAPTURE.reset(token)


def record(response: httpx.Response) -> None:
    """Called by the send plan with the response a call returns."""
    capture = _CAPTURE.get()
    if capture is not None:
        capture.response = response


def holding() -> Capture | None:
    """The capture asking for an unsent stream, when a streaming wrapper is running."""
    capture = _CAPTURE.get()
    return capture if capture is not None and capture.hold else None


# -- the wrappers the generated ``...WithRawResponse`` classes use ----------------------------------


def to_raw_response(method: Callable[P, R]) -> Callable[P, APIResponse[R]]:
    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> APIResponse[R]:
        with capturing() as capture:
            parsed = method(*args, **kwargs)
        return capture.raw(parsed)

    return call


def async_to_raw_response(
    method: Callable[P, Awaitable[R]],
) -> Callable[P, Awaitable[APIResponse[R]]]:
    @functools.wraps(method)
    async def call(*args: P.args, **kwargs: P.kwargs) -> APIResponse[R]:
        with capturing() as capture:
            parsed = await method(*args, **kwargs)
        return capture.raw(parsed)

    return call


def to_raw_page(method: Callable[P, SyncPager[ItemT]]) -> Callable[P, APIResponse[Page[ItemT]]]:
    """A list method answering its first page with that page's response."""
    return functools.wraps(method)(lambda *a, **k: method(*a, **k).first_page().raw())


def async_to_raw_page(
    method: Callable[P, AsyncPager[ItemT]],
) -> Callable[P, Awaitable[APIResponse[Page[ItemT]]]]:
    async def first_page(pager: AsyncPager[ItemT]) -> APIResponse[Page[ItemT]]:
        return (await pager.first_page()).raw()

    return functools.wraps(method)(lambda *a, **k: first_page(method(*a, **k)))
