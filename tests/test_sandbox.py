"""The sandbox as users meet it: its demo business, roles, Sage's wire format and errors,
actions, OAuth, faults, the pytest plugin and the command line."""

from __future__ import annotations

import base64
import datetime as dt
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from present import present

from sage_accounting import (
    AsyncSageAccounting,
    NotFoundError,
    OAuthSession,
    PermissionDeniedError,
    RateLimitError,
    SageAccounting,
    UnprocessableEntityError,
)
from sage_accounting.models import (
    JournalJournalLineCreateParams,
    SalesInvoiceCreateParams,
    SalesInvoiceLineCreateParams,
)
from sage_accounting.testing import Fault, SageSandbox


@pytest.fixture
def closing() -> Iterator[ExitStack]:
    """Clients a test makes are closed when it ends."""
    with ExitStack() as stack:
        yield stack


def raw(sage: SageSandbox, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """A request on the wire, as Sage's own clients see it, with the sandbox's token."""
    headers = {"Authorization": f"Bearer {sage.access_token}", **kwargs.pop("headers", {})}
    return httpx.request(method, sage.base_url + path, headers=headers, timeout=5.0, **kwargs)


# -- the demo business ----------------------------------------------------------------------------


def test_demo_business_is_small_realistic_and_the_same_from_the_same_seed(
    closing: ExitStack,
) -> None:
    with SageSandbox(seed=7) as one, SageSandbox(seed=7) as two, SageSandbox(seed=8) as other:
        ids = [set(s.records("contacts")) for s in (one, two, other)]
        client = closing.enter_context(one.client())
        customers = list(client.contacts.list(contact_type_id="CUSTOMER", attributes="all"))
        invoices = list(client.sales_invoices.list(attributes="all"))
        tax_rates = {t.id for t in client.tax_rates.list()}
        nominal = {a.nominal_code for a in client.ledger_accounts.list(attributes="nominal_code")}
        products = client.products.list().first_page()
    assert ids[0] == ids[1] and ids[0] != ids[2]
    assert len(customers) == 6 and all(present(c.credit_limit) > 0 for c in customers)
    assert {"GB_STANDARD", "GB_ZERO"} <= tax_rates and {1200, 4000, 2200} <= nominal
    assert products.total == 5
    assert [i.displayed_as for i in invoices] == ["SI-1", "SI-2", "SI-3", "SI-4"]
    for invoice in invoices:  # amounts add up exactly, in Decimal
        lines = present(invoice.invoice_lines)
        assert invoice.net_amount == sum(present(line.net_amount) for line in lines)
        assert invoice.total_amount == present(invoice.net_amount) + present(invoice.tax_amount)
        assert invoice.tax_amount == sum(present(line.tax_amount) for line in lines)
    assert [present(i.status).id for i in invoices] == ["UNPAID"] * 3 + ["DRAFT"]


def test_each_business_has_its_own_records_and_x_business_is_echoed(
    sage_sandbox: SageSandbox, closing: ExitStack
) -> None:
    second = sage_sandbox.state.businesses[1]
    other = closing.enter_context(sage_sandbox.client(business_id=second))
    created = other.contacts.create(
        contact={"name": "Only in the second", "contact_type_ids": ["CUSTOMER"]}
    )
    assert created.id in sage_sandbox.records("contacts", second)
    assert created.id not in sage_sandbox.records("contacts")
    answer = raw(sage_sandbox, "GET", "/contacts", headers={"X-Business": second})
    assert answer.headers["X-Business"] == second and answer.json()["$total"] == 10
    unknown = raw(sage_sandbox, "GET", "/contacts", headers={"X-Business": "nope"})
    assert unknown.status_code == 403 and unknown.json()[0]["$dataCode"] == "BusinessNotFound"
    businesses = raw(sage_sandbox, "GET", "/businesses")
    assert "X-Business" not in businesses.headers and businesses.json()["$items_per_page"]


# -- Sage's wire format -----------------------------------------------------------------------------


def test_list_envelope_pages_attributes_and_changes_filters(
    sage_sandbox: SageSandbox, closing: ExitStack
) -> None:
    first = raw(sage_sandbox, "GET", "/contacts", params={"items_per_page": 4}).json()
    assert first["$total"] == 9 and first["$page"] == 1 and first["$back"] is None
    assert first["$next"] == "/contacts?page=2&items_per_page=4"
    assert set(first["$items"][0]) == {"id", "displayed_as", "$path"}
    past_end = raw(sage_sandbox, "GET", "/contacts?items_per_page=4&page=9").json()
    assert past_end["$page"] == 3 and past_end["$next"] is None  # the last page again
    assert past_end["$back"] == "/contacts?page=2&items_per_page=4"
    some = raw(sage_sandbox, "GET", "/contacts?attributes=credit_limit,email").json()["$items"][0]
    assert set(some) == {"id", "displayed_as", "$path", "credit_limit", "email"}
    assert Decimal(some["credit_limit"]) > 0 and some["$path"] == f"/contacts/{some['id']}"

    sage_sandbox.clock.advance(120)  # later than every record (the token lives 300 s)
    since = dt.datetime.fromtimestamp(int(sage_sandbox.clock.now()) - 1, dt.UTC).isoformat()
    client = closing.enter_context(sage_sandbox.client())
    client.contacts.update(some["id"], contact={"notes": "called"})
    gone = next(iter(sage_sandbox.records("products")))
    client.products.delete(gone)
    changed = raw(sage_sandbox, "GET", "/contacts", params={"updated_or_created_since": since})
    assert [c["id"] for c in changed.json()["$items"]] == [some["id"]]
    deleted = raw(sage_sandbox, "GET", "/products", params={"deleted_since": since}).json()
    assert [(p["id"], bool(p["deleted_at"])) for p in deleted["$items"]] == [(gone, True)]
    feed = client.products.changes(since=None)
    assert sum(1 for _ in feed) == 4 and feed.cursor is not None


def test_links_money_and_numbers_as_sage_answers_them(sage_client: SageAccounting) -> None:
    contact = next(iter(sage_client.contacts.list()))
    ledger = next(
        a for a in sage_client.ledger_accounts.list(attributes="all") if a.nominal_code == 4000
    )

    def invoice_of(  # one line for the contact, on Sales Type A
        quantity: Decimal, unit_price: Decimal, tax_rate_id: str, tax_amount: Decimal | None = None
    ) -> Any:
        line: SalesInvoiceLineCreateParams = {
            "description": "Shelving", "ledger_account_id": present(ledger.id),
            "quantity": quantity, "unit_price": unit_price, "tax_rate_id": tax_rate_id,
        }  # fmt: skip
        if tax_amount is not None:
            line["tax_amount"] = tax_amount
        body: SalesInvoiceCreateParams = {
            "contact_id": present(contact.id), "date": "2026-11-20", "invoice_lines": [line]
        }  # fmt: skip
        return sage_client.sales_invoices.create(sales_invoice=body)

    invoice = invoice_of(
        quantity=Decimal("3"), unit_price=Decimal("0.10"), tax_rate_id="GB_STANDARD",
        tax_amount=Decimal("0.06"),
    )  # fmt: skip
    assert invoice.displayed_as == invoice.invoice_number == "SI-5"
    assert invoice.contact.id == contact.id and invoice.contact.displayed_as == contact.displayed_as
    assert invoice.invoice_lines[0].ledger_account.displayed_as == "Sales Type A (4000)"
    assert (invoice.net_amount, invoice.tax_amount, invoice.total_amount) == (
        Decimal("0.30"), Decimal("0.06"), Decimal("0.36"),
    )  # fmt: skip
    assert sage_client.sales_invoices.get(invoice.id).total_amount == Decimal("0.36")
    taxed = invoice_of(quantity=Decimal("2"), unit_price=Decimal("10.25"), tax_rate_id="GB_LOWER")
    assert (taxed.net_amount, taxed.tax_amount) == (
        Decimal("20.50"),
        Decimal("1.03"),
    )  # 5%, half up
    renamed = sage_client.ledger_accounts.update(
        present(ledger.id), ledger_account={"visible_in_sales": True}
    )
    assert renamed.displayed_as == "Sales Type A (4000)"  # a change not to its name keeps it


def test_errors_are_sages_array_and_the_sdk_types_them(
    sage_sandbox: SageSandbox, closing: ExitStack
) -> None:
    client = closing.enter_context(sage_sandbox.client(max_retries=0))
    with pytest.raises(NotFoundError) as missing:
        client.contacts.get("no-such-contact")
    assert missing.value.data_code == "RecordNotFound"
    blank = raw(sage_sandbox, "POST", "/contacts", json={"contact": {"name": "No type"}})
    assert blank.status_code == 422
    assert blank.json() == [
        {"$severity": "error", "$dataCode": "RecordInvalid",
         "$message": "contact_type_ids can't be blank", "$source": "contact_type_ids"},
    ]  # fmt: skip
    unauthorized = httpx.get(
        sage_sandbox.base_url + "/contacts", headers={"Authorization": "Bearer x"}
    )
    assert unauthorized.status_code == 401 and unauthorized.json()[0]["$dataCode"] == "Unauthorized"
    as_form = raw(sage_sandbox, "POST", "/contacts", content=b"name=x",
                  headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert as_form.status_code == 415
    bad_page = raw(sage_sandbox, "GET", "/contacts?page=two").json()[0]
    assert (bad_page["$dataCode"], bad_page["$source"]) == ("RecordInvalid", "page")
    bad_enum = raw(sage_sandbox, "GET", "/ledger_accounts?visible_in=nowhere").json()[0]
    assert bad_enum["$source"] == "visible_in" and "sales" in bad_enum["$message"]
    assert raw(sage_sandbox, "GET", "/no_such_resource").status_code == 404
    assert raw(sage_sandbox, "GET", "/sales_invoices/x/release").status_code == 405
    sage_sandbox.clock.advance(301)  # the sandbox's token has expired
    assert raw(sage_sandbox, "GET", "/contacts").status_code == 401


def test_idempotency_id_replays_the_first_answer(sage_sandbox: SageSandbox) -> None:
    body = {
        "contact": {"name": "Once", "contact_type_ids": ["CUSTOMER"], "idempotency_id": "a" * 32}
    }
    first = raw(sage_sandbox, "POST", "/contacts", json=body)
    again = raw(sage_sandbox, "POST", "/contacts", json=body)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert sum(c["displayed_as"] == "Once" for c in sage_sandbox.records("contacts").values()) == 1


# -- roles ------------------------------------------------------------------------------------------------


def test_a_read_only_user_gets_403_exactly_where_the_access_text_says(closing: ExitStack) -> None:
    with SageSandbox(roles={"Sales": "Read Only"}) as sage:
        client = closing.enter_context(sage.client(max_retries=0))
        invoice = client.sales_invoices.list().first_page().items[0]
        invoice_id = present(invoice.id)
        assert client.sales_invoices.get(invoice_id).id == invoice.id  # reading is allowed
        with pytest.raises(PermissionDeniedError) as denied:
            client.sales_invoices.release(invoice_id)
        assert denied.value.data_code == "MultiUserAccessDenied"
        assert "Sales (Full Access, Restricted Access)" in str(denied.value)
        client.contacts.create(contact={"name": "Contacts area", "contact_type_ids": ["VENDOR"]})
        sage.set_role("Contacts", "Read Only")
        with pytest.raises(PermissionDeniedError):
            client.contacts.create(contact={"name": "Now refused", "contact_type_ids": ["VENDOR"]})
        assert client.user.get().id == "user-1"  # no area: never refused
        with pytest.raises(ValueError, match="role must be one of"):
            sage.set_role("Sales", "Admin")


# -- actions ----------------------------------------------------------------------------------------------


def test_release_reissue_and_file_download(
    sage_client: SageAccounting, sage_sandbox: SageSandbox
) -> None:
    draft = next(
        i
        for i in sage_client.sales_invoices.list(attributes="status")
        if present(i.status).id == "DRAFT"
    )
    draft_id = present(draft.id)
    assert present(sage_client.sales_invoices.release(draft_id).status).id == "UNPAID"
    with pytest.raises(UnprocessableEntityError, match="Only a draft can be released"):
        sage_client.sales_invoices.release(draft_id)
    accounts = [present(a.id) for a in sage_client.ledger_accounts.list()][:2]
    lines: list[JournalJournalLineCreateParams] = [
        {"ledger_account_id": accounts[0], "debit": Decimal("10.00"), "credit": Decimal(0)},
        {"ledger_account_id": accounts[1], "debit": Decimal(0), "credit": Decimal("10.00")},
    ]
    journal = sage_client.journals.create(
        journal={"date": "2026-11-01", "reference": "Accrual", "journal_lines": lines}
    )
    reissued = sage_client.journals.reissue(present(journal.id))
    assert reissued.id != journal.id and reissued.reference == "Accrual"
    with pytest.raises(NotFoundError):
        sage_client.journals.get(present(journal.id))
    attachment = sage_client.attachments.create(
        attachment={"file": base64.b64encode(b"receipt bytes").decode(), "file_name": "r.txt",
                    "mime_type": "text/plain", "file_extension": ".txt"}  # fmt: skip
    )
    assert sage_client.attachments.get_file(present(attachment.id)) == b"receipt bytes"
    answer = raw(sage_sandbox, "GET", f"/attachments/{attachment.id}/file")
    assert answer.headers["Content-Type"] == "text/plain"
    assert 'filename="r.txt"' in answer.headers["Content-Disposition"]


# -- faults -----------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("no_backoff")
def test_injected_faults_429_5xx_drops_and_latency(
    sage_sandbox: SageSandbox, closing: ExitStack
) -> None:
    client = closing.enter_context(sage_sandbox.client(max_retries=2, timeout=2.0))
    sage_sandbox.inject(Fault.rate_limited(retry_after=0, times=2, path="/contacts"))
    assert client.contacts.list().first_page().total == 9  # retried through both
    assert sage_sandbox.count("GET /contacts") == 3
    sage_sandbox.inject(Fault.rate_limited(retry_after=30, times=3))
    with pytest.raises(RateLimitError) as limited:
        client.with_options(max_retries=0).contacts.list().first_page()
    assert limited.value.retry_after == 30
    sage_sandbox.clear_faults()
    sage_sandbox.inject(Fault.server_error(503), Fault.dropped())
    assert client.tax_rates.get("GB_STANDARD").id == "GB_STANDARD"
    sage_sandbox.inject(Fault.latency(0.2, path="/user"))
    started = time.monotonic()
    client.user.get()
    assert time.monotonic() - started >= 0.2


# -- OAuth ------------------------------------------------------------------------------------------------


def test_oauth_authorize_exchange_refresh_and_revoke_end_to_end(
    sage_sandbox: SageSandbox, closing: ExitStack
) -> None:
    app = sage_sandbox.oauth_app(timeout=5.0)
    request = app.authorization_url(scope="full_access")
    callback = httpx.get(request.url, follow_redirects=False).headers["location"]
    assert callback.startswith(sage_sandbox.state.redirect_uri + "?code=GB%2F")
    tokens = app.exchange_code(
        callback_url=callback, expected_state=request.state, code_verifier=request.code_verifier
    )
    client = closing.enter_context(sage_sandbox.client(session=OAuthSession(app, tokens=tokens)))
    assert client.user.get().email == "sam@sandbox.example"
    sage_sandbox.clock.advance(301)
    assert client.businesses.get("lead").displayed_as == "Sandbox Joinery Ltd"  # refreshed first
    assert sage_sandbox.count("refresh") == 1 and sage_sandbox.count("exchange") == 1
    assert tokens.refresh_token in sage_sandbox.state.used_refresh_tokens  # rotated


async def test_async_client_fixture_reaches_the_same_sandbox(
    async_sage_client: AsyncSageAccounting, sage_server: SageSandbox
) -> None:
    page = await async_sage_client.contacts.list(items_per_page=3).first_page()
    assert page.total == 9 and len(page.items) == 3
    ledger = next(iter(sage_server.records("ledger_accounts")))
    created = await async_sage_client.products.create(
        product={"description": "Async shelf", "item_code": "ASYNC-1",
                 "sales_ledger_account_id": ledger, "purchase_ledger_account_id": ledger}
    )  # fmt: skip
    assert created.id in sage_server.records("products")


# -- packaging, start-up, command line ------------------------------------------------------------


def test_the_sdk_does_not_import_the_sandbox_or_pytest() -> None:
    code = (
        "import sys, sage_accounting; sage_accounting.SageAccounting(access_token='t')\n"
        "print(sorted(m for m in sys.modules if m.startswith(('pytest', 'sage_accounting.testing'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def test_a_users_own_suite_gets_the_fixtures_from_the_entry_point(tmp_path: Any) -> None:
    (tmp_path / "test_mine.py").write_text(
        "from sage_accounting.testing import Fault\n"
        "def test_listing(sage_client, sage_sandbox):\n"
        "    sage_sandbox.inject(Fault.rate_limited(retry_after=0))\n"
        "    assert sage_client.sales_invoices.list().first_page().total == 4\n"
        "    assert sage_sandbox.count('GET /sales_invoices') == 2\n"
        "def test_alias(sage_server, sage_sandbox):\n"
        "    assert sage_server is sage_sandbox\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert "2 passed" in out.stdout, out.stdout + out.stderr


def test_python_m_serves_and_prints_a_working_token() -> None:
    command = [sys.executable, "-m", "sage_accounting.testing", "--json", "--seed", "3"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as server:
        try:
            assert server.stdout is not None
            facts = json.loads(server.stdout.readline())
            with SageAccounting(
                access_token=facts["access_token"], base_url=facts["base_url"]
            ) as c:
                assert c.contacts.list().first_page().total == 9
        finally:
            server.terminate()
            server.wait(timeout=10)


def test_click_command_prints_base_url_and_a_long_lived_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    from sage_accounting.testing import cli

    running: list[SageSandbox] = []
    monkeypatch.setattr(cli, "wait", running.append)  # instead of serving until Ctrl+C
    result = CliRunner().invoke(cli.sandbox, ["--empty", "--contacts", "2"])
    assert result.exit_code == 0, result.output
    (sandbox,) = running
    try:
        assert f"base URL:      {sandbox.base_url}" in result.output
        token = result.output.split("export SAGE_ACCESS_TOKEN=")[1].split()[0]
        sandbox.clock.advance(3 * 3600)  # a person at a shell: Sage's 5 minutes would be over
        with SageAccounting(access_token=token, base_url=sandbox.base_url) as client:
            assert client.contacts.list().first_page().total == 2
    finally:
        sandbox.stop()


def test_a_sandbox_starts_in_well_under_a_second() -> None:
    SageSandbox().start().stop()  # first use imports the operations table
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        sandbox = SageSandbox().start()
        timings.append(time.perf_counter() - started)
        sandbox.stop()
    assert statistics.median(timings) < 0.25  # ~10 ms on a quiet machine; tests start many


def test_ids_in_a_body_become_links_to_the_records_they_name(sage_client: SageAccounting) -> None:
    ledger = next(
        a for a in sage_client.ledger_accounts.list(attributes="all") if a.nominal_code == 5000
    )
    product = sage_client.products.create(
        product={"description": "Pine offcuts", "sales_ledger_account_id": present(ledger.id),
                 "purchase_ledger_account_id": present(ledger.id)}  # fmt: skip
    )
    link = present(product.purchase_ledger_account)
    assert link.path == f"/ledger_accounts/{ledger.id}"
    assert link.displayed_as == "Cost of sales - goods (5000)"
    draft = next(
        i
        for i in sage_client.sales_invoices.list(attributes="status")
        if present(i.status).id == "DRAFT"
    )
    status = present(draft.status)
    assert (status.displayed_as, status.path) == ("Draft", "/artefact_statuses/DRAFT")


def test_a_sandbox_bug_answers_500_in_sages_shape_not_a_hang(
    sage_sandbox: SageSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sage_accounting.testing import _records  # the module _operations calls

    def broken(*_args: Any) -> None:
        raise KeyError("boom")

    monkeypatch.setattr(_records, "envelope", broken)
    answer = raw(sage_sandbox, "GET", "/contacts")
    assert answer.status_code == 500
    assert answer.json()[0]["$message"] == "Sandbox error: KeyError"


def test_the_readme_sandbox_example_passes_as_a_users_suite(tmp_path: Any) -> None:
    """The README's "Testing with the sandbox" example is what a user pastes: it must pass."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Testing with the sandbox", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "test_readme_example.py").write_text(example, encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    tests = example.count("\ndef test_")
    assert f"{tests} passed" in out.stdout, out.stdout + out.stderr


def test_a_client_gone_before_its_answer_is_not_a_traceback_on_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A client that stops listening (a timeout, a closed stream) is normal for a server: the
    sandbox must not print a traceback into the output of whatever test runs next."""
    from sage_accounting.testing import SageSandbox

    with SageSandbox(demo_data=False) as sandbox:
        server = present(sandbox._server)
        for gone in (BrokenPipeError(32, "Broken pipe"), ConnectionResetError(104, "reset")):
            try:
                raise gone
            except OSError:
                server.handle_error(None, ("127.0.0.1", 1))
        assert capsys.readouterr().err == ""
        try:
            raise ValueError("a real bug in the sandbox")
        except ValueError:
            server.handle_error(None, ("127.0.0.1", 1))
        assert "a real bug in the sandbox" in capsys.readouterr().err
