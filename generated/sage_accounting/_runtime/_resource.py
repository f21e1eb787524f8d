"""Base classes of the generated resources (``client.sales_invoices`` is one).

A resource holds nothing but its client; the helpers below are what every generated method body
calls, so a generated method reads as: operation id, arguments, the model to return. Called
through ``resource.with_raw_response``, each helper returns an ``APIResponse`` instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ._client import AsyncClient, SyncClient
from ._options import RequestOptions
from ._pagination import AsyncPager, SyncPager
from ._response import RAW_RESPONSE, APIResponse, RawResponses
from ._streaming import STREAMING, AsyncFileStream, FileStream, StreamingResponses

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ._changes import AsyncChangeFeed, ChangeFeed
    from ._models import RequestModel

T = TypeVar("T", bound="BaseModel")

AUTO_PAGE_SIZE = 200  # Sage's maximum: the fewest requests when paginating automatically


def _with_page_size(
    client: SyncClient | AsyncClient, operation_id: str, query: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The list's query asking for Sage's largest page unless the caller chose a size: every
    pager (change feeds included) pays one request per 200 records, not per 20 (Sage's default)."""
    query = dict(query or {})
    if (
        query.get("items_per_page") is None
        and "items_per_page" in client.operation(operation_id).query
    ):
        query["items_per_page"] = AUTO_PAGE_SIZE
    return query


class SyncAPIResource:
    def __init__(self, client: SyncClient) -> None:
        self._client = client

    @property
    def with_raw_response(self) -> Any:
        """The same methods, returning ``APIResponse`` (status, headers, request id, parsed)."""
        return RawResponses(self)

    @property
    def with_streaming_response(self) -> Any:
        """The same methods; those answering with a file return a ``FileStream`` to enter."""
        return StreamingResponses(self)

    def _request(
        self,
        operation_id: str,
        *,
        cast_to: type[T],
        path_params: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        body_model: type[RequestModel] | None = None,
        options: RequestOptions,
    ) -> T:
        prepared = self._client.prepare(
            operation_id,
            path_params=path_params,
            query=query,
            body=body,
            body_model=body_model,
            options=options,
        )
        response = self._client.send(prepared)
        parsed = self._client.parse(response, cast_to)
        return cast(T, APIResponse(response, parsed)) if RAW_RESPONSE.get() else parsed

    def _request_empty(
        self,
        operation_id: str,
        *,
        path_params: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        options: RequestOptions,
    ) -> None:
        """For operations Sage answers without a body (204 on DELETE)."""
        prepared = self._client.prepare(
            operation_id, path_params=path_params, query=query, options=options
        )
        response = self._client.send(prepared)
        if RAW_RESPONSE.get():
            return cast(None, APIResponse(response, None))
        return None

    def _list(
        self,
        operation_id: str,
        *,
        item: type[T],
        path_params: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        options: RequestOptions,
    ) -> SyncPager[T]:
        prepared = self._client.prepare(
            operation_id,
            path_params=path_params,
            query=_with_page_size(self._client, operation_id, query),
            options=options,
        )
        pager = SyncPager(self._client, prepared, item)
        if RAW_RESPONSE.get():  # the first page, raw
            page = pager.first_page()
            return cast(SyncPager[T], APIResponse(cast(Any, pager.last_response), page))
        return pager

    def _bytes(
        self,
        operation_id: str,
        *,
        path_params: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        options: RequestOptions,
    ) -> bytes:
        prepared = self._client.prepare(
            operation_id,
            path_params=path_params,
            query=query,
            options=options,
            accept="application/octet-stream",
        )
        if STREAMING.get():  # through with_streaming_response: sent when the stream is entered
            return cast(bytes, FileStream(self._client, replace(prepared, stream=True)))
        response = self._client.send(prepared)
        if RAW_RESPONSE.get():
            return cast(bytes, APIResponse(response, response.content))
        return response.content

    def _changes(
        self,
        operation_id: str,
        *,
        item: type[T],
        since: dt.datetime | None,
        query: Mapping[str, Any],
        overlap: float,
        options: RequestOptions,
    ) -> ChangeFeed[T]:
        from ._changes import ChangeFeed  # only for resources that are polled

        return ChangeFeed(self, operation_id, item, since, query, overlap, options)


class AsyncAPIResource:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    @property
    def with_raw_response(self) -> Any:
        """The same methods, returning ``APIResponse`` (status, headers, request id, parsed)."""
        return RawResponses(self)

    @property
    def with_streaming_response(self) -> Any:
        """The same methods; those answering with a file return an ``AsyncFileStream``."""
        return StreamingResponses(self)

    async def _request(
        self,
        operation_id: str,
        *,
        cast_to: type[T],
        path_params: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        body_model: type[RequestModel] | None = None,
        options: RequestOptions,
    ) -> T:
        prepared = self._client.prepare(
            operation_id,
            path_params=path_params,
            query=query,
            body=body,
            body_model=body_model,
            options=options,
        )
        response = await self._client.send(prepared)
        parsed = self._client.parse(response, cast_to)
        return cast(T, APIResponse(response, parsed)) if RAW_RESPONSE.get() else parsed

    async def _request_empty(
        self,
        operation_id: str,
        *,
        path_params: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        options: RequestOptions,
    ) -> None:
        """For operations Sage answers without a body (204 on DELETE)."""
        prepared = self._client.prepare(
            operation_id, path_params=path_params, query=query, options=options
        )
        response = await self._client.send(prepared)
        if RAW_RESPONSE.get():
            return cast(None, APIResponse(response, None))
        return None

    def _list(
        self,
        operation_id: str,
        *,
        item: type[T],
        path_params: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        options: RequestOptions,
    ) -> AsyncPager[T]:
        prepared = self._client.prepare(
            operation_id,
            path_params=path_params,
            query=_with_page_size(self._client, operation_id, query),
            options=options,
        )
        return AsyncPager(self._client, prepared, item)

    async def _bytes(
        self,
        operation_id: str,
        *,
        path_params: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        options: RequestOptions,
    ) -> bytes:
        prepared = self._client.prepare(
            operation_id,
            path_params=path_params,
            query=query,
            options=options,
            accept="application/octet-stream",
        )
        if STREAMING.get():  # through with_streaming_response: sent when the stream is entered
            return cast(bytes, AsyncFileStream(self._client, replace(prepared, stream=True)))
        response = await self._client.send(prepared)
        if RAW_RESPONSE.get():
            return cast(bytes, APIResponse(response, response.content))
        return response.content

    def _changes(
        self,
        operation_id: str,
        *,
        item: type[T],
        since: dt.datetime | None,
        query: Mapping[str, Any],
        overlap: float,
        options: RequestOptions,
    ) -> AsyncChangeFeed[T]:
        from ._changes import AsyncChangeFeed

        return AsyncChangeFeed(self, operation_id, item, since, query, overlap, options)
