"""The documentation tooling: the reference pages written at build time, and the site check.

The site itself is built and opened in chromium by `make docs-check` (CI runs it); these tests
pin down what those pages must contain and that the check catches what it is meant to catch.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest
from module_files import load_file

from sage_accounting._runtime import all_operations

OPERATIONS = all_operations()

SCRIPTS = Path(__file__).resolve().parents[1] / "docs" / "scripts"


def load_script(name: str) -> ModuleType:
    return load_file(SCRIPTS / f"{name}.py")


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    result: dict[str, str] = load_script("gen_reference").pages()
    return result


# -- the reference pages ---------------------------------------------------------------------------


def test_one_page_per_resource_each_rendering_its_class(pages: dict[str, str]) -> None:
    resources = {info.resource for info in OPERATIONS.values()}
    assert len(resources) == 87
    for resource in resources:
        page = pages[f"reference/{resource}.md"]
        assert re.search(
            rf"^::: sage_accounting\.resources\.{resource}\.\w+$", page, re.M
        ), resource
    summary = pages["reference/SUMMARY.md"]
    models = len(load_script("gen_reference").model_names())
    # every page: the overview, the resources, the models' index and each model
    assert summary.count("](") == 1 + len(resources) + 1 + models


def test_every_operation_is_listed_once_with_its_call_access_and_availability(
    pages: dict[str, str],
) -> None:
    rows: Counter[tuple[str, str, str]] = Counter()
    for info in OPERATIONS.values():
        page = pages[f"reference/{info.resource}.md"]
        call = f"`{info.method} {info.path}`"
        [row] = [line for line in page.splitlines() if call in line and f".{info.name}]" in line]
        rows[(info.resource, info.name, call)] += 1
        for area, roles in info.access:
            assert f"{area} ({', '.join(roles)})" in row
        for edition, countries in info.availability:
            assert f"{edition} ({', '.join(countries)})" in row
    assert len(rows) == len(OPERATIONS) == 292


def test_sales_invoices_page_links_each_method_to_its_rendered_entry(
    pages: dict[str, str],
) -> None:
    page = pages["reference/sales_invoices.md"]
    qualified = "sage_accounting.resources.sales_invoices.SalesInvoices"
    for name in ("list", "create", "get", "update", "delete", "release", "changes"):
        assert f"[`{name}`][{qualified}.{name}]" in page


def test_every_model_has_a_page_listing_its_fields(pages: dict[str, str]) -> None:
    from sage_accounting import models

    assert len(models.__all__) > 500
    for name in models.__all__:
        assert pages[f"reference/models/{name}.md"].startswith(f"# {name}\n"), name
    page = pages["reference/models/SalesInvoiceCreate.md"]
    for attribute, info in models.SalesInvoiceCreate.model_fields.items():
        [row] = [x for x in page.splitlines() if x.startswith(f"| `{info.alias or attribute}`")]
        assert row.split(" | ")[2] == ("yes" if info.is_required() else "no"), row
    assert "| `contact_id` | str | yes | The contact the sales invoice relates to |" in page
    invoice = pages["reference/models/SalesInvoice.md"]
    assert "| `invoice_lines` | list[[" in invoice  # a nested model links to its own page


def test_methods_link_the_models_they_take_and_return(pages: dict[str, str]) -> None:
    for info in OPERATIONS.values():
        page = pages[f"reference/{info.resource}.md"]
        call = f"`{info.method} {info.path}`"
        [row] = [line for line in page.splitlines() if call in line and f".{info.name}]" in line]
        if info.model and f"reference/models/{info.model}.md" in pages:
            assert f"](models/{info.model}.md)" in row, row
    row = next(x for x in pages["reference/sales_invoices.md"].splitlines() if ".create]" in x)
    assert "[`SalesInvoiceCreate`](models/SalesInvoiceCreate.md)" in row
    model = pages["reference/models/SalesInvoiceCreate.md"]
    assert "[`sales_invoices.create`](../sales_invoices.md)" in model  # and back


def test_reference_pages_say_what_methods_raise_and_show_a_call_of_each(
    pages: dict[str, str],
) -> None:
    for info in OPERATIONS.values():
        page = pages[f"reference/{info.resource}.md"]
        errors = page[page.index("## Errors") : page.index("## Examples")]
        assert "NotFoundError" in errors and "PermissionDeniedError" in errors
        assert "SageArgumentError" in errors and "APIConnectionError" in errors
        examples = page[page.index("## Examples") : page.index(":::")]
        assert f"client.{info.resource}.{info.name}(" in examples


def test_pages_are_the_same_on_every_build() -> None:
    generate = load_script("gen_reference").pages
    assert generate() == generate()


# -- the site check --------------------------------------------------------------------------------


def _site(tmp_path: Path, reference_ids: list[str], extra_link: str) -> Path:
    site = tmp_path / "site"
    (site / "reference" / "sales_invoices").mkdir(parents=True)
    (site / "index.html").write_text(
        "<html><head><title>Quickstart</title></head><body>"
        '<a href="reference/sales_invoices/#top">invoices</a>'
        f'<a href="{extra_link}">more</a><a href="https://example.org/">out</a></body></html>'
    )
    ids = "".join(f'<h3 id="{i}">{i}</h3>' for i in ["top", *reference_ids])
    (site / "reference" / "sales_invoices" / "index.html").write_text(
        f"<html><head><title>Sales Invoices</title></head><body>{ids}</body></html>"
    )
    return site


def test_the_check_finds_broken_links_and_anchors_but_not_external_ones(tmp_path: Path) -> None:
    check = load_script("check_site")
    site = _site(tmp_path, [], "reference/nowhere/")
    with check.serve(site) as origin:
        page = check.parse(check.fetch(origin + "/"))
        problems = check.broken_links(origin, origin + "/", page)
        assert len(problems) == 1 and problems[0].startswith("reference/nowhere/: HTTP Error 404")

        page.links.append("reference/sales_invoices/#no-such-method")
        problems = check.broken_links(origin, origin + "/", page)
        assert problems[-1] == (
            "reference/sales_invoices/#no-such-method: no element with id 'no-such-method' "
            f"on {origin}/reference/sales_invoices/"
        )


def test_the_check_names_each_missing_method(tmp_path: Path) -> None:
    check = load_script("check_site")
    methods = check.expected_methods()
    assert methods == ["list", "create", "get", "update", "delete", "release", "changes"]
    present = [check.METHOD_ANCHOR.format(m) for m in methods if m != "release"]
    site = _site(tmp_path, present, "#top")
    with check.serve(site) as origin:
        page = check.parse(check.fetch(origin + "/reference/sales_invoices/"))
    assert check.missing_methods(page, methods) == ["release"]


def test_the_check_names_each_missing_field_and_the_missing_model_link(tmp_path: Path) -> None:
    check = load_script("check_site")
    fields = check.expected_fields()
    assert fields[:2] == ["contact_id", "date"]
    site = tmp_path / "site"
    (site / "reference" / "models" / check.MODEL).mkdir(parents=True)
    listed = "".join(f"<td><code>{f}</code></td>" for f in fields if f != "date")
    (site / "reference" / "models" / check.MODEL / "index.html").write_text(
        f"<html><head><title>{check.MODEL}</title></head><body>{listed}</body></html>"
    )
    with check.serve(site) as origin:
        page = check.parse(check.fetch(f"{origin}/reference/models/{check.MODEL}/"))
    assert check.missing_fields(page, fields) == ["date"]
    assert not check.links_model(page)
    page.links.append(f"../models/{check.MODEL}/")
    assert check.links_model(page)


def test_the_check_says_what_to_do_without_a_site_or_without_chromium(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    check = load_script("check_site")
    assert check.main([str(tmp_path / "absent")]) == 2
    assert "run `make docs` first" in capsys.readouterr().out

    site = _site(tmp_path, [], "#top")
    monkeypatch.setattr(check, "find_chromium", lambda: None)
    monkeypatch.delenv("DOCS_CHECK_SKIP", raising=False)
    assert check.main([str(site)]) == 2
    assert "apt-get install -y chromium" in capsys.readouterr().out
    monkeypatch.setenv("DOCS_CHECK_SKIP", "1")
    assert check.main([str(site)]) == 0
    assert "SKIPPED: chromium is not installed" in capsys.readouterr().out
