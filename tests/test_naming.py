"""Golden cases for how spec names become Python names."""

from __future__ import annotations

import pytest

from sage_codegen.naming import (
    join_overlapping,
    operation_method_name,
    pascal,
    python_identifier,
    singular,
    snake,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("postSalesInvoices", "post_sales_invoices"),
        ("Sales Invoices", "sales_invoices"),
        ("sales_invoices", "sales_invoices"),
        ("GBBoxData", "gb_box_data"),
        ("appName", "app_name"),
        ("EU Goods Services Types", "eu_goods_services_types"),
    ],
)
def test_snake(name: str, expected: str) -> None:
    assert snake(name) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("postContacts", "PostContacts"),
        ("sales_invoice", "SalesInvoice"),
        ("GBBoxData", "GBBoxData"),
        ("LedgerAccount", "LedgerAccount"),
        ("invoice_line", "InvoiceLine"),
    ],
)
def test_pascal(name: str, expected: str) -> None:
    assert pascal(name) == expected


@pytest.mark.parametrize(
    ("plural", "expected"),
    [
        ("invoice_lines", "invoice_line"),
        ("ledger_entries", "ledger_entry"),
        ("addresses", "address"),
        ("artefact_statuses", "artefact_status"),
        ("taxes", "tax"),
        ("contact_people", "contact_person"),
        ("analysis", "analysis"),
        ("sales_prices", "sales_price"),
    ],
)
def test_singular(plural: str, expected: str) -> None:
    assert singular(plural) == expected


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("$path", "path"),
        ("$file_path", "file_path"),
        ("import", "import_"),
        ("id", "id"),
        ("type", "type"),
        ("date", "date"),
        ("appName", "app_name"),
        ("model_config", "model_config_"),
        ("schema", "schema_"),
    ],
)
def test_python_identifier(wire: str, expected: str) -> None:
    assert python_identifier(wire) == expected


@pytest.mark.parametrize(
    ("parent", "child", "expected"),
    [
        ("SalesInvoice", "InvoiceLine", "SalesInvoiceLine"),
        ("PurchaseCreditNote", "CreditNoteLine", "PurchaseCreditNoteLine"),
        ("Contact", "MainAddress", "ContactMainAddress"),
        ("Journal", "JournalCode", "JournalJournalCode"),  # the parent keeps a word of its own
    ],
)
def test_join_overlapping(parent: str, child: str, expected: str) -> None:
    assert join_overlapping(parent, child) == expected


@pytest.mark.parametrize(
    ("method", "path", "is_list", "is_binary", "expected"),
    [
        ("get", "/sales_invoices", True, False, "list"),
        ("get", "/sales_invoices/{key}", False, False, "get"),
        ("get", "/business_settings", False, False, "get"),
        ("post", "/sales_invoices", False, False, "create"),
        ("put", "/sales_invoices/{key}", False, False, "update"),
        ("put", "/business_settings", False, False, "update"),
        ("delete", "/sales_invoices/{key}", False, False, "delete"),
        ("post", "/sales_invoices/{key}/release", False, False, "release"),
        ("post", "/journals/{key}/reissue", False, False, "reissue"),
        ("get", "/attachments/{key}/file", False, True, "get_file"),
        ("get", "/bank_accounts/{key}/bank_feed", False, False, "bank_feed"),
    ],
)
def test_operation_method_name(
    method: str, path: str, is_list: bool, is_binary: bool, expected: str
) -> None:
    resource_path = "/" + path.strip("/").split("/")[0]
    assert operation_method_name(method, path, resource_path, is_list, is_binary) == expected


def test_inline_request_objects_get_readable_names(api) -> None:  # type: ignore[no-untyped-def]
    inline = {m.name for m in api.models if m.definition is None}
    # The wrapper's inner object and nested lines are named after the property, not the path.
    assert {"ContactCreate", "ContactUpdate", "SalesInvoiceCreate", "JournalCreate"} <= inline
    # Sales and purchase invoice lines differ, so each is qualified by its parent; never numbered.
    assert {"SalesInvoiceLineCreate", "PurchaseInvoiceLineCreate"} <= inline
    # One address schema shared by every sales document takes the words its owners share.
    assert {
        "SalesMainAddressCreate",
        "SalesDeliveryAddressUpdate",
        "ContactMainContactPersonCreate",
    } <= inline
    assert not any(name.startswith("SalesCorrectiveInvoiceMainAddress") for name in inline)
    assert not any(name[-1].isdigit() for name in inline)
    assert not any(name.startswith(("Post", "Put")) for name in inline)
    assert len({m.name for m in api.models}) == len(api.models)
