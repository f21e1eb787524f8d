"""sage-codegen diff: the real 2022-05 -> current release, every rule on a mutated copy of the real
spec (made at run time, never committed), output formats, exit codes and bad input."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import ACCOUNTS, HISTORY_DIR, USER_ACCOUNTS, write_spec_dir

from sage_codegen.cli import main
from sage_codegen.diff import SpecDiff, compare
from sage_codegen.diff_report import FORMATS
from sage_codegen.ir import Api
from sage_codegen.ir_build import build_api
from sage_codegen.loader import load_spec

ADDED_IN_2025 = {
    ("GET", "/analysis_type_categories"), ("POST", "/analysis_type_categories"),
    ("GET", "/analysis_type_categories/{key}"), ("PUT", "/analysis_type_categories/{key}"),
    ("DELETE", "/analysis_type_categories/{key}"), ("GET", "/analysis_types"),
    ("GET", "/analysis_types/{key}"), ("PUT", "/analysis_types/{key}"),
    ("GET", "/bank_accounts/{key}/bank_feed"), ("GET", "/cis_settings"), ("PUT", "/cis_settings"),
    ("GET", "/tax_determinations"),
}  # fmt: skip


@pytest.fixture(scope="module")
def old_api() -> Api:
    return build_api(load_spec([HISTORY_DIR]))


def ops(diff: SpecDiff, rule: str) -> set[tuple[str, str]]:
    return {tuple(c.location.split(" ", 1)) for c in diff.api if c.rule == rule}  # type: ignore[misc]


def test_the_real_release_adds_the_twelve_operations_and_breaks_no_code(
    old_api: Api, api: Api
) -> None:
    diff = compare(old_api, api)
    assert ops(diff, "endpoint-added") == ADDED_IN_2025
    assert [c for c in diff.sdk if c.level == "breaking"] == []
    on_operations = [c for c in diff.api if not c.location.startswith("model ")]
    assert {c.rule for c in on_operations if c.level != "info"} == {"availability-country-removed"}
    # What Sage did remove between the releases: Germany, from 241 operations' availability.
    removed = [c for c in on_operations if c.rule == "availability-country-removed"]
    assert len(removed) == 241 and all("no longer in DE" in c.text for c in removed)
    # ... and from the models' (their docstrings say where they are available).
    on_models = [c for c in diff.api if c.location.startswith("model ") and c.level != "info"]
    assert {c.rule for c in on_models} == {
        "availability-country-removed",
        "availability-edition-removed",
    }
    assert "model Contact: no longer in DE (Accounting Plus, Accounting Start)" in {
        c.text for c in on_models
    }
    sdk = {c.text for c in diff.sdk}
    assert "method `client.bank_accounts.bank_feed()` added" in sdk
    assert "resource `client.analysis_types` added" in sdk


def test_the_reverse_gives_them_as_breaking_removals(old_api: Api, api: Api) -> None:
    diff = compare(api, old_api)
    assert ops(diff, "api-removed-without-deprecation") == ADDED_IN_2025
    assert all(
        c.level == "breaking" for c in diff.api if c.rule == "api-removed-without-deprecation"
    )
    sdk = {c.text for c in diff.sdk if c.level == "breaking"}
    assert "resource `client.cis_settings` removed" in sdk
    assert "method `client.bank_accounts.bank_feed()` removed" in sdk
    assert "`client.contacts.list()`: keyword `filter_inactive_contacts` removed" in sdk
    assert "model `Contact`: field `is_active` removed" in sdk


# -- every rule on a mutated copy of the real spec --------------------------------------------------

Mutation = Callable[[dict[str, Any]], object]  # what it returns is not read


def op(docs: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    return docs[ACCOUNTS]["paths"][path][method]  # type: ignore[no-any-return]


def param(docs: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    return next(p for p in op(docs, path, method)["parameters"] if p["name"] == name)


def contact_body(docs: dict[str, Any]) -> dict[str, Any]:
    return docs[ACCOUNTS]["definitions"]["postContacts"]["properties"]["contact"]  # type: ignore[no-any-return]


def definition(docs: dict[str, Any], name: str) -> dict[str, Any]:
    return docs[ACCOUNTS]["definitions"][name]  # type: ignore[no-any-return]


def add_widgets(docs: dict[str, Any]) -> None:
    docs[ACCOUNTS]["paths"]["/widgets"] = {
        "get": dict(op(docs, "/coa_accounts", "get"), operationId="getWidgets")
    }


def rename_search(docs: dict[str, Any]) -> None:
    param(docs, "/sales_invoices", "get", "search")["name"] = "query"


def list_business_settings(docs: dict[str, Any]) -> None:
    response = op(docs, "/business_settings", "get")["responses"]["200"]
    response["schema"] = {"type": "array", "items": response["schema"]}


def narrow_access(docs: dict[str, Any]) -> None:
    o = op(docs, "/ledger_accounts", "get")
    o["description"] = o["description"].replace(
        "* Area: `Journals`: Full Access, Restricted Access, Read Only\n", ""
    )
    o["description"] = o["description"].replace(
        "* Area: `Settings`: Full Access, Read Only", "* Area: `Settings`: Full Access"
    )


def widen_access(docs: dict[str, Any]) -> None:
    o = op(docs, "/journals", "get")
    o["description"] = o["description"].replace(
        "`Journals`: Read Only, Full Access",
        "`Journals`: Read Only, Full Access, Restricted Access",
    )


def drop_edition_and_country(docs: dict[str, Any]) -> None:
    o = op(docs, "/contacts", "get")
    o["description"] = (
        o["description"].replace("* Accounting Standard: 🇬🇧, 🇮🇪\n", "").replace("🇺🇸", "🇨🇦")
    )


def add_country(docs: dict[str, Any]) -> None:
    o = op(docs, "/contacts", "get")
    o["description"] = o["description"].replace(
        "* Accounting Standard: 🇬🇧, 🇮🇪", "* Accounting Standard: 🇬🇧, 🇮🇪, 🇫🇷"
    )


def with_response_enum(values: list[str]) -> Mutation:
    def mutate(docs: dict[str, Any]) -> None:
        definition(docs, "Contact")["properties"]["credit_terms"]["enum"] = values

    return mutate


def rename_definition(docs: dict[str, Any]) -> None:
    text = json.dumps(docs[ACCOUNTS]).replace(
        '"#/definitions/CoaGroupType"', '"#/definitions/CoaGroup"'
    )
    docs[ACCOUNTS] = json.loads(text)
    docs[ACCOUNTS]["definitions"]["CoaGroup"] = docs[ACCOUNTS]["definitions"].pop("CoaGroupType")


REQUIRED_QUERY = {
    "in": "query",
    "name": "region",
    "type": "string",
    "required": True,
    "description": "Region",
}
OPTIONAL_QUERY = dict(REQUIRED_QUERY, required=False)

# (mutation of the new side, mutation of the old side, rule, level, location part, SDK line or None)
CASES: list[tuple[str, Mutation, Mutation | None, str, str, str, str | None]] = [
    ("operation added", add_widgets, None, "endpoint-added", "info", "GET /widgets",
     "method `client.widgets.list()` added"),
    ("operation removed", lambda d: d[ACCOUNTS]["paths"]["/journals/{key}/reissue"].pop("post"), None,
     "api-removed-without-deprecation", "breaking", "POST /journals/{key}/reissue",
     "method `client.journals.reissue()` removed"),
    ("deprecated operation removed", lambda d: d[ACCOUNTS]["paths"]["/journals/{key}/reissue"].pop("post"),
     lambda d: op(d, "/journals/{key}/reissue", "post").update(deprecated=True),
     "api-removed-with-deprecation", "warning", "POST /journals/{key}/reissue", None),
    ("resource removed", lambda d: d[ACCOUNTS]["paths"].pop("/migrations"), None,
     "api-removed-without-deprecation", "breaking", "GET /migrations", "resource `client.migrations` removed"),
    ("required parameter added", lambda d: op(d, "/contacts", "get")["parameters"].append(REQUIRED_QUERY), None,
     "new-required-request-parameter", "breaking", "GET /contacts query region",
     "`client.contacts.list()`: required keyword `region` added"),
    ("optional parameter added", lambda d: op(d, "/contacts", "get")["parameters"].append(OPTIONAL_QUERY), None,
     "new-optional-request-parameter", "info", "GET /contacts query region",
     "`client.contacts.list()`: keyword `region` added"),
    ("parameter removed", lambda d: op(d, "/sales_invoices", "get")["parameters"].remove(param(d, "/sales_invoices", "get", "status_id")), None,
     "request-parameter-removed", "warning", "GET /sales_invoices query status_id",
     "`client.sales_invoices.list()`: keyword `status_id` removed"),
    ("parameter renamed", rename_search, None, "request-parameter-renamed", "breaking", "GET /sales_invoices query query",
     "`client.sales_invoices.list()`: keyword `search` renamed to `query`"),
    ("parameter made required", lambda d: param(d, "/sales_invoices", "get", "contact_id").update(required=True), None,
     "request-parameter-became-required", "breaking", "GET /sales_invoices query contact_id",
     "`client.sales_invoices.list()`: keyword `contact_id` is now required"),
    ("parameter type changed", lambda d: param(d, "/contacts", "get", "page").update(type="string", format=None), None,
     "request-parameter-type-changed", "breaking", "GET /contacts query page",
     "`client.contacts.list()`: keyword `page` now takes `str | None` (was `int | None`)"),
    ("parameter date vs date-time", lambda d: param(d, "/contacts", "get", "updated_or_created_since").update(format="date"), None,
     "request-parameter-type-changed", "breaking", "GET /contacts query updated_or_created_since",
     "`client.contacts.list()`: keyword `updated_or_created_since` now takes `dt.date | None` (was `dt.datetime | dt.date | None`)"),
    ("parameter enum value removed", lambda d: param(d, "/ledger_accounts", "get", "visible_in")["enum"].remove("journals"), None,
     "request-parameter-enum-value-removed", "breaking", "GET /ledger_accounts query visible_in", None),
    ("parameter enum value added", lambda d: param(d, "/ledger_accounts", "get", "visible_in")["enum"].append("assets"), None,
     "request-parameter-enum-value-added", "info", "GET /ledger_accounts query visible_in", None),
    ("required request property added",
     lambda d: (contact_body(d)["properties"].update(vat_group={"type": "string"}), contact_body(d)["required"].append("vat_group")), None,
     "new-required-request-property", "breaking", "POST /contacts contact.vat_group",
     "model `ContactCreate`: required field `vat_group` added"),
    ("optional request property added", lambda d: contact_body(d)["properties"].update(vat_group={"type": "string"}), None,
     "new-optional-request-property", "info", "POST /contacts contact.vat_group", "model `ContactCreate`: field `vat_group` added"),
    ("request property removed", lambda d: contact_body(d)["properties"].pop("notes"), None,
     "request-property-removed", "warning", "POST /contacts contact.notes", "model `ContactCreate`: field `notes` removed"),
    ("request property made required", lambda d: contact_body(d)["required"].append("reference"), None,
     "request-property-became-required", "breaking", "POST /contacts contact.reference",
     "model `ContactCreate`: field `reference` is now required"),
    ("request property number to string", lambda d: contact_body(d)["properties"]["credit_limit"].update(type="string", format=None), None,
     "request-property-type-changed", "breaking", "POST /contacts contact.credit_limit",
     "model `ContactCreate`: field `credit_limit` is now string (was number)"),
    ("request property scalar to array", lambda d: contact_body(d)["properties"].update(notes={"type": "array", "items": {"type": "string"}}), None,
     "request-property-type-changed", "breaking", "POST /contacts contact.notes",
     "model `ContactCreate`: field `notes` is now array of string (was string)"),
    ("request enum value removed", lambda d: contact_body(d)["properties"]["credit_terms"]["enum"].remove("immediate_payment"), None,
     "request-property-enum-value-removed", "breaking", "POST /contacts contact.credit_terms", None),
    ("nested request property removed",
     lambda d: contact_body(d)["properties"]["main_address"]["properties"].pop("city"), None,
     "request-property-removed", "warning", "POST /contacts contact.main_address.city", None),
    ("response property added", lambda d: definition(d, "Contact")["properties"].update(loyalty_tier={"type": "string"}), None,
     "response-property-added", "info", "model Contact.loyalty_tier", "model `Contact`: field `loyalty_tier` added"),
    ("response property removed", lambda d: definition(d, "Contact")["properties"].pop("notes"), None,
     "response-property-removed", "warning", "model Contact.notes", "model `Contact`: field `notes` removed"),
    ("response property type changed", lambda d: definition(d, "Contact")["properties"]["balance"].update(type="string", format=None), None,
     "response-property-type-changed", "breaking", "model Contact.balance",
     "model `Contact`: field `balance` is now string (was number)"),
    ("response enum value added", with_response_enum(["a", "b", "c"]), with_response_enum(["a", "b"]),
     "response-property-enum-value-added", "warning", "model Contact.credit_terms", None),
    ("success status changed", lambda d: op(d, "/contacts", "post")["responses"].update({"200": op(d, "/contacts", "post")["responses"].pop("201")}), None,
     "response-success-status-changed", "breaking", "POST /contacts", None),
    ("single to list", list_business_settings, None, "response-list-changed", "breaking", "GET /business_settings",
     "`client.business_settings.list()` now returns a pager"),
    ("area and role removed", narrow_access, None, "access-area-removed", "breaking", "GET /ledger_accounts", None),
    ("role removed", narrow_access, None, "access-role-removed", "breaking", "GET /ledger_accounts", None),
    ("role added", widen_access, None, "access-role-added", "info", "GET /journals", None),
    ("edition removed", drop_edition_and_country, None, "availability-edition-removed", "breaking", "GET /contacts", None),
    ("country removed", drop_edition_and_country, None, "availability-country-removed", "breaking", "GET /contacts", None),
    ("country added", add_country, None, "availability-country-added", "info", "GET /contacts", None),
    ("description only", lambda d: op(d, "/contacts", "get").update(summary="Lists the contacts"), None,
     "api-description-changed", "info", "GET /contacts", None),
    ("model renamed", rename_definition, None, "response-property-type-changed", "breaking", "model LedgerAccount.ledger_account_group",
     "model `CoaGroupType` removed"),
]  # fmt: skip


def build(docs: dict[str, Any], directory: Path) -> Api:
    return build_api(load_spec(sorted(write_spec_dir(directory, docs).glob("*.swagger.json"))))


def diff_of(
    raw: dict[str, Any], new_side: Mutation, old_side: Mutation | None, tmp: Path, real: Api
) -> SpecDiff:
    """Compare the real spec (or a mutated old side) with a mutated copy of it."""
    old_docs = copy.deepcopy(raw)
    if old_side:
        old_side(old_docs)
    new_docs = copy.deepcopy(old_docs)
    new_side(new_docs)
    old = build(old_docs, tmp / "old") if old_side else real
    return compare(old, build(new_docs, tmp / "new"))


@pytest.mark.parametrize(
    ("case", "new_side", "old_side", "rule", "level", "location", "sdk"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_each_rule(
    raw_documents: dict[str, Any],
    api: Api,
    tmp_path: Path,
    case: str,
    new_side: Mutation,
    old_side: Mutation | None,
    rule: str,
    level: str,
    location: str,
    sdk: str | None,
) -> None:
    diff = diff_of(raw_documents, new_side, old_side, tmp_path, api)
    matching = [c for c in diff.api if c.rule == rule]
    assert matching, f"{case}: no {rule} in {[c.rule for c in diff.api]}"
    change = next((c for c in matching if location in c.location), None)
    assert change is not None, [c.location for c in matching]
    assert change.level == level
    assert "#/" in change.pointer and change.pointer.split("#")[0].endswith(".json")
    if sdk is not None:
        assert sdk in {c.text for c in diff.sdk}, sorted(c.text for c in diff.sdk)


def test_pointers_name_the_source_document_place(
    raw_documents: dict[str, Any], tmp_path: Path, api: Api
) -> None:
    diff = diff_of(
        raw_documents,
        lambda d: definition(d, "Contact")["properties"].pop("notes"),
        None,
        tmp_path,
        api,
    )
    (change,) = [c for c in diff.api if c.rule == "response-property-removed"]
    assert change.pointer.endswith(f"{ACCOUNTS}#/definitions/Contact/properties/notes")


def test_no_change_no_report(api: Api) -> None:
    diff = compare(api, api)
    assert diff.all() == ()


# -- the command ----------------------------------------------------------------------------------------


def run(*args: str) -> Any:
    return CliRunner().invoke(main, ["diff", *args])


def test_command_formats_and_exit_codes(tmp_path: Path) -> None:
    old, new = str(HISTORY_DIR), "spec"
    text = run(old, "--against", new)
    assert text.exit_code == 1  # Germany's removal is breaking
    assert text.output.splitlines()[0].endswith("300 breaking, 0 warning, 312 info")
    assert "BREAKING (API, 300)" in text.output and "INFO (SDK" in text.output
    assert run(old, "--against", new).output == text.output  # deterministic
    assert run(old, "--against", new, "--fail-on", "never").exit_code == 0
    assert run("spec", "--against", "spec").exit_code == 0
    data = json.loads(run(old, "--against", new, "--format", "json").output)
    assert data["summary"] == {"breaking": 300, "warning": 0, "info": 312}
    assert {c["view"] for c in data["changes"]} == {"api", "sdk"}
    assert all(
        {"rule", "level", "location", "pointer", "text"} <= c.keys() for c in data["changes"]
    )
    markdown = run(old, "--against", new, "--format", "markdown").output
    assert markdown.startswith("## Sage spec diff") and "| rule | change | where |" in markdown
    changelog = run(new, "--against", old, "--format", "changelog").output
    assert "### Breaking\n" in changelog
    assert "- Method `client.bank_accounts.bank_feed()` removed" in changelog


def test_each_side_may_be_several_documents(tmp_path: Path) -> None:
    result = run(f"spec/{ACCOUNTS}", f"spec/{USER_ACCOUNTS}", "--against", "spec")
    assert result.exit_code == 0 and "no changes" in result.output


@pytest.mark.parametrize("broken", ["invalid-json", "missing", "dangling-ref"])
def test_a_document_that_cannot_be_loaded_exits_2_with_one_line(
    raw_documents: dict[str, Any], tmp_path: Path, broken: str
) -> None:
    docs = copy.deepcopy(raw_documents)
    if broken == "dangling-ref":
        definition(docs, "Contact")["properties"]["main_address"]["$ref"] = "#/definitions/Gone"
    side = write_spec_dir(tmp_path / "new", docs)
    if broken == "invalid-json":
        (side / ACCOUNTS).write_text('{"swagger": "2.0", "paths": {,}}')
    if broken == "missing":
        (side / ACCOUNTS).unlink()
        target = str(side / ACCOUNTS)
    else:
        target = str(side)
    result = CliRunner().invoke(main, ["diff", "spec", "--against", target])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {side / ACCOUNTS}#")
    if broken == "dangling-ref":
        assert "/definitions/Contact/properties/main_address/$ref" in lines[0]


def test_usage_errors() -> None:
    assert run("spec").exit_code == 2
    assert run("--against", "spec").exit_code == 2


def test_country_and_edition_filters_keep_what_matters_there(old_api: Api, api: Api) -> None:
    """Germany left 241 operations: a maintainer whose users are in GB is not told about it."""

    def removed(**filters: str) -> int:
        diff = compare(old_api, api, **filters)
        return sum(
            c.rule == "availability-country-removed" and not c.location.startswith("model ")
            for c in diff.api
        )

    assert removed() == removed(country="DE") == removed(country="de") == 241
    assert removed(country="GB") == 0
    assert 0 < removed(edition="Accounting Start") < 241
    gb = compare(old_api, api, country="GB")
    assert ops(gb, "endpoint-added") <= ADDED_IN_2025 and ops(gb, "endpoint-added")


def test_breaking_changes_are_listed_in_full_and_groups_name_their_subject(
    old_api: Api, api: Api
) -> None:
    forward = CliRunner().invoke(main, ["diff", str(HISTORY_DIR), "--against", "spec"])
    lines = forward.output.splitlines()
    breaking = [line for line in lines if line.startswith("  [availability-country-removed] ")]
    breaking = [line for line in breaking if "] model " not in line]
    assert len(breaking) == 241 and not any(" x241" in line for line in lines)
    markdown = CliRunner().invoke(
        main, ["diff", str(HISTORY_DIR), "--against", "spec", "--format", "markdown"]
    )
    rows = [r for r in markdown.output.splitlines() if "| `availability-country-removed` |" in r]
    assert len([r for r in rows if "| model " not in r]) == 241
    reverse = CliRunner().invoke(main, ["diff", "spec", "--against", str(HISTORY_DIR)])
    grouped = [
        line for line in reverse.output.splitlines() if "[availability-country-added] x" in line
    ]
    assert grouped and all(": availability: now in DE (" in line for line in grouped), grouped


def test_a_spec_directory_stands_for_the_documents_its_lock_names(
    raw_documents: dict[str, Any], tmp_path: Path
) -> None:
    """After a new lock, the previous documents may still lie in spec/: they are not read."""
    side = write_spec_dir(tmp_path / "spec", raw_documents)
    stale = dict(raw_documents[ACCOUNTS], host="old.example.com")
    (side / "accounts-2022.swagger.json").write_text(json.dumps(stale))
    result = CliRunner().invoke(main, ["diff", "spec", "--against", str(side)])
    assert result.exit_code == 0, result.output
    assert "0 breaking, 0 warning, 0 info" in result.output


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_writes_a_real_diff_and_an_empty_one(
    name: str, old_api: Api, api: Api
) -> None:
    # A format added to FORMATS is offered by the command and run here, with nothing else to do.
    fmt = FORMATS[name]
    written = fmt.write(compare(old_api, api), old_api, api)
    assert old_api.spec_digest in written and api.spec_digest in written
    assert "no longer in DE" in written  # Germany's removal, in some form
    assert fmt.write(compare(api, api), api, api).strip()
    assert f"{name}: {fmt.help}" in " ".join(run("--help").output.split())
