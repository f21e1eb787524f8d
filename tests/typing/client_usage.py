"""Type-checked, not run: what a user's script does with the client must pass mypy --strict
(`make lint` checks this file). A wrong type here is an IDE user's first five minutes.

Every resource pattern the README shows is used once, sync and async. The lines marked
``# type: ignore[arg-type]`` prove the negative: they must stay type errors (a misspelt body key,
a float amount; mypy reports a dict that fits no member of ``Model | ModelParams`` as arg-type),
and ``warn_unused_ignores`` (part of strict) fails the check if one stops being
an error.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sage_accounting import (
    APIStatusError,
    AsyncSageAccounting,
    NotFoundError,
    PermissionDeniedError,
    RequestValidationError,
    SageAccounting,
    SageArgumentError,
    SageError,
)
from sage_accounting.models import (
    Contact,
    ContactCreate,
    ContactCreateParams,
    SalesInvoice,
    SalesInvoiceCreateParams,
    SalesInvoiceLineCreateParams,
)


def listing(client: SageAccounting) -> list[Decimal | None]:
    balances = [contact.balance for contact in client.contacts.list(attributes=["name", "balance"])]
    pager = client.contacts.list(search="Acme", items_per_page=50)
    total: int | None = pager.total
    for page in pager.pages():
        names: list[str | None] = [c.name for c in page.items]
        del names
    first: list[Contact] = pager.first_page().items
    del total, first
    return balances


def creating(client: SageAccounting) -> SalesInvoice:
    # A dict literal is checked against the TypedDict: wire names, Decimal | int | str for money,
    # dates as dt.date or ISO strings, nested lines as dicts or models.
    invoice = client.sales_invoices.create(
        sales_invoice={
            "contact_id": "contact-id",
            "date": "2026-11-21",
            "invoice_lines": [
                {
                    "description": "Consulting",
                    "ledger_account_id": "ledger-id",
                    "quantity": 1,
                    "unit_price": Decimal("950.00"),
                },
            ],
        }
    )
    # A model works too, and a TypedDict built up in steps.
    contact = client.contacts.create(
        contact=ContactCreate(name="Acme", contact_type_ids=["CUSTOMER"], credit_limit=Decimal(5))
    )
    body: ContactCreateParams = {"name": "Acme", "contact_type_ids": ["CUSTOMER"]}
    body["credit_limit"] = "5000.00"
    body["idempotency_id"] = "0" * 32  # POST bodies may choose their idempotency id
    client.contacts.create(contact=body, idempotency_id="f" * 32)
    line: SalesInvoiceLineCreateParams = {
        "description": "Hours",
        "ledger_account_id": "ledger-id",
        "quantity": "7.5",
        "unit_price": 120,
    }
    later: SalesInvoiceCreateParams = {
        "contact_id": contact.id or "",
        "date": dt.date(2026, 11, 21),
        "invoice_lines": [line],
    }
    client.sales_invoices.create(sales_invoice=later)
    return client.sales_invoices.release(invoice.id or "")


def refused_by_the_type_checker(client: SageAccounting) -> None:
    # A misspelt key, a float amount, a wrong enum value, a missing required key: type errors.
    client.contacts.create(
        contact={"name": "Acme", "contact_type_ids": ["CUSTOMER"], "credt_limit": "5"}  # type: ignore[arg-type]
    )
    client.contacts.create(
        contact={"name": "Acme", "contact_type_ids": ["CUSTOMER"], "credit_limit": 5.0}  # type: ignore[arg-type]
    )
    client.contacts.create(
        contact={"name": "Acme", "contact_type_ids": ["CUSTOMER"], "credit_terms": "soon"}  # type: ignore[arg-type]
    )
    client.contacts.create(contact={"name": "Acme"})  # type: ignore[arg-type]
    client.contacts.update("contact-id", contact={"nmae": "Acme Ltd"})  # type: ignore[arg-type]


def reading_updating_deleting(client: SageAccounting) -> str | None:
    contact = client.contacts.get("contact-id", attributes="all")
    client.contacts.update("contact-id", contact={"name": "Acme Ltd", "credit_limit": 100})
    client.contacts.delete("contact-id")
    pdf: bytes = client.attachments.get_file("attachment-id")
    del pdf
    return contact.name


def polling(client: SageAccounting, cursor: dt.datetime | None) -> dt.datetime:
    feed = client.contacts.changes(since=cursor)
    for change in feed:
        if change.kind == "upsert" and change.record is not None:
            print(change.record.name)
        else:
            print(change.id)
    return feed.cursor


def errors(client: SageAccounting) -> str:
    try:
        client.contacts.get("missing")
    except NotFoundError as exc:
        return f"{exc.status_code} {exc.request_id}"
    except PermissionDeniedError as exc:
        return str(exc)
    except APIStatusError as exc:
        return str(exc.errors)
    except RequestValidationError as exc:
        return "; ".join(f"{field}: {problem}" for field, problem in exc.errors)
    except SageArgumentError as exc:
        return exc.argument
    except SageError as exc:
        return str(exc)
    return "found"


def sync_usage() -> Decimal | None:
    with SageAccounting(access_token="token", business_id="business") as client:
        other: SageAccounting = client.with_business("another-business")
        faster: SageAccounting = other.with_options(timeout=5.0, max_retries=0)
        for contact in faster.contacts.list(attributes=["name", "balance"]):
            return contact.balance
    return None


async def async_usage() -> str | None:
    async with AsyncSageAccounting(access_token="token") as client:
        other: AsyncSageAccounting = client.with_business("b").with_options(max_retries=0)
        async for invoice in other.sales_invoices.list():
            return invoice.displayed_as
        async for page in client.contacts.list().pages():
            print(len(page.items))
        async for contact in client.contacts.list().concurrent(4):
            print(contact.name)
        created = await client.contacts.create(
            contact={"name": "Acme", "contact_type_ids": ["CUSTOMER"], "credit_limit": Decimal(1)}
        )
        await client.contacts.update(created.id or "", contact=ContactCreate(name="x", contact_type_ids=[]))  # type: ignore[arg-type]
        await client.contacts.update(created.id or "", contact={"name": "Acme Ltd"})
        await client.contacts.delete(created.id or "")
        await client.contacts.create(contact={"name": "A", "contact_type_ids": [], "credit_limit": 1.5})  # type: ignore[arg-type]
        feed = client.contacts.changes(since=None)
        async for change in feed:
            print(change.kind)
        return (await client.contacts.get("contact-id")).name
