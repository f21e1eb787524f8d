"""Each example in examples/ run as a user runs it, against the fake Sage server on 127.0.0.1.

The scripts run as subprocesses with the environment variables their docstrings name; the web app
is driven through Flask's test client, with the authorize step followed over HTTP as a browser
would.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
import pytest
from module_files import load_file

try:  # the sandbox replaces tests/fake_sage behind the same fixture; its Fault has the same fields
    from sage_accounting.testing import Fault
except ImportError:
    from fake_sage import Fault

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def run_example(name: str, fake: Any, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "SAGE_ACCESS_TOKEN": fake.issue_tokens()["access_token"],
        "SAGE_BASE_URL": fake.base_url,
        **env,
    }
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


# -- error_handling.py ---------------------------------------------------------------------------


def test_error_handling_prints_one_line_per_failure_with_its_advice(fake_sage: Any) -> None:
    fake_sage.inject(
        Fault(status=429, retry_after="0", times=3, method="GET", path="/ledger_accounts")
    )
    result = run_example("error_handling.py", fake_sage)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "a wrong argument type: ArgumentTypeError: items_per_page: must be an int, not str"
        " -> fix the call: nothing was sent"
    )
    assert lines[1].startswith("money as a float: RequestValidationError: contact: credit_limit")
    assert lines[2].startswith("a contact that does not exist: NotFoundError: 404 on GET")
    assert "RecordInvalid: name can't be blank" in lines[3]
    assert lines[4] == "a contact with a credit limit: ok (Error Handling Ltd)"
    assert lines[5].startswith("ledger accounts, once: RateLimitError: 429")
    assert lines[5].endswith("too many requests, even after retries: wait 0 s")
    assert lines[6].startswith("a refused token: AuthenticationError: 401")
    assert lines[7] == "1 of 7 steps worked"
    # Nothing was sent for the argument mistakes: one contact created, by the valid call only.
    assert fake_sage.count("POST /contacts") == 2  # the blank name (422) and the good one
    assert len(fake_sage.records("contacts")) == 1
    token = fake_sage.issue_tokens()["access_token"][:12]
    assert token not in result.stdout


# -- export_invoices_csv.py ----------------------------------------------------------------------


def _invoice_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_nightly_export_writes_every_invoice_then_only_changes(
    fake_sage: Any, tmp_path: Path
) -> None:
    out = tmp_path / "exports"
    fake_sage.clock.advance(-7200)  # invoices made two hours before the first export
    [acme] = fake_sage.seed("contacts", 1, name="Acme Ltd", contact_type_ids=["CUSTOMER"])
    first = fake_sage.seed(
        "sales_invoices",
        3,
        contact={"id": acme, "displayed_as": "Acme Ltd"},
        contact_id=acme,
        date="2026-11-02",
        net_amount="1028.80",
        total_amount="1234.56",
    )
    fake_sage.clock.advance(7200)

    night1 = run_example("export_invoices_csv.py", fake_sage, "--out-dir", str(out))
    assert night1.returncode == 0, night1.stderr
    [file1] = sorted(out.glob("invoices-*.csv"))
    rows = _invoice_rows(file1)
    assert [r["id"] for r in rows] == first
    assert {(r["change"], r["contact"], r["total_amount"], r["net_amount"]) for r in rows} == {
        ("upsert", "Acme Ltd", "1234.56", "1028.80")  # exact decimals, the contact by name
    }
    assert (out / ".cursor").is_file()
    assert f"3 invoice change(s) -> {file1}" in night1.stdout

    fake_sage.clock.advance(3600)  # the next night: one invoice new, one deleted
    [added] = fake_sage.seed("sales_invoices", 1, contact_id=acme, date="2026-11-03")
    fake_sage.delete_record("sales_invoices", first[0])
    night2 = run_example("export_invoices_csv.py", fake_sage, "--out-dir", str(out))
    assert night2.returncode == 0, night2.stderr
    file2 = max(out.glob("invoices-*.csv"), key=lambda p: p.stat().st_mtime_ns)
    assert file2 != file1
    changes = {(r["change"], r["id"]) for r in _invoice_rows(file2)}
    assert changes == {("upsert", added), ("delete", first[0])}


def test_a_failed_export_keeps_the_cursor_for_the_next_run(fake_sage: Any, tmp_path: Path) -> None:
    out = tmp_path / "exports"
    fake_sage.seed("sales_invoices", 1, contact_id="con1", date="2026-11-02")
    assert run_example("export_invoices_csv.py", fake_sage, "--out-dir", str(out)).returncode == 0
    cursor = (out / ".cursor").read_text()

    fake_sage.inject(Fault(status=500, times=10, method="GET", path="/sales_invoices"))
    failed = run_example("export_invoices_csv.py", fake_sage, "--out-dir", str(out))

    assert failed.returncode == 1
    assert failed.stderr.startswith("export failed: 500 on GET /sales_invoices")
    assert (out / ".cursor").read_text() == cursor
    assert len(list(out.glob("invoices-*.csv"))) == 1  # no half-written file left as a CSV


def test_export_refreshes_through_a_token_file(fake_sage: Any, tmp_path: Path) -> None:
    """The nightly job's real set-up: the web app's token file, refreshed and rewritten."""
    from sage_accounting import FileTokenStore, TokenSet

    token_file = tmp_path / "tokens.json"
    issued = TokenSet.from_response(fake_sage.issue_tokens(), fake_sage.clock.now() - 3600)
    FileTokenStore(token_file).save(issued)  # an access token an hour old: expired
    fake_sage.seed("sales_invoices", 2, contact_id="con1", date="2026-11-02")

    result = run_example(
        "export_invoices_csv.py",
        fake_sage,
        "--out-dir",
        str(tmp_path / "exports"),
        "--token-file",
        str(token_file),
        SAGE_ACCESS_TOKEN="",
        SAGE_CLIENT_ID=fake_sage.state.client_id,
        SAGE_CLIENT_SECRET=fake_sage.state.client_secret,
        SAGE_REDIRECT_URI=fake_sage.state.redirect_uri,
        SAGE_TOKEN_URL=fake_sage.token_url,
    )

    assert result.returncode == 0, result.stderr
    assert "2 invoice change(s)" in result.stdout
    assert fake_sage.count("refresh") == 1
    stored = FileTokenStore(token_file).load()
    assert stored is not None and stored.refresh_token != issued.refresh_token


# -- oauth_web_app.py ----------------------------------------------------------------------------


@pytest.fixture
def web_app(fake_sage: Any, oauth_app: Any, tmp_path: Path) -> Any:
    """make() -> a browser (Flask test client) on a new instance of the app: a restart."""
    example = load_file(EXAMPLES / "oauth_web_app.py")

    def make() -> Any:
        app = example.create_app(oauth_app, tmp_path / "tokens.json", fake_sage.base_url)
        return app.test_client()

    return make


def _sign_in(browser: Any) -> Any:
    """/login -> Sage's authorize page (followed over HTTP) -> /callback, as a browser goes."""
    to_sage = browser.get("/login")
    assert to_sage.status_code == 302
    back = httpx.get(to_sage.headers["Location"], follow_redirects=False, timeout=5)
    assert back.status_code == 302
    callback = urllib.parse.urlsplit(back.headers["Location"])
    assert callback.path == "/callback"
    return browser.get(f"/callback?{callback.query}")


