"""What `list`, `get` and `export` print: Sage's money strings, safe CSV, links by name, tables
that fit, and output that streams (issue 23, points 3, 6, 7 and 8)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cli_support import ROOT, command, run, sandbox_env

from sage_accounting.testing import SageSandbox


@pytest.fixture(autouse=True)
def token_env(fake_sage: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SAGE_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("SAGE_ACCESS_TOKEN", fake_sage.issue_tokens()["access_token"])
    monkeypatch.setenv("SAGE_BASE_URL", fake_sage.base_url)


def test_json_keeps_the_money_strings_sage_sent(fake_sage: Any, tmp_path: Path) -> None:
    (contact_id,) = fake_sage.seed("contacts", 1, credit_limit=Decimal("278.70"))
    listed = run("list", "contacts", "--attributes", "credit_limit", "-f", "json")
    assert json.loads(listed.stdout)[0]["credit_limit"] == "278.70", listed.stdout
    lines = run("list", "contacts", "--attributes", "credit_limit", "-f", "jsonl").stdout
    assert json.loads(lines)["credit_limit"] == "278.70"
    shown = run("get", "contacts", contact_id, "-f", "json")
    assert json.loads(shown.stdout)["credit_limit"] == "278.70"
    target = tmp_path / "c.jsonl"
    assert run("export", "contacts", "--to", str(target), "--attributes", "credit_limit")
    assert json.loads(target.read_text())["credit_limit"] == "278.70"


FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)",
            "\tTabbed", "\rReturned"]  # fmt: skip


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(
    fake_sage: Any, tmp_path: Path
) -> None:
    for name in [*FORMULAS, "Plain Ltd"]:
        fake_sage.seed("contacts", 1, name=name, balance=Decimal("-430.00"), reference="-12.5")
    listed = run("list", "contacts", "--attributes", "name,balance,reference", "-f", "csv")
    target = tmp_path / "c.csv"
    run("export", "contacts", "--to", str(target), "--attributes", "name,balance,reference")
    for text in (listed.stdout, target.open(newline="").read()):
        rows = list(csv.DictReader(io.StringIO(text)))
        assert sorted(r["name"] for r in rows) == sorted(
            ["'" + f for f in FORMULAS] + ["Plain Ltd"]
        )
        assert {r["balance"] for r in rows} == {"-430.00"}  # numbers stay numbers
        assert {r["reference"] for r in rows} == {"-12.5"}  # and text that is a plain number


def test_links_show_by_displayed_as_and_csv_keeps_their_ids(tmp_path: Path) -> None:
    with SageSandbox() as sage:  # the demo business: invoices with statuses and contacts
        env = {"SAGE_ACCESS_TOKEN": sage.access_token, "SAGE_BASE_URL": sage.base_url}
        table = run("list", "sales-invoices", "--attributes", "status,contact", env=env)
        assert table.exit_code == 0, table.output
        assert "Unpaid" in table.stdout and '"displayed_as"' not in table.stdout
        as_csv = run("list", "sales-invoices", "--attributes", "status", "-f", "csv", env=env)
        rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
        assert {(r["status"], r["status.id"]) for r in rows} >= {("Unpaid", "UNPAID")}
        assert all(not r["status"].startswith("{") for r in rows)


def test_a_table_fits_the_terminal(tmp_path: Path) -> None:
    with SageSandbox() as sage:
        env = {"SAGE_ACCESS_TOKEN": sage.access_token, "SAGE_BASE_URL": sage.base_url}
        wide = run("list", "contacts", "--attributes", "all", env={**env, "COLUMNS": "100"})
        assert wide.exit_code == 0, wide.output
        assert max(len(x) for x in wide.stdout.splitlines()) <= 100
        assert wide.stdout.splitlines()[0].split()[:2] == ["id", "displayed_as"]
        assert "more columns than fit" in wide.stderr  # what was left out is said, not hidden


@pytest.mark.parametrize("fmt", ["csv", "table"])
def test_output_streams_and_a_closed_pipe_stops_the_fetch(
    fake_sage: Any, tmp_path: Path, fmt: str
) -> None:
    fake_sage.seed("contacts", 2000)  # ten pages of 200
    env = sandbox_env(fake_sage, tmp_path / "config")
    process = subprocess.Popen(
        command("list", "contacts", "-f", fmt),
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()  # `| head -1`
    process.stdout.close()
    assert process.wait(timeout=60) == 0
    assert first.split(",")[0].split()[0] == "id"
    assert process.stderr.read() == ""  # no traceback for the closed pipe
    assert fake_sage.count("GET /contacts") <= 2  # not the ten pages
