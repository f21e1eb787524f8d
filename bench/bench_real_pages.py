"""Real pages, bytes -> what a caller reads, vs `json.loads` of the same bytes, beside eager
pydantic: Sage's recorded products and sales invoices pages (../shared/wire/ledgerscope/), each
made 200 records from its items and served through `products.list()` / `sales_invoices.list()`
by a transport in this process. Goals: reading 5 fields of each record <= 1.0x, reading every
field (`model_dump()` of each) <= 2.0x. The baseline gets the same bytes through bare httpx with
the same transport and decodes them with `json.loads`; eager pydantic does the same and then
`TypeAdapter(list[Model]).validate_python` (exact money: `loads` with Decimal).

The floor line is what no SDK can beat here: bare httpx, jiter (the SDK's decoder), plain dict
reads of the same 5 fields, each converted with the standard library's cheapest constructor
(`datetime.fromisoformat`, `date.fromisoformat`, `Decimal`). Where the floor is over a goal, the
goal is below what Python can do on that page. `--fields`: each field's first read and a dump,
per record, instead."""

from __future__ import annotations

import datetime as dt
import functools
import json
import statistics
import sys
import time
import types
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import jiter
from pydantic import TypeAdapter

sys.path.insert(0, str(Path(__file__).parent))
from _timing import interleaved, report  # noqa: E402

from sage_accounting import SageAccounting  # noqa: E402
from sage_accounting._runtime._encoding import UTF8_BOM, loads  # noqa: E402
from sage_accounting.models import Product, SalesInvoice  # noqa: E402

WIRE = Path(__file__).resolve().parents[2] / "shared" / "wire" / "ledgerscope"
RECORDS = 200
READ_GOAL, DUMP_GOAL = 1.0, 2.0
BASE_URL = "https://api.accounting.sage.com/v3.1"
# Everything runs in this process: its CPU time, not the wall clock of a shared machine.
CPU = time.process_time

# (page file, model, resource path, the client's resource, the five fields a caller reads)
PAGES: list[tuple[str, type[Any], str, str, tuple[str, ...]]] = [
    (
        "GetAll_Product.json",
        Product,
        "/products",
        "products",
        ("id", "description", "sales_prices", "cost_price", "updated_at"),
    ),
    (
        "GetAll_SalesInvoice.json",
        SalesInvoice,
        "/sales_invoices",
        "sales_invoices",
        ("id", "displayed_as", "path", "created_at", "date"),
    ),
]


# The floor's conversion of each read field that is not a plain JSON value.
FLOOR_CONVERT: dict[str, Callable[[Any], Any]] = {
    "cost_price": Decimal,
    "updated_at": dt.datetime.fromisoformat,
    "created_at": dt.datetime.fromisoformat,
    "date": dt.date.fromisoformat,
}


def page_of_records(name: str, records: int = RECORDS) -> bytes:
    """The recorded page with ``records`` records made from its items (each its own id), as one
    complete page, written as Sage writes it (indented, UTF-8 BOM first)."""
    body = json.loads((WIRE / name).read_bytes().removeprefix(UTF8_BOM))
    items = body["$items"]
    made = [
        dict(items[i % len(items)], id=f"{items[i % len(items)]['id'][:24]}{i:08d}")
        for i in range(records)
    ]
    body.update({"$items": made, "$total": records, "$itemsPerPage": records, "$next": None})
    return UTF8_BOM + json.dumps(body, indent=2).encode()


def workflows(
    model: type[Any], fields: tuple[str, ...], records: Callable[[], Any]
) -> tuple[Callable[[], None], Callable[[], None]]:
    """Reading ``fields`` of each record, and dumping each record whole."""

    def read() -> None:
        count = 0
        for record in records():
            for field in fields:
                getattr(record, field)
            count += 1
        assert count == RECORDS

    def dump() -> None:
        assert sum(1 for record in records() if record.model_dump()) == RECORDS

    return read, dump


def floor_of(
    http: httpx.Client, path: str, model: type[Any], fields: tuple[str, ...]
) -> Callable[[], None]:
    """Bytes -> the 5 values with no SDK and no validation: the least the read can cost."""
    keys = [(model.model_fields[f].alias or f, FLOOR_CONVERT.get(f)) for f in fields]
    utf8_bom = UTF8_BOM

    def floor() -> None:
        body = jiter.from_json(
            http.get(path).content.removeprefix(utf8_bom), float_mode="decimal", cache_mode="keys"
        )
        count = 0
        for item in body["$items"]:
            for key, convert in keys:
                value = item.get(key)
                if convert is not None and value is not None:
                    convert(value)
            count += 1
        assert count == RECORDS

    return floor


