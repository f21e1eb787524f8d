"""Records to Arrow tables (``sage_accounting.sync._arrow``): money and date-times cast a column
at a time give exactly the tables the value-by-value checked path gives, and whatever the casts
do not admit is decided by the checked path (converted, or refused naming the record)."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from sage_accounting.sync import SyncDataError
from sage_accounting.sync._arrow import Flattener, arrow_table
from sage_accounting.sync._tables import all_tables

pytest.importorskip("pyarrow")


def _tables(records: list[dict[str, Any]], *, checked: bool) -> dict[str, Any]:
    shape = all_tables()["sales_invoices"].shape
    rows = Flattener("sales_invoices", checked=checked)
    for record in records:
        rows.add(record, shape, f"sales_invoices {record['id']} of business b",
                 {"business_id": "b", "_sage_seq": 1})  # fmt: skip
    return dict(rows.tables())


def _amount(rng: random.Random) -> str:
    digits = rng.randint(0, 10)
    number = Decimal(rng.randint(-(10**12), 10**12)).scaleb(-digits)
    return f"{number:f}"


def _moment(rng: random.Random) -> str:
    fraction = "" if rng.random() < 0.5 else "." + str(rng.randint(0, 999999)).zfill(6)[
        : rng.randint(1, 6)]  # fmt: skip
    zone = rng.choice(["Z", "+00:00", "+01:00", "-05:30", "+13:45"])
    return f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:" \
        f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}{fraction}{zone}"  # fmt: skip


def _records(rng: random.Random, n: int, odd: list[Any] | None = None) -> list[dict[str, Any]]:
    records = []
    for i in range(n):
        lines = [{"id": f"l{i}.{j}", "unit_price": _amount(rng), "quantity": _amount(rng),
                  "net_amount": rng.choice([_amount(rng), "", None])}
                 for j in range(rng.randint(0, 3))]  # fmt: skip
        records.append({
            "id": f"i{i}", "total_amount": rng.choice([_amount(rng), "", None]),
            "net_amount": "9" * 28 + "." + "9" * 10 if i == 0 else _amount(rng),
            "updated_at": _moment(rng), "created_at": rng.choice([_moment(rng), None]),
            "invoice_lines": lines, "contact": {"id": "c", "displayed_as": "C"},
        })  # fmt: skip
    for i, value in enumerate(odd or []):
        records[i]["total_amount"] = value
    return records


def test_money_and_date_times_cast_by_column_equal_the_checked_path() -> None:
    rng = random.Random(11)
    records = _records(rng, 500)
    fast, checked = _tables(records, checked=False), _tables(records, checked=True)
    assert fast.keys() == checked.keys() == {"sales_invoices", "sales_invoices__invoice_lines"}
    for name, table in fast.items():
        assert table.schema == checked[name].schema, name
        assert table.equals(checked[name]), name
    assert fast["sales_invoices"]["net_amount"][0].as_py() == Decimal("9" * 28 + "." + "9" * 10)
    # ...and it was the cast that made them (not the checked path taken again):
    shape = all_tables()["sales_invoices"].shape
    rows = Flattener("sales_invoices")
    for record in records:
        rows.add(record, shape, "x", {"business_id": "b"})
    assert arrow_table("sales_invoices", rows.rows["sales_invoices"], rows.kinds) is not None


@pytest.mark.parametrize(
    "odd", [1, Decimal("2.5"), "+1.5", "1e3", "1.", ".5", "0" * 30 + "1", "-0"], ids=repr
)
def test_values_the_cast_does_not_admit_are_read_as_the_checked_path_reads_them(odd: Any) -> None:
    records = _records(random.Random(5), 50, odd=[odd])
    fast, checked = _tables(records, checked=False), _tables(records, checked=True)
    for name, table in fast.items():
        assert table.equals(checked[name]), name


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("total_amount", "0.12345678901", r"total_amount: 0\.12345678901 has more than 10 digits"),
        ("total_amount", "1" * 29, "has more than 28 digits"),
        ("total_amount", "1_000", "is not a number"),
        ("total_amount", "NaN", "is not a number"),
        ("total_amount", 1.5, "is not an exact amount"),
        ("updated_at", "2026-02-30T10:00:00Z", "is not a date-time"),
        ("updated_at", "0000-01-01T00:00:00Z", "is not a date-time"),  # Arrow's cast took it
        # In UTC a moment before year 1 or after 9999 (the cast took it; the checked path
        # raised a bare OverflowError)
        ("updated_at", "0001-01-01T00:00:00+01:00", "is not a date-time in years 1 to 9999"),
        ("updated_at", "9999-12-31T23:59:59-01:00", "is not a date-time in years 1 to 9999"),
        ("updated_at", "yesterday", "is not a date-time"),
    ],
)
def test_a_value_that_cannot_be_stored_is_refused_naming_its_record(
    field: str, value: Any, message: str
) -> None:
    records = _records(random.Random(2), 30)
    records[17][field] = value
    with pytest.raises(SyncDataError, match=rf"sales_invoices i17 of business b\.{field}: .*"):
        _tables(records, checked=False)
    with pytest.raises(SyncDataError, match=message):
        _tables(records, checked=False)


def test_a_line_that_cannot_be_stored_names_its_invoice_and_line() -> None:
    records = _records(random.Random(4), 30)
    records[3]["invoice_lines"] = [{"id": "l", "unit_price": "0.12345678901"}]
    with pytest.raises(SyncDataError, match=r"sales_invoices i3 of business b\.invoice_lines\[0\]"
                       r"\.unit_price: 0\.12345678901 has more"):  # fmt: skip
        _tables(records, checked=False)
