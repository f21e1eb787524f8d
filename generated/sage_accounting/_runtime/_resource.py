"""Base classes of the generated resources (``client.sales_invoices`` is one).

A resource holds nothing but its client; the helpers below are what every generated method body
calls, so a generated method reads as: operation id, arguments, the model to return.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from ._client import AsyncClient, SyncClient
from ._options import RequestOptions
from ._pagination import AsyncPager, SyncPager

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ._models import RequestModel

T = TypeVar("T", bound="BaseModel")

AUTO_PAGE_SIZE = 200  # Sage's maximum: the fewest requests when paginating automatically


def _with_page_size(query: Mapping[str, Any] | None) -> dict[str, Any]:
    query = dict(query or {})
    if "items_per_page" in query and query["items_per_page"] is None:
        query["items_per_page"] = AUTO_PAGE_SIZE
    return query


class SyncAPIResource:
    def __init__(self, client: SyncClient) -> None:
        self._client = client

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
        return self._client.request(
            operation_id,
            cast_to=cast_to,
            path_params=path_params,
            query=query,
            body=body,
            body_model=body_model,
            options=options,
        )

    def _request_empty(
        self,
        operation_id: str,
        *,
        path_params: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        options: RequestOptions,
    ) -> None:
        """For operations Sage answers without a body (204 on DELETE)."""
        self._client.request_empty(
            operation_id, path_params=path_params, query=query, options=options
        )

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
            operation_id, path_params=path_params, query=_with_page_size(query), options=options
        )
        return SyncPager(self._client, prepared, item)

    def _bytes(
        self,
        operation_id: str,
        *,
        path_params: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        options: RequestOptions,
    ) -> bytes:
        return self._client.request_bytes(
            operation_id, path_params=path_params, query=query, options=options
        )


class AsyncAPIResource:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

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
        return await self._client.request(
            operation_id,
            cast_to=cast_to,
            path_params=path_params,
            query=query,
            body=body,
            body_model=body_model,
            options=options,
        )

    async def _request_empty(
        self,
        operation_id: str,
        *,
        path_params: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        options: RequestOptions,
    ) -> None:
        """For operations Sage answers without a body (204 on DELETE)."""
        await self._client.request_empty(
            operation_id, path_params=path_params, query=query, options=options
        )

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
            operation_id, path_params=path_params, query=_with_page_size(query), options=options
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
        return await self._client.request_bytes(
            operation_id, path_params=path_params, query=query, options=options
        )
