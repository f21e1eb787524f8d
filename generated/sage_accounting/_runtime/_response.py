"""Raw access to a response: ``client.contacts.with_raw_response.get(key)`` returns an
``APIResponse`` carrying status, headers, request id and the parsed body."""

from __future__ import annotations

import contextvars
import inspect
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx

from ._client import request_id_of

T = TypeVar("T")

# Set while a call made through ``with_raw_response`` runs (a context variable, so threads and
# tasks each see their own).
RAW_RESPONSE: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "sage_raw_response", default=False
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


class RawResponses:
    """The methods of a resource, returning ``APIResponse`` instead of the parsed body."""

    def __init__(self, resource: Any) -> None:
        self._resource = resource

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._resource, name)
        if inspect.iscoroutinefunction(method):

            async def call_async(*args: Any, **kwargs: Any) -> Any:
                token = RAW_RESPONSE.set(True)
                try:
                    return await method(*args, **kwargs)
                finally:
                    RAW_RESPONSE.reset(token)

            return call_async

        def call(*args: Any, **kwargs: Any) -> Any:
            token = RAW_RESPONSE.set(True)
            try:
                return method(*args, **kwargs)
            finally:
                RAW_RESPONSE.reset(token)

        return call
