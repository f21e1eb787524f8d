"""``Page``: one page of a list answer, as the envelope parser (``_envelope``) builds it and the
pagers (``_pagination``) walk it. Its own module so that neither of those imports the other to
name it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._response import APIResponse

if TYPE_CHECKING:
    import httpx
    from pydantic import BaseModel

T = TypeVar("T", bound="BaseModel")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int | None
    page: int | None
    items_per_page: int | None
    next: str | None
    back: str | None
    date: str | None = None  # the response's Date header: Sage's clock, for change cursors
    # The response the page came in (None for a page built from bytes alone).
    http_response: httpx.Response | None = field(default=None, repr=False, compare=False)

    def signature(self) -> tuple[Any, ...]:
        """What tells a page that repeats the previous one: its number and its items' ids."""
        from ._lazy import ids_of  # pydantic is loaded with the first page, not at import

        return (self.page, ids_of(self.items))

    def raw(self) -> APIResponse[Page[T]]:
        """This page with its response: what ``with_raw_response.list()`` answers."""
        assert self.http_response is not None, "a page parsed from bytes has no response"
        return APIResponse(self.http_response, self)
