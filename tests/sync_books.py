"""Books for the sync tests: a sandbox seeded with many records whose money has varied digits,
changes a bookkeeper makes, and the comparison of a database with the sandbox."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from sage_accounting.testing import SageSandbox
from sage_accounting.testing import _records as sandbox_records

# The resources compared field by field (money included), and their child tables.
MONEY = {
    "contacts": ("balance", "credit_limit"),
    "products": (),
    "sales_invoices": ("net_amount", "tax_amount", "total_amount", "outstanding_amount"),
    "ledger_accounts": ("balance",),
}
CHILDREN = {
    "sales_invoices__invoice_lines": ("invoice_lines", ("quantity", "unit_price", "net_amount",
                                                        "tax_amount", "total_amount")),
    "products__sales_prices": ("sales_prices", ("price",)),
}  # fmt: skip


def _amount(rng: random.Random, digits: int) -> str:
    return str(Decimal(rng.randint(-(10**8), 10**9)).scaleb(-digits))


def seed(sandbox: SageSandbox, total: int, seed: int = 7) -> None:
    """``total`` records spread over the sandbox's businesses: contacts, products and sales
    invoices with lines; money with 0 to 6 digits after the point."""
    rng = random.Random(seed)
    state = sandbox.state
    per_business = total // len(state.businesses)
    with state.lock:
        for business in state.businesses:
            contacts = per_business * 45 // 100
            products = per_business * 15 // 100
            invoices = per_business - contacts - products
            contact_ids = []
            for i in range(contacts):
                fields: dict[str, Any] = {"name": f"{business} customer {i}", "contact_type_ids": ["CUSTOMER"],
                          "balance": _amount(rng, 2), "credit_limit": _amount(rng, rng.randint(0, 3)),
                          "currency_id": "GBP"}  # fmt: skip
                contact_ids.append(
                    sandbox_records.create(state, business, "contacts", fields)["id"]
                )
            for i in range(products):
                fields = {"item_code": f"P{i}", "description": f"{business} product {i}",
                          "sales_prices": [{"price_name": "Selling", "price": _amount(rng, 4)}]}  # fmt: skip
                sandbox_records.create(state, business, "products", fields)
            for _ in range(invoices):
                lines = [
                    {"description": "work", "quantity": str(Decimal(rng.randint(1, 400)) / 8),
                     "unit_price": _amount(rng, rng.choice((2, 3, 5))), "tax_rate_id": "GB_STANDARD"}
                    for _ in range(rng.randint(1, 3))
                ]  # fmt: skip
                fields = {"contact_id": rng.choice(contact_ids), "date": "2026-10-01",
                          "invoice_lines": lines}  # fmt: skip
                sandbox_records.create(state, business, "sales_invoices", fields)


def bookkeeping(sandbox: SageSandbox, rng: random.Random, business: str, n: int) -> None:
    """What happens in a business between two syncs: records changed (money too), deleted and
    added; an invoice loses a line; a ledger account (no deleted_since at Sage) is deleted."""
    state = sandbox.state

    def live(resource: str) -> list[str]:  # called with the lock held
        records = state.records[(business, resource)].items()
        return sorted(rid for rid, r in records if not r["deleted_at"])

    with state.lock:
        for rid in rng.sample(live("contacts"), n):
            record = state.records[(business, "contacts")][rid]
            sandbox_records.update(state, business, "contacts", record,
                                   {"balance": _amount(rng, 2), "name": f"renamed {rid[:6]}"})  # fmt: skip
        for rid in rng.sample(live("contacts"), n):
            sandbox.delete_record("contacts", rid, business)
        for rid in rng.sample(live("sales_invoices"), n // 2):
            sandbox.delete_record("sales_invoices", rid, business)
        for rid in rng.sample(live("sales_invoices"), n // 2):
            record = state.records[(business, "sales_invoices")][rid]
            lines = record["invoice_lines"][:1]
            lines[0]["net_amount"] = lines[0]["total_amount"] = _amount(rng, 2)
            sandbox_records.update(state, business, "sales_invoices", record,
                                   {"invoice_lines": lines})  # fmt: skip
        for i in range(n):
            sandbox_records.create(state, business, "contacts",
                                   {"name": f"new {i}", "balance": _amount(rng, 2)})  # fmt: skip
        sandbox.delete_record("ledger_accounts", live("ledger_accounts")[0], business)


def _money(value: Any) -> Decimal | None:
    return None if value is None or value == "" else Decimal(str(value))


def compare(sandbox: SageSandbox, query: Any, dataset: str = "books") -> int:
    """Assert the database holds exactly the sandbox's live records, business by business, with
    the same money to the digit; returns how many records were compared."""
    state = sandbox.state
    compared = 0
    tables = {row[0] for row in query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", dataset)}  # fmt: skip
    with state.lock:
        for (business, resource), records in state.records.items():
            if business == "" or resource not in tables:
                continue
            live = {rid: r for rid, r in records.items() if not r.get("deleted_at")}
            rows = query(f"SELECT id FROM {dataset}.{resource} WHERE business_id = %s", business)
            stored = sorted(row[0] for row in rows)
            assert stored == sorted(live), f"{resource} of {business}: ids differ"
            compared += len(stored)
        for resource, fields in MONEY.items():
            if resource not in tables:
                continue
            columns = ", ".join(("business_id", "id", *fields))
            for business_id, rid, *values in query(f"SELECT {columns} FROM {dataset}.{resource}"):
                record = state.records[(business_id, resource)][rid]  # never another business's
                expected = [_money(record.get(f)) for f in fields]
                assert [_money(v) for v in values] == expected, f"{resource} {rid}"
        for child, (key, fields) in CHILDREN.items():
            if child not in tables:
                continue
            columns = ", ".join(("business_id", "parent_id", "_dlt_list_idx", *fields))
            seen: dict[tuple[str, str], int] = {}
            for business_id, parent, index, *values in query(
                f"SELECT {columns} FROM {dataset}.{child}"
            ):
                parent_resource = child.split("__")[0]
                parent_record = state.records[(business_id, parent_resource)][parent]
                assert not parent_record.get("deleted_at"), f"{child}: a line of deleted {parent}"
                lines = parent_record[key]
                assert [_money(v) for v in values] == [_money(lines[index].get(f)) for f in fields]
                seen[(business_id, parent)] = seen.get((business_id, parent), 0) + 1
            for (business, resource), records in state.records.items():
                if resource != child.split("__")[0]:
                    continue
                for rid, record in records.items():
                    if not record.get("deleted_at"):
                        assert seen.get((business, rid), 0) == len(record[key]), f"{child} {rid}"
    return compared
