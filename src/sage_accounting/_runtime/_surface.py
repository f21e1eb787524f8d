"""``SageClient``: what every client offers without I/O, for code that takes either kind.

The sync and async clients (``SyncClient``, ``AsyncClient``, and the generated ``SageAccounting``
and ``AsyncSageAccounting`` built on them) share their configuration and their copies; only
sending differs. Code that handles both without sending (the agents' guard, a user's helper that
adds hooks) types its client as ``SageClient``; code that sends types it as the concrete class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Self, runtime_checkable

if TYPE_CHECKING:
    from ._hooks import RequestHook


@runtime_checkable
class SageClient(Protocol):
    """Either client, sync or async: its settings, its request hooks and its light copies."""

    @property
    def base_url(self) -> str:
        """The API's base URL, without a trailing slash: the only place the token is sent."""
        ...

    @property
    def business_id(self) -> str | None:
        """The business every call is for (None: the user's lead business)."""
        ...

    @property
    def hooks(self) -> tuple[RequestHook, ...]:
        """The request hooks every request passes through, in order."""
        ...

    def with_business(self, business_id: str) -> Self:
        """A copy for another business, sharing the pool."""
        ...

    def with_hooks(self, *hooks: RequestHook) -> Self:
        """A copy whose requests also pass through ``hooks``."""
        ...
