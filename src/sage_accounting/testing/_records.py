"""Records as Sage keeps them: what a create, update, delete or list does to a business's data.

Generic rules, no per-resource code (call everything here with ``state.lock`` held):

- a record gets a 32-hex ``id``, ``$path``, ``displayed_as`` (its number, name, reference or
  description), ``created_at``/``updated_at``/``deleted_at`` on the sandbox's clock;
- a body's ``x_id`` becomes the link ``x: {id, displayed_as, $path}`` and ``x_ids`` the list
  ``xs`` (resolved against the business's records where they exist), as Sage answers them;
- money stays exact: numbers are read as ``Decimal`` and written back as strings;
- an artefact (a body with ``..._lines``) gets a number (``SI-1``), a status (``UNPAID`` unless
  the body asks for ``DRAFT``), the currency GBP, and net/tax/total amounts summed from its
  lines (a line's net is quantity x unit price, its tax its tax rate's percentage, unless given);
- deletes are soft (``deleted_at``), so ``deleted_since`` can report them.
"""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Callable, Collection, Iterable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import partial
from itertools import islice
from typing import Any

from .._runtime import plural, wire
from ._state import Record, State, parse_time, timestamp

GLOBAL = ""  # the "business" that /businesses and /user records live under
BASE_FIELDS = wire.LINK_FIELDS
LIST_PARAMS = {
    wire.PAGE_PARAMETER, wire.PAGE_SIZE_PARAMETER, "attributes", "sort", "search",
    *wire.CHANGE_FEED_PARAMETERS, "from_date", "to_date",
}  # fmt: skip


def _resource_of(state: State, business: str, name: str, record_id: str) -> str:
    """Where ``{name}_id`` points: ``contact`` -> contacts, ``status`` -> artefact_statuses,
    ``sales_ledger_account`` -> ledger_accounts (the resource holding that id, if any)."""
    exact = plural(name)
    if record_id in state.records.get((business, exact), {}):
        return exact
    for (owner, resource), records in state.records.items():
        related = resource.endswith("_" + exact) or exact.endswith("_" + resource)
        if owner == business and related and record_id in records:
            return resource
    return exact


def link(state: State, business: str, resource: str, record_id: str) -> Record:
    target = state.records.get((business, resource), {}).get(record_id)
    shown = target.get("displayed_as") if target else record_id
    return {"id": record_id, "displayed_as": shown, wire.RECORD_PATH: f"/{resource}/{record_id}"}


def _link_to(state: State, business: str, name: str, record_id: str) -> Record:
    return link(state, business, _resource_of(state, business, name, record_id), record_id)


def expand_links(state: State, business: str, body: dict[str, Any]) -> dict[str, Any]:
    """``contact_id`` -> ``contact`` link, ``contact_type_ids`` -> ``contact_types`` links."""
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key == wire.IDEMPOTENCY_FIELD:
            continue
        if key.endswith("_ids") and isinstance(value, list):
            name = key[: -len("_ids")]
            out[plural(name)] = [_link_to(state, business, name, str(v)) for v in value]
        elif key.endswith("_id") and isinstance(value, str) and value:
            name = key[: -len("_id")]
            out[name] = _link_to(state, business, name, value)
        elif isinstance(value, dict):
            out[key] = expand_links(state, business, value)
        elif isinstance(value, list):
            out[key] = [
                expand_links(state, business, v) if isinstance(v, dict) else v for v in value
            ]
        else:
            out[key] = value
    return out