def test_web_app_connects_a_business_and_lists_its_contacts(
    fake_sage: Any, web_app: Any, tmp_path: Path
) -> None:
    fake_sage.seed("contacts", 2, contact_type_ids=["CUSTOMER"])
    browser = web_app()
    assert "Connect your Sage business" in browser.get("/").get_data(as_text=True)

    landed = _sign_in(browser)
    assert landed.status_code == 302 and landed.headers["Location"].endswith("/contacts")
    page = browser.get("/contacts").get_data(as_text=True)
    assert "biz-lead contacts 0" in page and "biz-lead contacts 1" in page

    token_file = tmp_path / "tokens.json"
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert fake_sage.count("exchange") == 1


def test_web_app_tokens_survive_a_restart_and_are_refreshed(
    fake_sage: Any, web_app: Any, tmp_path: Path
) -> None:
    fake_sage.seed("contacts", 1, contact_type_ids=["CUSTOMER"])
    _sign_in(web_app())
    before = (tmp_path / "tokens.json").read_text()

    fake_sage.clock.advance(600)  # the access token has expired; the app restarts
    page = web_app().get("/contacts").get_data(as_text=True)

    assert "biz-lead contacts 0" in page
    assert fake_sage.count("refresh") == 1
    assert (tmp_path / "tokens.json").read_text() != before  # the new pair was stored


def test_web_app_refuses_a_callback_it_did_not_start(fake_sage: Any, web_app: Any) -> None:
    browser = web_app()
    browser.get("/login")
    refused = browser.get("/callback?code=GB%2Fstolen&state=someone-elses")

    assert refused.status_code == 400
    assert fake_sage.count("exchange") == 0


def test_web_app_logout_revokes_and_forgets(fake_sage: Any, web_app: Any, tmp_path: Path) -> None:
    browser = web_app()
    _sign_in(browser)
    stored = (tmp_path / "tokens.json").read_text()

    assert browser.get("/logout").status_code == 302
    assert not (tmp_path / "tokens.json").exists()
    assert browser.get("/contacts").headers["Location"].endswith("/login")
    assert '"refresh_token"' in stored and fake_sage.count("revoke") == 1
