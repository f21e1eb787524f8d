"""Sage's recorded list pages (``../shared/wire/ledgerscope/``, read as recorded, UTF-8 BOM and
all): every record read lazily, field by field or dumped, equals its eager validation."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from exact_values import same
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from sage_accounting import APIResponseValidationError
from sage_accounting._runtime._encoding import UTF8_BOM, dumps
from sage_accounting._runtime._encoding import loads as stdlib_loads
from sage_accounting._runtime._pagination import parse_response_page
from sage_accounting.models import BankAccount, Product, SalesInvoice

WIRE = Path(__file__).resolve().parents[2] / "shared" / "wire" / "ledgerscope"
PAGES = [
    ("GetAll_Product.json", Product),
    ("GetAll_SalesInvoice.json", SalesInvoice),
    ("GetAll_BankAccount.json", BankAccount),
]


def recorded(name: str) -> bytes:
    path = WIRE / name
    if not path.exists():
        pytest.fail(f"{path} is missing: ../shared must sit beside the repository")
    return path.read_bytes()


def lazy_page(content: bytes, model: type[BaseModel]) -> list[Any]:
    request = httpx.Request("GET", "https://api.accounting.sage.com/v3.1/things")
    return parse_response_page(httpx.Response(200, content=content, request=request), model).items


def eager_page(content: bytes, model: type[BaseModel]) -> list[Any]:
    items = stdlib_loads(content.removeprefix(UTF8_BOM))["$items"]
    return TypeAdapter(list[model]).validate_python(items)  # type: ignore[valid-type]


@pytest.mark.parametrize(("name", "model"), PAGES)
def test_every_field_of_every_recorded_record_reads_as_eager_validation(
    name: str, model: type[BaseModel]
) -> None:
    content = recorded(name)
    lazy, eager = lazy_page(content, model), eager_page(content, model)
    assert len(lazy) == len(eager) > 0
    for index, (record, expected) in enumerate(zip(lazy, eager, strict=True)):
        for field in model.model_fields:
            got, want = getattr(record, field), getattr(expected, field)
            assert same(got, want), f"$items.{index}.{field}: {got!r} != {want!r}"
        assert record == expected


@pytest.mark.parametrize(("name", "model"), PAGES)
@pytest.mark.parametrize("mode", ["python", "json"])
def test_every_recorded_record_dumps_as_eager_validation(
    name: str, model: type[BaseModel], mode: str
) -> None:
    content = recorded(name)
    for lazy, eager in zip(lazy_page(content, model), eager_page(content, model), strict=True):
        assert same(lazy.model_dump(mode=mode), eager.model_dump(mode=mode))
        assert lazy.model_dump_json() == eager.model_dump_json()
        assert lazy.model_fields_set == eager.model_fields_set


def test_recorded_money_keeps_its_digits() -> None:
    product = lazy_page(recorded("GetAll_Product.json"), Product)[0]
    assert isinstance(product.cost_price, Decimal)
    assert str(product.cost_price) == str(
        stdlib_loads(recorded("GetAll_Product.json").removeprefix(UTF8_BOM))["$items"][0][
            "cost_price"
        ]
    )


# -- a dump of a record still lazy (built straight from its JSON object, _runtime/_dump.py) -------

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
    st.sampled_from(["", "1.10", "abc", "2026-11-21", "2026-11-21T10:11:12Z", "0", "true"]),
    st.text(max_size=5),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def mutated(draw: st.DrawFn, wire: dict[str, Any]) -> dict[str, Any]:
    """A recorded record with a few of its values changed the ways Sage's can be: a key left
    out, a null, an empty string, an unknown key, any JSON value, a field under its Python name
    instead of its alias, nested the same way."""
    out = dict(wire)
    for _ in range(draw(st.integers(0, 4))):
        if not out:
            break
        key = draw(st.sampled_from(sorted(out)))
        how = draw(st.sampled_from(["drop", "null", "empty", "value", "nested", "unknown", "name"]))
        if how == "drop":
            del out[key]
        elif how == "null":
            out[key] = None
        elif how == "empty":
            out[key] = ""
        elif how == "value":
            out[key] = draw(JSON_VALUES)
        elif how == "nested" and isinstance(out[key], dict):
            out[key] = draw(mutated(out[key]))
        elif how == "nested" and isinstance(out[key], list) and out[key]:
            out[key] = [draw(mutated(v)) if isinstance(v, dict) else v for v in out[key]]
        elif how == "unknown":
            out[draw(st.text(min_size=1, max_size=6))] = draw(JSON_VALUES)
        elif how == "name" and key == "$path":
            out["path"] = out.pop(key) if draw(st.booleans()) else "/both/sent"
    return out


def lazy_record_of(wire: dict[str, Any], model: type[BaseModel]) -> Any:
    (record,) = lazy_page(dumps({"$items": [wire]}), model)
    return record


@pytest.mark.parametrize(("name", "model"), PAGES)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_changed_recorded_record_dumps_as_its_eager_validation_or_raises_its_error(
    name: str, model: type[BaseModel], data: st.DataObject
) -> None:
    items = stdlib_loads(recorded(name).removeprefix(UTF8_BOM))["$items"]
    wire = data.draw(mutated(data.draw(st.sampled_from(items))))
    mode = data.draw(st.sampled_from(["python", "json"]))
    record = lazy_record_of(wire, model)
    try:
        expected = model.model_validate(stdlib_loads(dumps(wire))).model_dump(mode=mode)
    except ValidationError:
        with pytest.raises(APIResponseValidationError, match=r"\$items\.0"):
            record.model_dump(mode=mode)
        return
    assert same(record.model_dump(mode=mode), expected)
    assert same(record.model_dump(mode=mode), expected)  # the record is unchanged by its dump


def test_a_dump_shares_nothing_with_the_record() -> None:
    wire = stdlib_loads(recorded("GetAll_Product.json").removeprefix(UTF8_BOM))["$items"][0]
    wire["brand_new"] = {"list": [1, {"deep": "x"}]}
    record = lazy_record_of(wire, Product)
    dumped = record.model_dump()
    dumped["sales_prices"][0]["price"] = Decimal("999")
    dumped["brand_new"]["list"][1]["deep"] = "changed"
    dumped["links"].clear()
    assert record.sales_prices[0].price == Decimal("30.0")
    extra = record.model_extra  # Sage's "links" is not in the spec: kept as an extra too
    assert extra["brand_new"] == {"list": [1, {"deep": "x"}]} and len(extra["links"]) == 1
    assert same(record.model_dump(), Product.model_validate(wire).model_dump())


def test_a_dump_after_changing_what_was_read_shows_the_change() -> None:
    wire = stdlib_loads(recorded("GetAll_Product.json").removeprefix(UTF8_BOM))["$items"][0]
    record = lazy_record_of(wire, Product)
    assert record.description == "Oak Wood Frame"  # read, unchanged: the dump is the same
    assert record.model_dump()["description"] == "Oak Wood Frame"
    record.sales_prices[0].price = Decimal("31.50")  # a nested record read and changed
    record.sales_prices.append(record.sales_prices[0])  # a list read and changed
    dumped = record.model_dump()
    assert dumped["sales_prices"][0]["price"] == Decimal("31.50")
    assert len(dumped["sales_prices"]) == 4


def test_a_bad_value_met_by_a_dump_names_its_place() -> None:
    items = stdlib_loads(recorded("GetAll_Product.json").removeprefix(UTF8_BOM))["$items"]
    items = [*items, dict(items[0], sales_prices=[items[0]["sales_prices"][0], {"price": "x"}])]
    records = lazy_page(dumps({"$items": items}), Product)
    assert records[0].model_dump()["cost_price"] == Decimal("10.0")
    with pytest.raises(APIResponseValidationError, match=r"\$items\.3\.sales_prices\.1\.price"):
        records[3].model_dump()
    with pytest.raises(APIResponseValidationError, match=r"\$items\.3\.sales_prices\.1\.price"):
        records[3].model_dump(mode="json")


@pytest.mark.parametrize(("name", "model"), PAGES)
def test_a_dump_leaves_a_recorded_record_as_it_was(name: str, model: type[BaseModel]) -> None:
    """Dumped from its JSON object: nothing validated into the record (``vars`` holds only what
    was read), so dumping a page record by record builds no model."""
    for record in lazy_page(recorded(name), model):
        record.model_dump()
        record.model_dump(mode="json")
        assert vars(record) == {}
        assert record.id is not None
        record.model_dump()
        assert list(vars(record)) == ["id"]
