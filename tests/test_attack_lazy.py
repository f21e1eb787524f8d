"""Lazy records attacked with Sage's recorded list pages (``../shared/wire/ledgerscope/``):
every recorded list page, whatever it is (a page added later is checked too, and one with no
model fails), read lazily equals its eager validation, value by value and type by type, in both
dump modes; records whose key sets vary more than the dump's cache holds (8 per model), read
from several threads at once; a record dumped, its nested list changed, dumped again; a bad
value deep in nested lists named by its full place whichever way it is met."""

from __future__ import annotations

import datetime as dt
import random
import threading
from decimal import Decimal
from typing import Any

import pytest
from exact_values import same
from pydantic import BaseModel
from test_list_records import INVOICE, page_of
from test_real_pages import WIRE, eager_page, lazy_page

import sage_accounting.models as models
from sage_accounting import APIResponseValidationError
from sage_accounting._runtime._encoding import UTF8_BOM, dumps, loads
from sage_accounting.models import SalesInvoice

LIST_PAGES = sorted(WIRE.glob("GetAll_*.json"))


def model_of(name: str) -> type[BaseModel]:
    """GetAll_<Model>.json is a page of models.<Model>."""
    model = getattr(models, name.removeprefix("GetAll_").removesuffix(".json"), None)
    if model is None:
        pytest.fail(f"{name}: a recorded list page of no model the SDK has")
    return model  # type: ignore[no-any-return]


def zones(value: Any, place: str = "") -> list[tuple[str, type[Any]]]:
    """The tzinfo class of every date-time in ``value`` (a dump, a record), by place:
    ``same`` compares date-times with ==, which a UTC and a TzInfo(0) pass."""
    if isinstance(value, BaseModel):
        return [
            z for f in type(value).model_fields for z in zones(getattr(value, f), f"{place}.{f}")
        ]
    if isinstance(value, dict):
        return [z for k, v in value.items() for z in zones(v, f"{place}.{k}")]
    if isinstance(value, list):
        return [z for i, v in enumerate(value) for z in zones(v, f"{place}.{i}")]
    if isinstance(value, dt.datetime | dt.time):
        return [(place, type(value.tzinfo))]
    return []


def test_the_recorded_list_pages_are_there() -> None:
    assert len(LIST_PAGES) >= 4, LIST_PAGES  # BankAccount, Business, Product, SalesInvoice


@pytest.mark.parametrize("path", LIST_PAGES, ids=lambda p: p.name)
def test_every_recorded_list_page_reads_lazily_as_eager_validation(path: Any) -> None:
    model = model_of(path.name)
    content = path.read_bytes()
    lazy, eager = lazy_page(content, model), eager_page(content, model)
    assert len(lazy) == len(eager) > 0
    for index, (record, expected) in enumerate(zip(lazy, eager, strict=True)):
        for mode in ("python", "json"):  # dumped first: straight from the JSON object
            assert same(record.model_dump(mode=mode), expected.model_dump(mode=mode)), index
        assert zones(record.model_dump()) == zones(expected.model_dump())
        assert record.model_dump_json() == expected.model_dump_json()
        for field in model.model_fields:
            got, want = getattr(record, field), getattr(expected, field)
            assert same(got, want), f"$items.{index}.{field}: {got!r} != {want!r}"
            if hasattr(want, "tzinfo"):
                assert type(got.tzinfo) is type(want.tzinfo), f"$items.{index}.{field}"
        assert record == expected and record.model_fields_set == expected.model_fields_set
        assert zones(record) == zones(expected)
        assert same(record.model_dump(mode="json"), expected.model_dump(mode="json"))


