"""A small, realistic UK business for every sandbox business, the same from the same seed.

Look-ups use Sage's own ids (``CUSTOMER``, ``GB_STANDARD``, ``UNPAID``); everything else gets
32-hex ids from the sandbox's random generator, so a seed gives the same ids every run.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from . import _records
from ._state import State

CONTACT_TYPES = {"CUSTOMER": "Customer", "VENDOR": "Supplier"}
ARTEFACT_STATUSES = {
    "DRAFT": "Draft", "UNPAID": "Unpaid", "PART_PAID": "Part Paid", "PAID": "Paid", "VOID": "Void",
}  # fmt: skip
CURRENCIES = {"GBP": "Pound Sterling (GBP)", "EUR": "Euro (EUR)", "USD": "US Dollar (USD)"}
COUNTRIES = {"GB": "United Kingdom (GB)", "IE": "Ireland (IE)", "FR": "France (FR)"}
TAX_RATES = {  # id: (name, percentage)
    "GB_STANDARD": ("Standard 20.00%", "20.00"),
    "GB_LOWER": ("Lower 5.00%", "5.00"),
    "GB_ZERO": ("Zero 0.00%", "0.00"),
    "GB_EXEMPT": ("Exempt 0.00%", "0.00"),
    "GB_NO_TAX": ("No Tax", "0.00"),
}
LEDGER_ACCOUNTS = [  # (nominal code, name, type id)
    (1100, "Trade Debtors", "CURRENT_ASSETS"),
    (1200, "Current", "BANK"),
    (2100, "Trade Creditors", "CURRENT_LIABILITY"),
    (2200, "Sales Tax Control Account", "CURRENT_LIABILITY"),
    (4000, "Sales Type A", "SALES"),
    (4010, "Sales Type B", "SALES"),
    (4900, "Other Income", "OTHER_INCOME"),
    (5000, "Cost of sales - goods", "DIRECT_EXPENSES"),
    (7500, "Office costs", "OVERHEADS"),
    (7600, "Legal and professional fees", "OVERHEADS"),
]
CUSTOMERS = ["Blackwood Interiors Ltd", "Fenwick & Daughters", "Harbour Lights Cafe",
             "Northgate Dental Practice", "Quayside Architects LLP", "Rowan Tree Nursery"]  # fmt: skip
SUPPLIERS = ["Castle Timber Supplies", "Marsh Office Direct", "Pennine Hardware Co"]
PRODUCTS = [  # (item code, description, sales price)
    ("OAK-SHELF", "Oak floating shelf, 90 cm", "64.50"),
    ("ASH-TABLE", "Ash dining table, seats six", "1249.00"),
    ("WALNUT-BOX", "Walnut keepsake box", "38.75"),
    ("FIT-HOUR", "Fitting, per hour", "45.00"),
    ("DELIVERY", "Local delivery", "25.00"),
]


def _lookups(state: State, business: str, resource: str, names: dict[str, str]) -> None:
    for key, name in names.items():
        _records.create(state, business, resource, {"name": name}, record_id=key)


def seed_business(state: State, business: str) -> None:
    """Fill one business: look-ups, a chart of accounts, contacts, products and invoices."""
    rng = state.rng
    _lookups(state, business, "contact_types", CONTACT_TYPES)
    _lookups(state, business, "artefact_statuses", ARTEFACT_STATUSES)
    _lookups(state, business, "currencies", CURRENCIES)
    _lookups(state, business, "countries", COUNTRIES)
    for key, (name, percentage) in TAX_RATES.items():
        fields: dict[str, Any] = {"name": name, "percentage": percentage, "is_visible": True}
        _records.create(state, business, "tax_rates", fields, record_id=key)
    ledger = {}
    for code, name, type_id in LEDGER_ACCOUNTS:
        fields = {
            "name": name,
            "nominal_code": code,
            "ledger_account_type_id": type_id,
            "displayed_as": f"{name} ({code})",
            "balance": "0.00",
        }
        ledger[code] = _records.create(state, business, "ledger_accounts", fields)["id"]
    _records.create(
        state,
        business,
        "bank_accounts",
        {"bank_account_details": {"account_name": "Current", "sort_code": "40-11-62",
                                  "account_number": f"{rng.randrange(10**7, 10**8)}"},
         "ledger_account_id": ledger[1200], "bank_account_type_id": "CHECKING",
         "name": "Current", "balance": "12840.16", "currency_id": "GBP"},
    )  # fmt: skip
    customers = []
    for index, name in enumerate(CUSTOMERS, 1):
        fields = {
            "name": name,
            "reference": f"C{index:03d}",
            "contact_type_ids": ["CUSTOMER"],
            "email": f"accounts@{name.split()[0].lower()}.example",
            "credit_limit": f"{rng.choice((1000, 2500, 5000))}.00",
            "credit_days": 30,
            "balance": "0.00",
            "currency_id": "GBP",
        }
        customers.append(_records.create(state, business, "contacts", fields)["id"])
    for index, name in enumerate(SUPPLIERS, 1):
        fields = {"name": name, "reference": f"S{index:03d}", "contact_type_ids": ["VENDOR"],
                  "balance": "0.00", "currency_id": "GBP"}  # fmt: skip
        _records.create(state, business, "contacts", fields)
    products = []
    for item_code, description, price in PRODUCTS:
        fields = {
            "item_code": item_code,
            "description": description,
            "sales_ledger_account_id": ledger[4000],
            "purchase_ledger_account_id": ledger[5000],
            "sales_tax_rate_id": "GB_STANDARD",
            "sales_prices": [{"price_name": "Selling Price", "price": price}],
        }
        products.append(
            (_records.create(state, business, "products", fields)["id"], description, price)
        )
    for number in range(1, 5):
        lines = []
        for product_id, description, price in rng.sample(products, rng.randint(1, 3)):
            quantity = Decimal(rng.randint(1, 4))
            net = (quantity * Decimal(price)).quantize(Decimal("0.01"))
            lines.append({
                "product_id": product_id, "description": description, "quantity": str(quantity),
                "unit_price": price, "net_amount": str(net), "ledger_account_id": ledger[4000],
                "tax_rate_id": "GB_STANDARD",  # tax: 20% of net, as the sandbox works it out
            })  # fmt: skip
        fields = {
            "contact_id": rng.choice(customers),
            "date": f"2026-{8 + number:02d}-{rng.randint(1, 28):02d}",
            "reference": f"PO-{rng.randint(1000, 9999)}",
            "invoice_lines": lines,
        }
        if number == 4:
            fields["status_id"] = "DRAFT"  # one still to release
        _records.create(state, business, "sales_invoices", fields)
