"""Models against what the wire really sends, and request bodies with exact money."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import TypeVar

import httpx
import pytest
from pydantic import BaseModel, ValidationError

from sage_accounting import RequestValidationError
from sage_accounting._runtime._encoding import dumps, loads
from sage_accounting._runtime._page import Page
from sage_accounting._runtime._pagination import parse_response_page
from sage_accounting.models import (
    Business,
    ContactCreate,
    LedgerAccount,
    PurchaseInvoice,
    SalesInvoice,
    SalesInvoiceCreate,
)

T = TypeVar("T", bound=BaseModel)


def parse_page(content: bytes, model: type[T]) -> Page[T]:
    """A list response's page, as the pager parses it."""
    request = httpx.Request("GET", "https://api.accounting.sage.com/v3.1/sales_invoices")
    return parse_response_page(httpx.Response(200, content=content, request=request), model)


INVOICE_PAGE = b"""{
  "$total": 2, "$page": 1, "$next": "/sales_invoices?page=2&items_per_page=2", "$back": null,
  "$itemsPerPage": 2,
  "$items": [
    {
      "id": "inv1", "displayed_as": "SI-1", "$path": "/sales_invoices/inv1",
      "created_at": "2026-01-05T10:11:12Z", "updated_at": null,
      "date": "2026-01-05", "due_date": "",
      "total_amount": "110.00", "net_amount": 100, "tax_amount": 10.10,
      "outstanding_amount": 12345678901234567.891,
      "contact": {"id": "c1", "displayed_as": "Acme", "$path": "/contacts/c1", "balance": "-430035.84"},
      "invoice_lines": [
        {"id": "l1", "description": "Work", "quantity": "1.0", "unit_price": "100.00",
         "ledger_account": null, "tax_rate": {"id": "GB_STANDARD", "percentage": "20.0"}}
      ],
      "brand_new_field": {"nested": [1, 2]},
      "status": null, "currency": null, "links": null
    },
    {"id": "inv2", "displayed_as": "SI-2", "$path": "/sales_invoices/inv2"}
  ]
}"""


def test_a_realistic_invoice_page_parses() -> None:
    page = parse_page(INVOICE_PAGE, SalesInvoice)
    assert (page.total, page.page, page.items_per_page) == (2, 1, 2)
    assert page.next == "/sales_invoices?page=2&items_per_page=2"
    first, second = page.items
    assert first.path == "/sales_invoices/inv1"
    assert first.created_at == dt.datetime(2026, 1, 5, 10, 11, 12, tzinfo=dt.UTC)
    assert first.date == dt.date(2026, 1, 5)
    assert first.due_date is None  # "" from the wire
    assert first.updated_at is None
    # Money: Decimal with the digits sent, whether string or number, never through a float.
    assert first.total_amount == Decimal("110.00") and str(first.total_amount) == "110.00"
    assert first.net_amount == Decimal("100")
    assert str(first.tax_amount) == "10.10"
    assert str(first.outstanding_amount) == "12345678901234567.891"
    assert first.contact is not None and first.contact.balance == Decimal("-430035.84")
    line = first.invoice_lines[0]  # type: ignore[index]
    assert line.unit_price == Decimal("100.00") and line.ledger_account is None
    # The spec types a line's tax_rate as Base (id, displayed_as, $path): more fields are kept.
    assert line.tax_rate is not None and line.tax_rate.id == "GB_STANDARD"
    assert line.tax_rate.model_extra == {"percentage": "20.0"}
    # Unknown fields are kept, not dropped.
    assert first.model_extra == {"brand_new_field": {"nested": [1, 2]}}
    # A list item carries only id, displayed_as and $path unless attributes asked for more.
    assert second.total_amount is None and second.displayed_as == "SI-2"


def test_models_dump_back_to_wire_names() -> None:
    invoice = parse_page(INVOICE_PAGE, SalesInvoice).items[0]
    dumped = invoice.model_dump(exclude_none=True)
    assert dumped["$path"] == "/sales_invoices/inv1"
    assert dumped["brand_new_field"] == {"nested": [1, 2]}


def test_the_businesses_envelope_spelling() -> None:
    content = json.dumps(
        {
            "$total": 2, "$page": 1, "$next": None, "$back": None,
            "$items_per_page": 2147483647,
            "$items": [
                {"id": "b1", "displayed_as": "Business One", "$path": "/businesses/b1"},
                {"id": "b2", "displayed_as": "Business Two", "$path": "/businesses/b2",
                 "subscriptions": [{"id": "s", "active": True}], "country": {"id": "GB"}},
            ],
        }
    ).encode()  # fmt: skip
    page = parse_page(content, Business)
    assert page.items_per_page == 2147483647
    assert [b.id for b in page.items] == ["b1", "b2"]
    assert page.items[1].subscriptions[0].active is True  # type: ignore[index]


