"""A list page's records validate each field on first read (``_runtime/_lazy.py``): what a user
reads, dumps, compares or copies is exactly what an eagerly validated record gives, and a bad
value raises the typed error when it is read."""

from __future__ import annotations

import copy
import datetime as dt
import pickle
import random
import threading
import typing
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import pytest
from pydantic import BaseModel, TypeAdapter, field_validator

import sage_accounting.models as models
from sage_accounting import APIResponseValidationError
from sage_accounting._runtime import SageModel
from sage_accounting._runtime._encoding import dumps, loads
from sage_accounting._runtime._page import Page
from sage_accounting._runtime._pagination import parse_response_page
from sage_accounting._runtime._redact import remember
from sage_accounting.models import Contact, SalesInvoice

T = TypeVar("T", bound=BaseModel)


def page_of(items: list[Any], model: type[T], request_id: str = "r1") -> Page[T]:
    """A page of ``items`` as Sage sends it (Decimals written as JSON numbers, every digit)."""
    body = dumps({"$total": len(items), "$page": 1, "$items": items})
    return page_from_bytes(body, model, request_id)


def page_from_bytes(body: bytes, model: type[T], request_id: str = "r1") -> Page[T]:
    request = httpx.Request("GET", "https://api.accounting.sage.com/v3.1/things")
    response = httpx.Response(
        200, content=body, request=request, headers={"X-Request-Id": request_id}
    )
    return parse_response_page(response, model)


# -- every response model, read lazily, equals its eager validation --------------------------------


def response_models() -> list[type[SageModel]]:
    found = {getattr(models, name) for name in dir(models) if not name.startswith("_")}
    return sorted(
        (m for m in found if isinstance(m, type) and issubclass(m, SageModel)),
        key=lambda m: m.__name__,
    )


