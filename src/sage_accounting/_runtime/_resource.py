"""Base classes of the generated resources (``client.sales_invoices`` is one).

A resource holds nothing but its client. A generated method passes its operation's facts (the
``Operation`` written at the top of its module), its arguments and the model it returns to one
of the client's verbs: ``call``, ``call_empty``, ``call_bytes``, ``paginate`` or ``changes``.
"""

from __future__ import annotations

from ._client import AsyncClient, SyncClient


class SyncAPIResource:
    def __init__(self, client: SyncClient) -> None:
        self._client = client


class AsyncAPIResource:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client
