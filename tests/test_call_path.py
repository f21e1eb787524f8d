"""One call path: the sync and async clients answer the same things in the same shapes.

Raw responses (``with_raw_response``) are typed wrappers with the same shape on both clients (the
async list used to answer a pager instead of its first page); pagers offer the same names; the
operation's facts travel with each call; the constructors list their arguments.
"""

from __future__ import annotations

import inspect
from decimal import Decimal
from typing import Any

import pytest
from present import present

from sage_accounting import APIResponse, AsyncSageAccounting, Page, SageAccounting
from sage_accounting._runtime import Operation, all_operations
from sage_accounting._runtime._changes import ChangeFeed
from sage_accounting.models import ContactCreateParams
from sage_accounting.testing import SageSandbox

CONTACT: ContactCreateParams = {
    "name": "Acme Ltd",
    "contact_type_ids": ["CUSTOMER"],
    "reference": "ACME",
}


def _shape(raw: APIResponse[Any]) -> tuple[Any, ...]:
    """What a user reads of a raw answer, without the ids that differ between two records."""
    return (type(raw).__name__, raw.status_code, bool(raw.request_id), raw.business_id)


def test_a_raw_list_answers_its_first_page_on_both_clients(
    sage_sandbox: SageSandbox, sage_client: SageAccounting
) -> None:
    sync_page = sage_client.contacts.with_raw_response.list(items_per_page=2)
    assert isinstance(sync_page.parsed, Page) and len(sync_page.parsed.items) == 2
    assert sync_page.parsed.http_response is sync_page.http_response

    async def async_list() -> APIResponse[Page[Any]]:
        async with sage_sandbox.async_client(timeout=5.0) as client:
            return await client.contacts.with_raw_response.list(items_per_page=2)

    import asyncio

    async_page = asyncio.run(async_list())
    assert isinstance(async_page, APIResponse), "the async raw list answered a pager"
    assert isinstance(async_page.parsed, Page)
    assert _shape(async_page) == _shape(sync_page) == ("APIResponse", 200, True, "biz-lead")
    assert [c.id for c in async_page.parsed.items] == [c.id for c in sync_page.parsed.items]
    assert async_page.parsed.total == sync_page.parsed.total


async def test_raw_answers_of_every_kind_have_one_shape_sync_and_async(
    sage_sandbox: SageSandbox, sage_client: SageAccounting
) -> None:
    async with sage_sandbox.async_client(timeout=5.0) as aclient:
        sync_created = sage_client.contacts.with_raw_response.create(contact=CONTACT)
        async_created = await aclient.contacts.with_raw_response.create(contact=CONTACT)
        assert (
            _shape(sync_created) == _shape(async_created) == ("APIResponse", 201, True, "biz-lead")
        )
        assert sync_created.parsed.name == async_created.parsed.name == "Acme Ltd"

        sync_got = sage_client.contacts.with_raw_response.get(present(sync_created.parsed.id))
        async_got = await aclient.contacts.with_raw_response.get(present(async_created.parsed.id))
        assert _shape(sync_got) == _shape(async_got)
        assert sync_got.parsed.reference == async_got.parsed.reference == "ACME"

        sync_deleted = sage_client.contacts.with_raw_response.delete(
            present(sync_created.parsed.id)
        )
        async_deleted = await aclient.contacts.with_raw_response.delete(
            present(async_created.parsed.id)
        )
        assert _shape(sync_deleted) == _shape(async_deleted)
        assert sync_deleted.status_code == 204
        assert sync_deleted.parsed is None and async_deleted.parsed is None


def test_a_raw_call_that_fails_raises_the_typed_error(sage_client: SageAccounting) -> None:
    from sage_accounting import NotFoundError

    with pytest.raises(NotFoundError):
        sage_client.contacts.with_raw_response.get("no-such-contact")


def test_the_wrapper_keeps_the_method_name_and_documentation(sage_client: SageAccounting) -> None:
    raw = sage_client.sales_invoices.with_raw_response
    assert raw.create.__name__ == "create"
    assert raw.create.__doc__ == sage_client.sales_invoices.create.__doc__