def test_nulls_anywhere_and_numbers_as_strings() -> None:
    ledger = LedgerAccount.model_validate(
        loads(
            b'{"id": null, "nominal_code": "4000", "balance_details": null,'
            b' "non_recoverable_ledger_account": {"id": "nr", "non_recoverable_ledger_account":'
            b' {"id": "deeper"}}, "included_in_chart": null, "tax_recoverable": null}'
        )
    )
    # LedgerAccount refers to itself.
    assert ledger.non_recoverable_ledger_account is not None
    assert ledger.non_recoverable_ledger_account.non_recoverable_ledger_account is not None
    assert ledger.non_recoverable_ledger_account.non_recoverable_ledger_account.id == "deeper"
    # Typed int, but a number Sage sends as text may stay text: either passes.
    assert ledger.nominal_code == 4000 or ledger.nominal_code == "4000"  # type: ignore[comparison-overlap]


def test_reserved_python_names_are_mapped() -> None:
    invoice = PurchaseInvoice.model_validate({"import": True, "type": {"id": "t"}, "id": "p"})
    assert invoice.import_ is True
    assert invoice.model_dump(exclude_none=True)["import"] is True


def test_request_models_enforce_required_fields_before_sending() -> None:
    with pytest.raises(ValidationError) as err:
        ContactCreate.model_validate({"contact_type_ids": ["CUSTOMER"]})
    assert err.value.errors()[0]["loc"] == ("name",)
    # maxLength is not enforced: Sage's values are wrong (25 on a reference).
    ContactCreate(name="x", contact_type_ids=["CUSTOMER"], reference="R" * 60)


def test_request_money_is_never_a_float() -> None:
    with pytest.raises(RequestValidationError, match="money is not a float"):
        ContactCreate(name="x", contact_type_ids=["CUSTOMER"], credit_limit=0.1)


def test_decimal_round_trip_into_a_body_keeps_every_digit() -> None:
    invoice = SalesInvoiceCreate.model_validate(
        {
            "contact_id": "c1",
            "date": dt.date(2026, 11, 21),
            "invoice_lines": [
                {"description": "A", "ledger_account_id": "L", "quantity": Decimal("3"),
                 "unit_price": Decimal("0.10"), "discount_amount": "12345678901234567.891"},
            ],
        }
    )  # fmt: skip
    body = dumps({"sales_invoice": invoice.to_body()})
    assert b'"unit_price":0.10' in body
    assert b'"discount_amount":12345678901234567.891' in body
    assert b'"date":"2026-11-21"' in body
    # Unset fields are not sent; decoding the body gives the same Decimals back.
    decoded = loads(body)["sales_invoice"]
    assert set(decoded) == {"contact_id", "date", "invoice_lines"}
    assert decoded["invoice_lines"][0]["unit_price"] == Decimal("0.10")


def test_enum_fields_are_checked_in_requests() -> None:
    with pytest.raises(RequestValidationError, match="credit_terms"):
        ContactCreate(name="x", contact_type_ids=["C"], credit_terms="whenever")
    ContactCreate(name="x", contact_type_ids=["C"], credit_terms="month_end_invoice")


def test_dumps_refuses_floats_and_non_finite_decimals() -> None:
    with pytest.raises(TypeError):
        dumps({"amount": 0.1})
    with pytest.raises(ValueError):
        dumps({"amount": Decimal("NaN")})


def test_every_number_keeps_its_digits_short_or_long() -> None:
    content = b'{"$items": [{"id": "a", "total_amount": 1234567890123456.78, "net_amount": 0.10}]}'
    (invoice,) = parse_page(content, SalesInvoice).items
    assert str(invoice.total_amount) == "1234567890123456.78"
    assert str(invoice.net_amount) == "0.10"  # the trailing zero too: never through a float
    assert invoice.model_dump()["net_amount"] == Decimal("0.10")


def test_parsing_leaves_the_garbage_collector_as_it_found_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gc

    from sage_accounting._runtime import _envelope

    # Large enough for the collector to be paused while it parses (see _envelope).
    invoice = json.loads(INVOICE_PAGE)["$items"][0]
    big = json.dumps({"$items": [dict(invoice, id=f"inv{i}") for i in range(200)]}).encode()
    assert len(big) > _envelope._PAUSE_ABOVE
    seen: list[bool] = []
    real_loads = _envelope.loads

    def loads_watching_the_collector(content: bytes) -> object:
        seen.append(gc.isenabled())
        return real_loads(content)

    monkeypatch.setattr(_envelope, "loads", loads_watching_the_collector)
    assert gc.isenabled()
    assert len(parse_page(big, SalesInvoice).items) == 200
    assert len(parse_page(INVOICE_PAGE, SalesInvoice).items) == 2
    assert seen == [False, True]  # paused for the large body only
    assert gc.isenabled()
    gc.disable()
    try:
        parse_page(big, SalesInvoice)
        assert not gc.isenabled()  # a program that turned it off keeps it off
    finally:
        gc.enable()