def wire_value(annotation: Any, rng: random.Random, depth: int) -> Any:
    """A value as Sage could send it for ``annotation``, in one of the forms it really uses."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is typing.Annotated:
        text = str(annotation)
        if "lenient date-time" in text:
            return rng.choice(["2026-11-21T10:11:12Z", "2026-11-21T10:11:12.5+01:00", ""])
        if "lenient date" in text:
            return rng.choice(["2026-11-21", ""])
        return wire_value(args[0], rng, depth)
    if args and typing.get_origin(annotation) in (typing.Union, type(int | None)):
        if len(args) == 1 and rng.random() < 0.15:
            return None
        return wire_value(args[0], rng, depth)
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        return [wire_value(item, rng, depth + 1) for _ in range(2 if depth < 2 else 0)]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if depth >= 2:
            return {"id": "ref", "displayed_as": "Reference", "$path": "/x/ref"}
        return wire_object(annotation, rng, depth + 1)
    if annotation is Decimal:
        return rng.choice(["1234.56", "-430035.84", "110.0", Decimal("1.10"), 7])
    if annotation is bool:
        return rng.choice([True, False])
    if annotation is int:
        return rng.choice([7, 0, 2147483647])
    if annotation is str:
        return rng.choice(["text é", "", "x" * 40, 12345])  # an id sent as a number is a str
    if annotation is dt.date:
        return "2026-11-21"
    if annotation is dt.datetime:
        return "2026-11-21T10:11:12Z"
    return rng.choice(["a", 1, None])


def wire_object(model: type[BaseModel], rng: random.Random, depth: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if rng.random() < 0.8:
            out[field.alias or name] = wire_value(field.annotation, rng, depth)
    out["brand_new_field"] = {"nested": [1, "two"]}  # Sage adds fields: kept
    return out


@pytest.mark.parametrize("model", response_models(), ids=lambda m: m.__name__)
def test_a_lazy_record_reads_and_dumps_as_its_eager_validation(model: type[SageModel]) -> None:
    rng = random.Random(model.__name__)
    wires = [wire_object(model, rng) for _ in range(3)]
    body = b'{"$items": [' + b",".join(dumps(w) for w in wires) + b"]}"
    page = page_from_bytes(body, model)
    for index, (lazy, wire) in enumerate(zip(page.items, wires, strict=True)):
        eager = model.model_validate(loads(dumps(wire)))
        names = list(model.model_fields)
        read = rng.sample(names, k=len(names) // 2)
        for name in read:  # a field read alone equals, in value and type, the eager field
            value, expected = getattr(lazy, name), getattr(eager, name)
            assert value == expected and type(value) is type(expected), (index, name)
        assert lazy.model_dump() == eager.model_dump()
        assert lazy.model_dump(mode="json", by_alias=True, exclude_unset=True) == eager.model_dump(
            mode="json", by_alias=True, exclude_unset=True
        )
        assert lazy.model_dump_json() == eager.model_dump_json()
        assert lazy.model_fields_set == eager.model_fields_set
        assert lazy.model_extra == eager.model_extra == {"brand_new_field": {"nested": [1, "two"]}}
        assert lazy == eager and repr(lazy) == repr(eager)


# -- pydantic's methods on an untouched record ------------------------------------------------------

INVOICE = {
    "id": "inv1",
    "displayed_as": "SI-1",
    "$path": "/sales_invoices/inv1",
    "total_amount": "110.00",
    "net_amount": Decimal("100.10"),  # a JSON number
    "date": "2026-01-05",
    "due_date": "",
    "contact": {"id": "c1", "displayed_as": "Acme", "balance": "-430035.84"},
    "invoice_lines": [{"id": "l1", "unit_price": "100.00"}, {"id": "l2", "quantity": "2"}],
    "brand_new_field": "kept",
}


def fresh() -> SalesInvoice:
    (invoice,) = page_of([INVOICE], SalesInvoice).items
    return invoice


def eager() -> SalesInvoice:
    return SalesInvoice.model_validate(loads(dumps(INVOICE)))


USES: dict[str, Callable[[SalesInvoice], Any]] = {
    "model_dump": lambda r: r.model_dump(),
    "model_dump_json_mode": lambda r: r.model_dump(mode="json", exclude_none=True),
    "model_dump_json": lambda r: r.model_dump_json(by_alias=True),
    "model_copy": lambda r: r.model_copy().model_dump(),
    "model_copy_deep": lambda r: r.model_copy(deep=True).model_dump(),
    "model_copy_update": lambda r: r.model_copy(update={"notes": "n"}).model_dump(),
    "copy": lambda r: copy.copy(r).model_dump(),
    "deepcopy": lambda r: copy.deepcopy(r).model_dump(),
    "pickle": lambda r: pickle.loads(pickle.dumps(r)).model_dump(),
    "dict": lambda r: dict(r),
    "repr": lambda r: repr(r),
    "str": lambda r: str(r),
    "model_fields_set": lambda r: r.model_fields_set,
    "model_extra": lambda r: r.model_extra,
    "unknown_field": lambda r: r.brand_new_field,  # type: ignore[attr-defined]  # an unknown field
}


@pytest.mark.parametrize("use", USES.values(), ids=USES.keys())
def test_every_method_sees_the_whole_record(use: Any) -> None:
    assert use(fresh()) == use(eager())
    partly = fresh()
    assert partly.contact is not None and partly.total_amount == Decimal("110.00")
    assert use(partly) == use(eager())


def test_equality_both_ways_and_between_lazy_records() -> None:
    assert fresh() == eager() and eager() == fresh() and fresh() == fresh()
    other = dict(INVOICE, total_amount="111.00")
    assert page_of([other], SalesInvoice).items[0] != fresh()


def test_a_record_inside_a_users_own_model_dumps_whole() -> None:
    class Export(BaseModel):
        invoice: SalesInvoice
        invoices: list[SalesInvoice]

    export = Export(invoice=fresh(), invoices=[fresh(), fresh()])
    expected = Export(invoice=eager(), invoices=[eager(), eager()])
    assert export.model_dump() == expected.model_dump()
    assert export.model_dump(exclude_unset=True) == expected.model_dump(exclude_unset=True)
    assert export.model_dump_json() == expected.model_dump_json()
    adapter = TypeAdapter(list[SalesInvoice])
    assert adapter.dump_python([fresh()]) == adapter.dump_python([eager()])


def test_assignment_and_deletion_keep_the_rest_of_the_record() -> None:
    invoice = fresh()
    invoice.notes = "paid by card"
    assert invoice.notes == "paid by card" and invoice.total_amount == Decimal("110.00")
    assert invoice.model_dump()["notes"] == "paid by card"
    assert invoice.model_dump()["contact"]["balance"] == Decimal("-430035.84")
    other = fresh()
    del other.notes
    assert other.total_amount == Decimal("110.00")
    with pytest.raises(AttributeError):
        other.notes  # noqa: B018


def test_asking_for_an_unknown_name_validates_nothing() -> None:
    bad = page_of([dict(INVOICE, total_amount="abc")], SalesInvoice).items[0]
    assert not hasattr(bad, "_repr_html_") and not hasattr(bad, "no_such_field")
    assert bad.id == "inv1"  # the bad value is not read: no error yet


def test_nested_records_are_the_same_objects_before_and_after_a_dump() -> None:
    invoice = fresh()
    contact = invoice.contact
    line = invoice.invoice_lines[0]  # type: ignore[index]
    assert invoice.contact is contact and contact is not None
    contact.name = "Renamed"
    invoice.model_dump()
    assert invoice.contact is contact and invoice.invoice_lines[0] is line  # type: ignore[index]
    assert invoice.model_dump()["contact"]["name"] == "Renamed"
    assert line.unit_price == Decimal("100.00")


def test_money_keeps_its_digits_as_string_or_number() -> None:
    invoice = fresh()
    assert str(invoice.total_amount) == "110.00" and str(invoice.net_amount) == "100.10"
    assert invoice.due_date is None and invoice.date == dt.date(2026, 1, 5)


# -- a bad value raises the typed error when read ---------------------------------------------------


@pytest.mark.parametrize(
    ("change", "read", "place"),
    [
        ({"total_amount": "abc"}, lambda r: r.total_amount, "$items.1.total_amount"),
        ({"date": "yesterday"}, lambda r: r.date, "$items.1.date"),
        ({"contact": {"balance": "x"}}, lambda r: r.contact.balance, "$items.1.contact.balance"),
        (
            {"invoice_lines": [{"id": "l1"}, {"unit_price": []}]},
            lambda r: r.invoice_lines[1].unit_price,
            "$items.1.invoice_lines.1.unit_price",
        ),
        (  # three records deep: each level's place is kept, and joined only for the error
            {"invoice_lines": [{"id": "l1"}, {"ledger_account": {"id": []}}]},
            lambda r: r.invoice_lines[1].ledger_account.id,
            "$items.1.invoice_lines.1.ledger_account.id",
        ),
        (  # a nested record read first leaves the lines' places as they were
            {"contact": {"id": "c1"}, "invoice_lines": [{"id": "l1"}, {"unit_price": "x"}]},
            lambda r: (r.contact.id, r.invoice_lines[1].unit_price),
            "$items.1.invoice_lines.1.unit_price",
        ),
        ({"contact": ["not", "an object"]}, lambda r: r.contact, "$items.1.contact"),
        (
            {"invoice_lines": [{"id": "l1"}, 5]},
            lambda r: r.invoice_lines,
            "$items.1.invoice_lines.1",
        ),
    ],
)
def test_a_bad_value_raises_when_read_naming_its_place(change: Any, read: Any, place: str) -> None:
    page = page_of([INVOICE, dict(INVOICE, **change)], SalesInvoice, request_id="req-77")
    good, bad = page.items
    assert good.total_amount == Decimal("110.00")
    with pytest.raises(APIResponseValidationError) as err:
        read(bad)
    error = err.value
    assert error.status_code == 200 and error.request_id == "req-77" and error.method == "GET"
    reason = str(error).split("unexpected response body: ")[1]
    assert reason.startswith(place + ": ") and ";" not in reason.split("; body starts")[0], reason
    assert bad.id == "inv1"  # the record's other values still read
    with pytest.raises(APIResponseValidationError, match=place.replace("$", r"\$")):
        bad.model_dump()


def test_a_bad_date_is_one_problem_at_the_field_in_a_record_or_a_page() -> None:
    """A lenient date accepts "" as None: a bad one is reported once, at its field, without
    naming the validator that reads ""."""
    with pytest.raises(APIResponseValidationError) as err:
        page_of([dict(INVOICE, date="05/01/2026")], SalesInvoice).items[0].date  # noqa: B018
    reason = str(err.value).split("unexpected response body: ")[1].split("; body starts")[0]
    expected = "Input should be a valid date or datetime, invalid character in year"
    assert reason == f"$items.0.date: {expected}"
    from sage_accounting._runtime._envelope import MalformedBody, parse_model

    with pytest.raises(MalformedBody) as bad:
        parse_model(dumps(dict(INVOICE, updated_at="soon")), SalesInvoice)
    assert str(bad.value).startswith("updated_at: Input should be a valid datetime")
    assert "function-after" not in str(bad.value) and ";" not in str(bad.value)


def test_the_errors_excerpt_is_the_record_and_holds_no_secret() -> None:
    secret = "sk-live-0123456789abcdef"
    remember(secret)
    bad = page_of([dict(INVOICE, total_amount="abc", notes=secret)], SalesInvoice).items[0]
    with pytest.raises(APIResponseValidationError) as err:
        bad.total_amount  # noqa: B018
    assert secret not in str(err.value) and '"id": "inv1"' in err.value.body_excerpt


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"$items": {"id": "x"}}', "$items: Input should be a valid list"),
        (b'{"$items": [{"id": "a"}, {"id": "b"}, "c"]}', "$items.2: Input should be an object"),
        (b'{"$total": 3}', "$items: Field required"),
        (b'{"$items": [], "$total": "many"}', "$total"),
    ],
)
def test_a_page_that_is_not_a_page_raises_at_once(body: bytes, reason: str) -> None:
    with pytest.raises(APIResponseValidationError) as err:
        page_from_bytes(body, SalesInvoice)
    assert reason in str(err.value)


# -- threads and subclasses -------------------------------------------------------------------------


def test_threads_reading_and_dumping_the_same_records_agree() -> None:
    page = page_of([dict(INVOICE, id=f"inv{i}") for i in range(50)], SalesInvoice)
    results: list[list[Any]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work() -> None:
        try:
            start.wait(timeout=10)
            seen: list[Any] = []
            for invoice in page.items:
                seen.append((invoice.total_amount, invoice.contact.balance))  # type: ignore[union-attr]
                seen.append(invoice.model_dump())
            results.append(seen)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors and len(results) == 8
    assert all(r == results[0] for r in results)


class CheckedContact(Contact):
    @field_validator("name")
    @classmethod
    def shout(cls, value: str | None) -> str | None:
        return value.upper() if value else value


class ExtendedContact(Contact):
    local_note: str = "none"


def test_a_subclass_with_a_validator_still_runs_it() -> None:
    (contact,) = page_of([{"id": "c1", "name": "acme"}], CheckedContact).items
    assert contact.name == "ACME" and contact.id == "c1"


def test_a_subclass_adding_a_field_reads_lazily() -> None:
    (contact,) = page_of([{"id": "c1", "balance": "1.50"}], ExtendedContact).items
    assert contact.local_note == "none" and contact.balance == Decimal("1.50")
    assert contact.model_dump()["local_note"] == "none"
