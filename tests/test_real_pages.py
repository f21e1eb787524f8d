"""Sage's recorded list pages (``../shared/wire/ledgerscope/``, read as recorded, UTF-8 BOM and
all): every record read lazily, field by field or dumped, equals its eager validation."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from exact_values import same
from pydantic import BaseModel, TypeAdapter

from sage_accounting._runtime._encoding import UTF8_BOM
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
