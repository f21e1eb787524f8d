"""What a sync raises: each a ``SageError``, with a message that names the cause."""

from __future__ import annotations

from .._runtime import SageError


class SyncError(SageError):
    """A sync could not do what it was asked."""


class SyncDataError(SyncError):
    """A record cannot be stored exactly (a money value with too many digits, a non-number);
    the message names the resource, record and field. Nothing is rounded or dropped."""


class LeaseLost(SyncError):
    """Another worker holds this business now (our lease expired): this run stops without
    committing its cursors, and the other worker's run is the one that counts."""


class DestinationError(SyncError):
    """The database could not be reached or written (the message names it, no password)."""