async def test_pagers_offer_the_same_names_sync_and_async(
    sage_sandbox: SageSandbox, sage_client: SageAccounting
) -> None:
    sync_pager = sage_client.contacts.list(items_per_page=3)
    assert isinstance(sync_pager.total, int) and sync_pager.total > 3
    async with sage_sandbox.async_client(timeout=5.0) as aclient:
        async_pager = aclient.contacts.list(items_per_page=3)
        assert await async_pager.total == sync_pager.total  # a property on both
        assert (await async_pager.first_page()).total == sync_pager.first_page().total
        assert async_pager.last_response is not None and sync_pager.last_response is not None
    public = {name for name in dir(type(sync_pager)) if not name.startswith("_")}
    assert public <= {name for name in dir(type(async_pager)) if not name.startswith("_")}


def test_a_change_feed_is_built_from_a_pager_factory(sage_client: SageAccounting) -> None:
    """The feed asks its factory for the upserts, then (with a cursor) the deletions: it knows
    nothing of resources, so any list with the two filters can be polled."""
    import datetime as dt

    asked: list[dict[str, Any]] = []

    def pagers(query: dict[str, Any]) -> Any:
        asked.append(query)
        return sage_client.contacts.list(**query)

    since = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    feed: ChangeFeed[Any] = ChangeFeed(pagers, since, {"attributes": "name"}, 60.0)
    upserts = [change for change in feed if change.kind == "upsert"]
    assert upserts and feed.cursor < dt.datetime.now(dt.UTC)
    assert asked == [
        {"attributes": "name", "updated_or_created_since": since},
        {"attributes": "name", "deleted_since": since},
    ]


def test_every_method_passes_its_own_modules_operation() -> None:
    """The facts a method sends with are the ones written above it, in its own module: the
    constant's name is the operationId's, and the table the tools read is made of them."""
    import importlib

    operations = all_operations()
    assert len(operations) == 292
    for op in operations.values():
        module = importlib.import_module(f"sage_accounting.resources.{op.resource}")
        constant = "".join("_" + c if c.isupper() else c.upper() for c in op.id).lstrip("_")
        assert getattr(module, constant) is op
        source = inspect.getsource(getattr(module, "Async" + _class_of(module)))
        assert f"{constant}," in source, f"{op.id} is not what {op.resource}.{op.name} sends"


def _class_of(module: Any) -> str:
    return str(module.__all__[0])


def test_operations_are_facts_not_strings_looked_up() -> None:
    op = all_operations()["getContactsKey"]
    assert isinstance(op, Operation)
    assert (op.method, op.path, op.kind, op.resource, op.name) == (
        "GET",
        "/contacts/{key}",
        "get",
        "contacts",
        "get",
    )
    assert op.query["attributes"].kind == "list"


@pytest.mark.parametrize("client_class", [SageAccounting, AsyncSageAccounting])
def test_the_constructors_list_their_arguments(client_class: type[Any]) -> None:
    parameters = inspect.signature(client_class).parameters
    for name in (
        "access_token",
        "session",
        "business_id",
        "base_url",
        "timeout",
        "max_retries",
        "default_headers",
        "max_in_flight",
        "rate_limit",
        "missing_business_header",
        "http_client",
    ):
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY, name
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    with pytest.raises(TypeError, match="acess_token"):
        client_class(acess_token="t")


def test_money_in_a_raw_answer_is_still_decimal(sage_client: SageAccounting) -> None:
    raw = sage_client.sales_invoices.with_raw_response.list(attributes="total_amount")
    amounts = [invoice.total_amount for invoice in raw.parsed.items]
    assert amounts and all(isinstance(amount, Decimal) for amount in amounts)


def test_a_missing_business_header_warning_points_at_the_callers_line(
    make_client: Any,
) -> None:
    import httpx

    from sage_accounting import MissingBusinessHeaderWarning

    client, _ = make_client(lambda r: httpx.Response(200, json={"id": "c1"}), business_id="b1")
    with pytest.warns(MissingBusinessHeaderWarning) as caught:
        client.contacts.get("c1")
        line = inspect.currentframe().f_lineno - 1  # type: ignore[union-attr]
    assert (caught[0].filename, caught[0].lineno) == (__file__, line)