def main() -> bool:
    ok = True
    for name, model, path, resource, fields in PAGES:
        if not (WIRE / name).exists():
            print(f"{name}: not found under {WIRE} (../shared beside the repository)")
            ok = False
            continue
        content = page_of_records(name)
        transport = httpx.MockTransport(lambda request, c=content: httpx.Response(200, content=c))
        http = httpx.Client(transport=transport, base_url=BASE_URL)
        client = SageAccounting(access_token="bench-token", http_client=http)
        pages = getattr(client, resource)
        items: Any = types.GenericAlias(list, (model,))  # list[model], the model a variable
        adapter: TypeAdapter[Any] = TypeAdapter(items)

        def bare(http: httpx.Client = http, path: str = path) -> Any:
            return json.loads(http.get(path).content)

        def eager(
            http: httpx.Client = http, path: str = path, adapter: TypeAdapter[Any] = adapter
        ) -> Any:
            return adapter.validate_python(loads(http.get(path).content)["$items"])

        sdk_read, sdk_dump = workflows(model, fields, pages.list)
        eager_read, eager_dump = workflows(model, fields, eager)
        print(f"{name}: {RECORDS} records, {len(content) / 1e3:.0f} kB; reads {', '.join(fields)}")
        try:
            for fn in (sdk_read, sdk_dump, eager_read, eager_dump):
                fn()  # validators built once
            repeat = 30 if len(content) > 100_000 else 200
            listed = functools.partial(_listed, pages.list)
            parse, base = interleaved(listed, bare, repeat, CPU)
            report("  list() alone, records not read", parse, base, None)
            floor = floor_of(http, path, model, fields)
            subject, baseline = interleaved(floor, bare, repeat, CPU)
            report(
                "  floor: httpx + jiter + dict reads of the 5 (+ fromisoformat)",
                subject,
                baseline,
                None,
            )
            for label, sdk, eager_fn, goal in (
                ("read 5 fields of each record", sdk_read, eager_read, READ_GOAL),
                ("read every field (model_dump() of each)", sdk_dump, eager_dump, DUMP_GOAL),
            ):
                subject, baseline = interleaved(sdk, bare, repeat, CPU)
                ok &= report(f"  {label}", subject, baseline, goal)
                cost = (subject - parse) / RECORDS * 1e6
                print(f"    per record beyond list(): {cost:.2f} us")
                subject, baseline = interleaved(eager_fn, bare, repeat, CPU)
                report(f"  {label}, eager pydantic", subject, baseline, None)
        finally:
            http.close()
    return ok


def _read(field: str, records: list[Any]) -> None:
    for record in records:
        getattr(record, field)


def _dump_each(records: list[Any]) -> None:
    for record in records:
        record.model_dump()


def _listed(records: Callable[[], Any]) -> list[Any]:
    return list(records())


def field_costs(repeat: int = 100) -> None:
    """``--fields``: what the first read of each field, and a dump, cost a record (ns, CPU time,
    median over freshly parsed pages; the parse not counted). Where a goal is missed, this says
    which field to look at."""
    from sage_accounting._runtime._envelope import parse_page

    for name, model, path, _, fields in PAGES:
        request = httpx.Request("GET", BASE_URL + path)
        response = httpx.Response(200, content=page_of_records(name), request=request)

        def per_record(
            work: Callable[[list[Any]], object],
            response: httpx.Response = response,
            model: type[Any] = model,
        ) -> float:
            times = []
            for _ in range(repeat):
                records = parse_page(response, model).items
                start = CPU()
                work(records)
                times.append(CPU() - start)
            return statistics.median(times) / RECORDS * 1e9

        costs = [f"{field} {per_record(functools.partial(_read, field)):.0f}" for field in fields]
        costs.append(f"model_dump() {per_record(_dump_each):.0f}")
        print(f"{name}, ns a record: {'; '.join(costs)}")


if __name__ == "__main__":
    if "--fields" in sys.argv[1:]:
        field_costs()
    else:
        main()