def _money(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def _artefact_lines(record: Record) -> list[dict[str, Any]] | None:
    for key, value in record.items():
        if key.endswith("_lines") and isinstance(value, list):
            return [line for line in value if isinstance(line, dict)]
    return None


def _number_field(resource: str) -> str:
    """sales_invoices -> invoice_number, sales_credit_notes -> credit_note_number."""
    words = resource.split("_")[1:] or resource.split("_")
    return "_".join(words)[:-1] + "_number"


def _tax(state: State, business: str, line: dict[str, Any]) -> Decimal:
    """A line's tax at its tax rate's percentage, to the penny, half up (no rate: none)."""
    rate = line.get("tax_rate")
    rate_id = rate.get("id") if isinstance(rate, dict) else None
    record = state.records.get((business, "tax_rates"), {}).get(str(rate_id))
    percentage = _money(record.get("percentage")) if record else Decimal(0)
    return (_money(line["net_amount"]) * percentage / 100).quantize(Decimal("0.01"), ROUND_HALF_UP)


def _complete_artefact(state: State, business: str, resource: str, record: Record) -> None:
    lines = _artefact_lines(record)
    if lines is None:
        return
    net = tax = Decimal(0)
    for line in lines:
        if line.get("net_amount") is None:
            line["net_amount"] = str(
                _money(line.get("quantity", 1)) * _money(line.get("unit_price"))
            )
        if line.get("tax_amount") is None:
            line["tax_amount"] = str(_tax(state, business, line))
        line.setdefault(
            "total_amount", str(_money(line["net_amount"]) + _money(line["tax_amount"]))
        )
        net += _money(line["net_amount"])
        tax += _money(line["tax_amount"])
    record.setdefault("net_amount", str(net))
    record.setdefault("tax_amount", str(tax))
    record.setdefault("total_amount", str(net + tax))
    record.setdefault("outstanding_amount", record["total_amount"])
    record.setdefault("currency", link(state, business, "currencies", "GBP"))
    if "status" not in record:
        record["status"] = link(state, business, "artefact_statuses", "UNPAID")
    number = _number_field(resource)
    if not record.get(number):
        state.numbers[(business, resource)] += 1
        initials = "".join(word[0] for word in resource.split("_")).upper()
        record[number] = f"{initials}-{state.numbers[(business, resource)]}"


NAMING_FIELDS = {"name", "reference", "description", "displayed_as"}


def _displayed_as(resource: str, record: Record) -> str:
    for key in (_number_field(resource), "name", "reference", "description", "displayed_as"):
        if record.get(key):
            return str(record[key])
    return str(record.get("id") or resource)


def create(
    state: State, business: str, resource: str, fields: dict[str, Any], record_id: str | None = None
) -> Record:
    """A new record from a request body's fields (the wrapper's contents)."""
    now = timestamp(state.clock.now())
    record_id = record_id or state.new_id()
    record: Record = {
        "id": record_id,
        "displayed_as": None,
        wire.RECORD_PATH: f"/{resource}/{record_id}",
        "created_at": now,
        "updated_at": now,
        "deleted_at": None,
        **expand_links(state, business, fields),
    }
    if business != GLOBAL:
        record["business_id"] = business  # so a test can see whose record it got
    _complete_artefact(state, business, resource, record)
    record["displayed_as"] = fields.get("displayed_as") or _displayed_as(resource, record)
    state.records[(business, resource)][record_id] = record
    return record


def update(
    state: State, business: str, resource: str, record: Record, fields: dict[str, Any]
) -> Record:
    record.update(expand_links(state, business, fields))
    if NAMING_FIELDS & set(fields):
        record["displayed_as"] = _displayed_as(resource, record)
    record["updated_at"] = timestamp(state.clock.now())
    return record


def singleton(state: State, business: str, resource: str) -> Record:
    """The one record of a settings-like resource (``/business_settings``), made on first use."""
    records = state.records[(business, resource)]
    if resource not in records:
        now = timestamp(state.clock.now())
        records[resource] = {
            wire.RECORD_PATH: f"/{resource}",
            "displayed_as": resource.replace("_", " ").title(),
            "created_at": now,
            "updated_at": now,
        }
    return records[resource]


def _field(record: Record, key: str) -> Any:
    """A filter's value in a record: ``contact_id`` matches the ``contact`` link's id."""
    if key in record:
        return record[key]
    if key.endswith("_id"):
        name = key[: -len("_id")]
        if isinstance(record.get(name), dict):
            return record[name].get("id")
        links = record.get(plural(name))
        if isinstance(links, list):
            return [item.get("id") for item in links if isinstance(item, dict)]
    return None


def _matches(record: Record, key: str, wanted: str) -> bool:
    value = _field(record, key)
    if value is None:
        return True  # a filter the record cannot answer (a display flag): not a restriction
    if isinstance(value, list):
        return wanted in value
    if isinstance(value, bool):
        return str(value).lower() == wanted.lower()
    return str(value) == wanted


Check = Callable[[Record], bool]


def _checks(query: dict[str, str]) -> list[Check]:
    """A list's filters as predicates, each read from the query once."""
    if wire.DELETED_SINCE in query:  # only deleted records, and exclusive, as Sage's is
        deleted_since = parse_time(query[wire.DELETED_SINCE])
        return [lambda r: bool(r.get("deleted_at")) and parse_time(r["deleted_at"]) > deleted_since]
    checks: list[Check] = [lambda r: not r.get("deleted_at")]
    if query.get(wire.UPDATED_SINCE):  # inclusive
        since = parse_time(query[wire.UPDATED_SINCE])
        checks.append(lambda r: parse_time(r["updated_at"]) >= since)
    if query.get("search"):
        needle = query["search"].lower()
        names = ("displayed_as", "name", "reference")
        checks.append(lambda r: any(needle in str(r.get(k) or "").lower() for k in names))
    if query.get("from_date"):
        start = query["from_date"][:10]
        checks.append(lambda r: not r.get("date") or r["date"] >= start)
    if query.get("to_date"):
        end = query["to_date"][:10]
        checks.append(lambda r: not r.get("date") or r["date"] <= end)
    for key, wanted in query.items():
        if key not in LIST_PARAMS and wanted != "":
            checks.append(partial(_matches, key=key, wanted=wanted))
    return checks


def select(records: Iterable[Record], query: dict[str, str]) -> Iterable[Record]:
    """The records a list's filters keep, lazily in creation order, or sorted by ``sort``."""
    chosen: Iterable[Record] = records
    for check in _checks(query):
        chosen = filter(check, chosen)
    if not query.get("sort"):
        return chosen
    name, _, direction = query["sort"].partition(":")
    return sorted(chosen, key=lambda r: str(r.get(name) or ""), reverse=direction == "desc")


def shown(record: Record, attributes: str | None, deleted: bool = False) -> Record:
    """A list item: the base fields plus the ``attributes`` asked for (``all``: everything)."""
    if attributes == "all":
        return record
    item = {k: record.get(k) for k in BASE_FIELDS}
    for name in (attributes or "").split(","):
        name = name.strip()
        if name and name in record:
            item[name] = record[name]
    if deleted:
        item["deleted_at"] = record["deleted_at"]
    return item


def envelope(records: Collection[Record], path: str, query: dict[str, str]) -> dict[str, Any]:
    """Sage's list envelope: ``$items`` of one page, ``$next``/``$back`` relative to /v3.1.

    Two lazy passes over the records (count, then the page) rather than a list of all of them:
    the sandbox often shares a process with a test measuring the client's memory.
    """
    asked_size = query.get(wire.PAGE_SIZE_PARAMETER)
    per_page = max(1, min(int(asked_size or wire.SAGE_DEFAULT_PAGE_SIZE), wire.MAX_PAGE_SIZE))
    total = sum(1 for _ in select(records, query))
    pages = max(1, math.ceil(total / per_page))
    asked_page = int(query.get(wire.PAGE_PARAMETER) or 1)
    page = min(max(1, asked_page), pages)  # past the end: the last page again
    window = islice(select(records, query), (page - 1) * per_page, page * per_page)
    deleted = wire.DELETED_SINCE in query

    def link_to(number: int) -> str:
        params = {k: v for k, v in query.items() if k != wire.PAGE_PARAMETER}
        return f"{path}?" + urllib.parse.urlencode({wire.PAGE_PARAMETER: number, **params})

    return {
        wire.TOTAL: total,
        wire.PAGE: page,
        wire.NEXT: link_to(page + 1) if page < pages else None,
        wire.BACK: link_to(page - 1) if page > 1 else None,
        wire.ITEMS_PER_PAGE: per_page,
        wire.ITEMS: [shown(r, query.get("attributes"), deleted) for r in window],
    }
