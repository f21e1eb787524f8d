"""The `sage-accounting` command line, with click's CliRunner against the fake Sage server."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
import webbrowser
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from sage_accounting.cli import _plugins
from sage_accounting.cli._app import cli


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A config directory of the test's own, and no SAGE_* from the machine."""
    for name in list(os.environ):
        if name.startswith("SAGE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SAGE_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path / "config"


@pytest.fixture
def token_env(fake_sage: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAGE_ACCESS_TOKEN", fake_sage.issue_tokens()["access_token"])
    monkeypatch.setenv("SAGE_BASE_URL", fake_sage.base_url)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def one_error_line(result: Result) -> str:
    """The error: one line, the last on stderr (login prints its URL before)."""
    lines = result.stderr.strip().splitlines()
    errors = [x for x in lines if x.startswith("error: ")]
    assert errors == lines[-1:], result.stderr
    return errors[0]


# -- login, whoami, logout ---------------------------------------------------------------------------


def browser_driving(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """``webbrowser.open`` replaced by a browser: httpx follows the authorize URL's redirect to
    the command's callback server, from another thread as a browser would."""
    statuses: list[int] = []

    def open_url(url: str, *args: Any, **kwargs: Any) -> bool:
        def browse() -> None:
            statuses.append(httpx.get(url, follow_redirects=True, timeout=5).status_code)

        threading.Thread(target=browse, daemon=True).start()
        return True

    monkeypatch.setattr(webbrowser, "open", open_url)
    return statuses


def login(fake_sage: Any, *extra: str) -> Result:
    return run(
        "--base-url", fake_sage.base_url, "login",
        "--redirect-uri", "http://127.0.0.1:0/callback",
        "--authorize-url", fake_sage.authorize_url,
        "--token-url", fake_sage.token_url,
        "--revoke-url", fake_sage.revoke_url,
        "--timeout", "10", *extra,
    )  # fmt: skip


def test_login_end_to_end_then_whoami_and_logout(
    fake_sage: Any, monkeypatch: pytest.MonkeyPatch, isolated: Path
) -> None:
    statuses = browser_driving(monkeypatch)
    monkeypatch.setenv("SAGE_CLIENT_ID", fake_sage.state.client_id)
    monkeypatch.setenv("SAGE_CLIENT_SECRET", fake_sage.state.client_secret)

    result = login(fake_sage)
    assert result.exit_code == 0, result.output
    deadline = time.monotonic() + 10  # the page comes once the tokens are kept: then we return
    while not statuses and time.monotonic() < deadline:
        time.sleep(0.01)
    assert statuses == [200]  # the browser saw the callback page
    assert fake_sage.count("exchange") == 1  # the code (PKCE-checked by the fake) was exchanged
    assert "code_challenge_method=S256" in result.stderr
    for name in ("tokens.json", "app.json"):
        assert stat.S_IMODE((isolated / name).stat().st_mode) == 0o600
    assert stat.S_IMODE(isolated.stat().st_mode) == 0o700
    assert fake_sage.state.client_secret not in result.output

    monkeypatch.delenv("SAGE_CLIENT_SECRET")  # later commands use the saved login only
    whoami = run("whoami", "--format", "json")
    assert whoami.exit_code == 0, whoami.output
    assert json.loads(whoami.stdout)["displayed_as"] == "Sam Sandbox"  # the sandbox's user

    logout = run("logout")
    assert logout.exit_code == 0 and fake_sage.count("revoke") == 1
    assert not (isolated / "tokens.json").exists() and not (isolated / "app.json").exists()
    again = run("whoami")
    assert again.exit_code == 3 and "not logged in" in one_error_line(again)


def test_login_without_an_answer_times_out_with_exit_3(fake_sage: Any) -> None:
    result = run(
        "login", "--no-browser", "--client-id", "x", "--client-secret", "y" * 12,
        "--redirect-uri", "http://127.0.0.1:0/callback", "--timeout", "0.3",
    )  # fmt: skip
    assert result.exit_code == 3
    assert "no answer from the browser within 0.3 s" in one_error_line(result)
    assert "https://www.sageone.com/oauth2/auth/central" in result.stderr  # the URL was printed


def test_login_needs_the_client_secret_and_a_loopback_redirect() -> None:
    result = run("login", "--client-id", "x", "--no-browser")
    assert result.exit_code == 2 and "SAGE_CLIENT_SECRET" in one_error_line(result)
    result = run(
        "login", "--client-id", "x", "--client-secret", "y" * 12,
        "--redirect-uri", "https://example.com/cb",
    )  # fmt: skip
    assert result.exit_code == 2 and "127.0.0.1" in one_error_line(result)


# -- list and get -----------------------------------------------------------------------------------


def test_list_prints_money_exactly_in_every_format(fake_sage: Any, token_env: None) -> None:
    fake_sage.seed("contacts", 2, credit_limit=Decimal("1234.50"), balance=Decimal("0.10"))
    as_json = run("list", "contacts", "--attributes", "credit_limit,balance", "-f", "json")
    assert as_json.exit_code == 0, as_json.output
    # Sage's money strings stay strings: a JSON reader loading 1234.50 as a number gets 1234.5.
    assert '"credit_limit":"1234.50"' in as_json.stdout and '"balance":"0.10"' in as_json.stdout
    assert len(json.loads(as_json.stdout)) == 2
    as_jsonl = run("list", "contacts", "--attributes", "credit_limit", "-f", "jsonl")
    assert [json.loads(x)["id"] for x in as_jsonl.stdout.splitlines()] == sorted(
        fake_sage.records("contacts")
    )
    as_csv = run("list", "contacts", "--attributes", "credit_limit,balance", "-f", "csv")
    lines = as_csv.stdout.splitlines()
    assert lines[0] == "id,displayed_as,credit_limit,balance,$path"
    assert lines[1].split(",")[2:4] == ["1234.50", "0.10"]
    table = run("list", "contacts", "--attributes", "credit_limit")
    assert table.stdout.splitlines()[0].split() == ["id", "displayed_as", "credit_limit", "$path"]
    assert "1234.50" in table.stdout


def test_list_walks_pages_and_limit_stops_early(fake_sage: Any, token_env: None) -> None:
    fake_sage.seed("contacts", 450)
    everything = run("list", "contacts", "-f", "jsonl")
    assert len(everything.stdout.splitlines()) == 450
    assert fake_sage.count("GET /contacts") == 3  # pages of 200
    limited = run("list", "contacts", "-f", "jsonl", "--limit", "3")
    assert len(limited.stdout.splitlines()) == 3 and fake_sage.count("GET /contacts") == 4


def test_filters_are_options_from_the_spec(fake_sage: Any, token_env: None) -> None:
    fake_sage.seed("contacts", 3)
    later = run(
        "list", "contacts", "-f", "jsonl", "--updated-or-created-since", "2999-01-01T00:00:00Z"
    )
    assert later.exit_code == 0 and later.stdout == ""
    naive = run("list", "contacts", "--updated-or-created-since", "2026-01-01T00:00:00")
    assert naive.exit_code == 2 and "has no time zone" in one_error_line(naive)
    assert fake_sage.count("GET /contacts") == 1  # the wrong one never reached Sage
    help_text = run("list", "sales-invoices", "--help").stdout
    assert "--contact-id" in help_text and "--status-id" in help_text and "--page " not in help_text


def test_business_option_and_its_errors(fake_sage: Any, token_env: None) -> None:
    fake_sage.seed("contacts", 1, business="biz-second")
    second = run(
        "list", "contacts", "-b", "biz-second", "-f", "jsonl", "--attributes", "business_id"
    )
    assert [json.loads(x)["business_id"] for x in second.stdout.splitlines()] == ["biz-second"]
    nope = run("list", "contacts", "-b", "biz-nope")
    line = one_error_line(nope)
    assert nope.exit_code == 1 and "403" in line and "BusinessNotFound" in line
    assert "request " in line and "roles" not in line


def test_get_one_record_and_a_missing_one(fake_sage: Any, token_env: None) -> None:
    (contact_id,) = fake_sage.seed("contacts", 1, credit_limit=Decimal("99.90"))
    shown = run("get", "contacts", contact_id, "-f", "json")
    assert shown.exit_code == 0 and json.loads(shown.stdout)["id"] == contact_id
    assert '"credit_limit":"99.90"' in shown.stdout
    table = run("get", "contacts", contact_id)
    assert any(x.split() == ["credit_limit", "99.90"] for x in table.stdout.splitlines())
    missing = run("get", "contacts", "con-nope")
    line = one_error_line(missing)
    assert missing.exit_code == 1 and "404 on GET /contacts/con-nope" in line and "request" in line


def test_unknown_resource_is_a_usage_error() -> None:
    result = run("list", "no-such-thing")
    assert result.exit_code == 2 and "no resource 'no-such-thing'" in result.stderr


def test_not_logged_in_and_unreachable_have_their_exit_codes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert run("businesses").exit_code == 3
    monkeypatch.setenv("SAGE_ACCESS_TOKEN", "some-token-123456")
    unreachable = run("--base-url", "http://127.0.0.1:9/v3.1", "businesses")
    assert unreachable.exit_code == 4 and "GET /businesses" in one_error_line(unreachable)
    assert "some-token-123456" not in unreachable.output


def test_help_documents_exit_codes() -> None:
    text = run("--help").stdout
    assert "Exit codes: 0 success; 1 Sage answered with an error; 2 usage error; 3" in text


# -- export -----------------------------------------------------------------------------------------


def test_export_csv_then_resume_from_the_cursor(
    fake_sage: Any, token_env: None, tmp_path: Path
) -> None:
    ids = fake_sage.seed("contacts", 450, credit_limit=Decimal("10.05"))
    target = tmp_path / "contacts.csv"
    full = run("export", "contacts", "--to", str(target), "--attributes", "credit_limit")
    assert full.exit_code == 0, full.output
    assert "exported 450 contacts" in full.stderr and "cursor in contacts.csv.cursor" in full.stderr
    rows = target.read_text().splitlines()
    assert rows[0] == "id,displayed_as,credit_limit,$path" and len(rows) == 451
    assert rows[1].split(",")[2] == "10.05"
    cursor = json.loads((tmp_path / "contacts.csv.cursor").read_text())
    assert cursor["resource"] == "contacts" and cursor["query"] == {"attributes": "credit_limit"}

    fake_sage.clock.advance(120)  # two minutes later: one new contact, one deleted
    (new_id,) = fake_sage.seed("contacts", 1, credit_limit=Decimal("7.00"))
    fake_sage.delete_record("contacts", ids[0])
    resumed = run("export", "contacts", "--to", str(target), "--resume")
    assert resumed.exit_code == 0, resumed.output
    rows = target.read_text().splitlines()
    # The file is the resource as it now stands: the deleted contact gone, the new one last,
    # each record once (the cursor errs early, so the minute-old ones came again).
    assert rows[0] == "id,displayed_as,credit_limit,$path" and len(rows) == 451
    assert rows[-1] == f"{new_id},biz-lead contacts 0,7.00,/contacts/{new_id}"
    assert not any(r.startswith(ids[0]) for r in rows)
    assert len({r.split(",")[0] for r in rows[1:]}) == 450
    deleted = (tmp_path / "contacts.deleted.csv").read_text().splitlines()
    assert deleted[0] == "id,deleted_at" and deleted[1].startswith(ids[0] + ",")


def test_export_jsonl_and_its_usage_errors(fake_sage: Any, token_env: None, tmp_path: Path) -> None:
    fake_sage.seed("contacts", 5)
    target = tmp_path / "c.jsonl"
    assert run("export", "contacts", "--to", str(target)).exit_code == 0
    assert len(target.read_text().splitlines()) == 5
    assert run("export", "contacts", "--to", str(tmp_path / "c.txt")).exit_code == 2
    no_cursor = run("export", "contacts", "--to", str(tmp_path / "other.csv"), "--resume")
    assert no_cursor.exit_code == 2 and "no cursor" in one_error_line(no_cursor)
    no_feed = run(
        "export", "countries", "--to", str(tmp_path / "x.csv"), "--since", "2026-01-01T00:00:00Z"
    )
    assert no_feed.exit_code == 2 and "no change feed" in one_error_line(no_feed)


def test_a_failed_export_keeps_the_previous_file_and_writes_no_cursor(
    fake_sage: Any, token_env: None, tmp_path: Path
) -> None:
    from sage_accounting.testing import Fault

    fake_sage.seed("contacts", 450)
    target = tmp_path / "c.jsonl"
    target.write_text("previous\n")
    fake_sage.inject(Fault(status=400, path="/contacts", times=1))
    result = run("export", "contacts", "--to", str(target))
    assert result.exit_code == 1 and "400 on GET /contacts" in one_error_line(result)
    assert target.read_text() == "previous\n" and list(tmp_path.glob(".*part")) == []
    assert not (tmp_path / "c.jsonl.cursor").exists()


# -- other parts' commands, and the missing extra ----------------------------------------------------


def test_plugins_absent_present_or_missing_their_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    package = tmp_path / "plugpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "good.py").write_text(
        "import click\n@click.command()\ndef hello():\n    click.echo('hello from plugin')\n"
        "COMMANDS = [hello]\n"
    )
    (package / "needy.py").write_text("import not_installed_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(
        _plugins,
        "PLUGINS",
        (
            _plugins.Plugin("plugpkg.good", "COMMANDS", ("hello",), "x"),
            _plugins.Plugin("plugpkg.needy", "COMMANDS", ("needy",), "fancy"),
            _plugins.Plugin("plugpkg.absent", "sandbox", ("absent",), "cli"),
        ),
    )
    assert run("hello").stdout == "hello from plugin\n"
    needy = run("needy", "--whatever")
    assert needy.exit_code == 5
    assert "pip install 'sage-accounting[fancy]'" in one_error_line(needy)
    assert "not_installed_dependency_xyz" in needy.stderr
    listed = run("--help").stdout
    assert "hello" in listed and "needy" in listed and "absent" not in listed
    assert run("absent").exit_code == 2


def test_the_real_plugin_modules_are_either_absent_or_load() -> None:
    for plugin in _plugins.PLUGINS:
        commands = _plugins.load(plugin)
        assert commands is None or {c.name for c in commands} <= set(plugin.names)


def test_without_click_the_console_script_says_what_to_install() -> None:
    code = "import sys; sys.modules['click'] = None; from sage_accounting.cli import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 5
    assert result.stderr.strip() == (
        "sage-accounting: the command line needs the [cli] extra: "
        "pip install 'sage-accounting[cli]'"
    )
