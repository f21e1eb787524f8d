"""Sage's quirks, one rule each (generator/sage_codegen/sage_rules.py), and the layout decisions
the emit side makes from the IR's facts (layout.py)."""

from __future__ import annotations

from sage_codegen import sage_rules
from sage_codegen.ir import Api, TypeKind, TypeRef
from sage_codegen.layout import laid_out, module_of_models


def test_date_and_list_query_parameters_take_what_sage_reads() -> None:
    declared = TypeRef(TypeKind.DATETIME, format="date-time")
    assert sage_rules.parameter_type("from_date", declared) == TypeRef(
        TypeKind.DATE, format="date-time"
    )
    assert sage_rules.parameter_type("updated_or_created_since", declared) == declared
    listed = sage_rules.parameter_type("attributes", TypeRef(TypeKind.STRING))
    assert listed == TypeRef(TypeKind.LIST, item=TypeRef(TypeKind.STRING))


def test_an_accept_header_naming_octet_stream_means_bytes() -> None:
    accept = {"in": "header", "name": "Accept", "description": "application/octet-stream"}
    assert sage_rules.is_accept_header(accept) and sage_rules.accept_means_bytes(accept)
    assert not sage_rules.is_accept_header({"in": "query", "name": "accept"})
    assert sage_rules.content_means_bytes(["application/pdf"])
    assert not sage_rules.content_means_bytes(["application/json", "*/*"])


def test_bodies_are_one_key_wrappers() -> None:
    inner = {"$ref": "#/components/schemas/postContactsContact"}
    assert sage_rules.unwrap_body({"properties": {"contact": inner}}) == ("contact", inner)
    assert sage_rules.unwrap_body({"properties": {"a": {}, "b": {}}}) is None


def test_roles_lists_and_empty_responses() -> None:
    assert sage_rules.definition_role("Contact", in_request=True, in_response=True) == "response"
    assert sage_rules.definition_role("Contact", in_request=True, in_response=False) == "request"
    assert sage_rules.definition_role("putThing", in_request=False, in_response=False) == "request"
    assert sage_rules.definition_role("Thing", in_request=False, in_response=False) == "response"
    assert sage_rules.array_response_pages("get") and not sage_rules.array_response_pages("post")
    assert sage_rules.response_is_empty("204", "get") and sage_rules.response_is_empty(
        "200", "delete"
    )
    paths = ["/journals", "/journals/{key}", "/settings"]
    assert sage_rules.lists_by_shape("get", "/journals", paths)
    assert not sage_rules.lists_by_shape("get", "/settings", paths)
    assert not sage_rules.lists_by_shape("get", "/journals/{key}", paths)
    assert sage_rules.inline_name_suffix("postSalesInvoices") == "Create"
    assert sage_rules.request_verb_stripped("PutContacts") == "Contacts"
    assert sage_rules.request_verb_stripped("Postcode") is None


def test_layout_names_resource_classes_and_modules_from_the_ir(api: Api) -> None:
    names = {r.name: r.class_name for r in laid_out(api).resources}
    assert names["sales_invoices"] == "SalesInvoices"
    # /business_settings returns the model BusinessSettings: the resource class steps aside.
    assert names["business_settings"] == "BusinessSettingsResource"
    modules = module_of_models(api)
    assert modules["SalesInvoice"] == "sales_invoice"
    # An inline object declared by one definition lives in that definition's module.
    by_definition = {m.definition: m.name for m in api.models if m.definition}
    single = [m for m in api.models if len(m.declared_in) == 1]
    assert single
    for model in single:
        assert modules[model.name] == modules[by_definition[model.declared_in[0]]]
