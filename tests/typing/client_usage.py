"""Type-checked, not run: what a user's script does with the client must pass mypy --strict
(`make lint` checks this file). A wrong type here is an IDE user's first five minutes."""

from __future__ import annotations

from decimal import Decimal

from sage_accounting import AsyncSageAccounting, SageAccounting


def sync_usage() -> Decimal | None:
    with SageAccounting(access_token="token", business_id="business") as client:
        other = client.with_business("another-business")
        faster = other.with_options(timeout=5.0, max_retries=0)
        for contact in faster.contacts.list(attributes=["name", "balance"]):
            return contact.balance
    return None


async def async_usage() -> str | None:
    async with AsyncSageAccounting(access_token="token") as client:
        async for invoice in client.with_business("b").sales_invoices.list():
            return invoice.displayed_as
    return None