def at_once(work: Any, threads: int) -> None:
    """``work(seed)`` in ``threads`` threads (seeds 0, 1, ...), joined."""
    started = [threading.Thread(target=work, args=(seed,)) for seed in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()


def varied(path: Any, count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` records of the page each holding a random part of a recorded record's keys, as
    pages fetched with different ``attributes=`` hold."""
    items = loads(path.read_bytes().removeprefix(UTF8_BOM))["$items"]
    chosen = random.Random(seed)
    out = []
    for _ in range(count):
        wire = dict(chosen.choice(items))
        for key in chosen.sample(sorted(wire), chosen.randrange(len(wire))):
            del wire[key]
        out.append(wire)
    return out


@pytest.mark.parametrize("path", LIST_PAGES, ids=lambda p: p.name)
def test_records_of_many_key_sets_dumped_from_many_threads_are_their_eager_validation(
    path: Any,
) -> None:
    model = model_of(path.name)
    wires = varied(path, 60, seed=len(path.name))
    recorded_keys = max(map(len, loads(path.read_bytes().removeprefix(UTF8_BOM))["$items"]))
    if recorded_keys > 3:  # more key sets than the cache keeps (8), where the records allow it
        assert len({tuple(w) for w in wires}) > 8
    body = dumps({"$items": wires})
    eager = eager_page(body, model)
    differ: list[tuple[int, str]] = []
    start = threading.Barrier(6)

    def dump_all(seed: int) -> None:
        order = random.Random(seed)
        lazy = lazy_page(body, model)  # each thread its own page: the dumpers are shared
        start.wait()
        for index in order.sample(range(len(lazy)), len(lazy)):
            mode = order.choice(["python", "json"])
            dumped, expected = lazy[index].model_dump(mode=mode), eager[index].model_dump(mode=mode)
            if not same(dumped, expected) or zones(dumped) != zones(expected):
                differ.append((index, mode))

    at_once(dump_all, 6)
    assert differ == []


def test_one_page_read_from_several_threads_at_once_is_its_eager_validation() -> None:
    """The same records, fields and dumps asked from six threads at once."""
    path = WIRE / "GetAll_Product.json"
    model = model_of(path.name)
    lazy, eager = lazy_page(path.read_bytes(), model), eager_page(path.read_bytes(), model)
    start = threading.Barrier(6)
    differ: list[str] = []

    def read_all(seed: int) -> None:
        order = random.Random(seed)
        start.wait()
        for _ in range(200):
            index = order.randrange(len(lazy))
            field = order.choice([*model.model_fields, "dump"])
            if field == "dump":
                got, want = lazy[index].model_dump(), eager[index].model_dump()
            else:
                got, want = getattr(lazy[index], field), getattr(eager[index], field)
            if not same(got, want):
                differ.append(f"{index}.{field}")

    at_once(read_all, 6)
    assert differ == []


LINES = [
    {"id": "l1", "quantity": "1.0", "unit_price": "10.00", "ledger_account": {"id": "la1"}},
    {"id": "l2", "quantity": "2.0", "unit_price": "5.00", "ledger_account": {"id": "la2"}},
]


def test_a_record_dumped_then_its_nested_list_changed_dumps_the_change() -> None:
    wire = dict(INVOICE, invoice_lines=LINES)
    lazy = page_of([wire], SalesInvoice).items[0]
    eager = SalesInvoice.model_validate(loads(dumps(wire)))
    for record in (lazy, eager):
        record.model_dump()  # straight from the JSON object, the record still lazy
        lines = record.invoice_lines
        assert lines is not None and lines[0].ledger_account is not None
        lines[1].unit_price = Decimal("7.50")
        lines.append(lines[0])
        lines[0].ledger_account.id = "changed"
    for mode in ("python", "json"):
        assert same(lazy.model_dump(mode=mode), eager.model_dump(mode=mode))
    dumped = lazy.model_dump()
    assert [line["unit_price"] for line in dumped["invoice_lines"]] == [
        Decimal("10.00"), Decimal("7.50"), Decimal("10.00"),
    ]  # fmt: skip
    assert dumped["invoice_lines"][2]["ledger_account"]["id"] == "changed"


BAD_PLACE = r"\$items\.3\.invoice_lines\.1\.ledger_account\.id"


@pytest.mark.parametrize(
    "meet",
    [
        lambda r: r.model_dump(),
        lambda r: r.model_dump(mode="json"),
        lambda r: r.model_dump_json(),
        lambda r: r.invoice_lines[1].model_dump(),
        lambda r: r.invoice_lines[1].ledger_account.model_dump(mode="json"),
        lambda r: r.invoice_lines[1].ledger_account.id,
        lambda r: (r.invoice_lines, r.model_dump()),
        lambda r: (r.invoice_lines[0].ledger_account.id, r.invoice_lines[1].model_dump()),
        lambda r: repr(r),
        lambda r: r == r.model_copy(),
        lambda r: r.model_copy(deep=True).invoice_lines[1].ledger_account.id,
    ],
)
def test_a_bad_value_deep_in_nested_lists_names_its_full_place_however_met(meet: Any) -> None:
    bad = dict(INVOICE, invoice_lines=[LINES[0], dict(LINES[1], ledger_account={"id": []})])
    records = page_of([INVOICE, INVOICE, INVOICE, bad], SalesInvoice).items
    with pytest.raises(APIResponseValidationError, match=BAD_PLACE):
        meet(records[3])
    lines: Any = records[3].invoice_lines
    assert lines[0].ledger_account.id == "la1"  # the rest still reads
    assert records[2].model_dump()["total_amount"] == Decimal("110.00")
