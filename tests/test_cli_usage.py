"""Mistakes at the command line: one line in the user's words, exit 2, nothing sent (issue 23,
points 9 and 10)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from cli_support import one_error_line, run, run_process, sandbox_env


@pytest.fixture(autouse=True)
def token_env(fake_sage: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SAGE_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("SAGE_ACCESS_TOKEN", fake_sage.issue_tokens()["access_token"])


def test_base_url_works_after_the_subcommand_too(fake_sage: Any) -> None:
    fake_sage.seed("contacts", 2)
    listed = run("list", "contacts", "--base-url", fake_sage.base_url, "-f", "jsonl")
    assert listed.exit_code == 0, listed.output
    assert len(listed.stdout.splitlines()) == 2
    assert run("businesses", "--base-url", fake_sage.base_url).exit_code == 0
    assert run("whoami", "--base-url", fake_sage.base_url, "-f", "json").exit_code == 0
    (contact_id,) = fake_sage.seed("contacts", 1)
    got = run("get", "contacts", contact_id, "--base-url", fake_sage.base_url, "-f", "json")
    assert json.loads(got.stdout)["id"] == contact_id


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["list", "contacts", "--limit", "10^23"], ["'10^23' is not a valid integer", "--limit"]),
        (["list", "contacts", "--limit", "1" + "0" * 23], ["--limit", "range"]),
        (["list", "contacts", "--nope"], ["No such option '--nope'", "list contacts --help"]),
        (["sandbox", "--port", "70000"], ["--port", "70000", "0<=x<=65535"]),
        (["sandbox", "--token-hours", "-1"], ["--token-hours", "-1"]),
        (["mcp", "--policy", "p.toml", "--http", "--port", "70000"], ["--port", "70000"]),
        (["list", "sales-invoices", "--from-date", "2026-13-01"],
         ["--from-date", "'2026-13-01' is not", "YYYY-MM-DD"]),
        (["list", "contacts", "--updated-or-created-since", "yesterday"],
         ["--updated-or-created-since", "'yesterday' is not a date and time", "2026-01-31T09:00"]),
        (["export", "contacts", "--to", "c.csv", "--since", "2026-11-01T00:00"],
         ["--since", "'2026-11-01T00:00' has no time zone", "2026-11-01T00:00Z"]),
        (["export", "contacts", "--to", "no/such/dir/c.csv"], ["no directory no/such/dir"]),
    ],
)  # fmt: skip
def test_each_mistake_is_one_line_and_exit_2_before_any_request(
    fake_sage: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    args: list[str],
    words: list[str],
) -> None:
    monkeypatch.setenv("SAGE_BASE_URL", fake_sage.base_url)
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    line = one_error_line(result)
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for word in words:
        assert word in line
    assert sum(fake_sage.count(f"GET {p}") for p in ("/contacts", "/sales_invoices")) == 0
    assert not list(tmp_path.glob("*.csv*")) and not list(tmp_path.glob(".*part"))


def busy_port() -> tuple[socket.socket, int]:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    return taken, taken.getsockname()[1]


EXAMPLE_POLICY = Path(__file__).resolve().parents[1] / "examples" / "agents" / "policy.toml"


def test_a_busy_port_is_one_line_for_the_sandbox_and_mcp(fake_sage: Any, tmp_path: Path) -> None:
    taken, port = busy_port()
    env = sandbox_env(fake_sage, tmp_path / "config")
    # A copy: the server opens its audit database beside the policy, never in the repository.
    policy = tmp_path / "policy.toml"
    policy.write_text(EXAMPLE_POLICY.read_text())
    beside = set(EXAMPLE_POLICY.parent.iterdir())
    try:
        sandbox = run_process("sandbox", "--port", str(port), env=env)
        # A policy the server can serve (the app's id and secret), on a port that is taken.
        app = {"SAGE_CLIENT_ID": "id", "SAGE_CLIENT_SECRET": "secret"}
        mcp = run_process(
            "mcp", "--policy", str(policy), "--http", "--port", str(port), env={**env, **app}
        )
    finally:
        taken.close()
    for result in (sandbox, mcp):
        assert result.returncode == 2, result.stderr
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("error: ") and f"127.0.0.1:{port}" in line and "in use" in line
    assert (tmp_path / "audit.sqlite").exists()
    assert set(EXAMPLE_POLICY.parent.iterdir()) == beside


def test_the_repository_holds_no_database_a_run_writes() -> None:
    """An audit database beside the example policy is what a run left there, not an example."""
    import subprocess

    root = EXAMPLE_POLICY.parents[2]
    tracked = subprocess.run(
        ["git", "ls-files", "*.sqlite", "*.sqlite-wal", "*.sqlite-shm", "*.db"],
        cwd=root, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert tracked == []


def test_a_dead_server_names_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()  # nothing listens there now
    result = run("--base-url", f"http://127.0.0.1:{port}/v3.1", "businesses")
    line = one_error_line(result)
    assert result.exit_code == 4
    assert f"cannot reach 127.0.0.1:{port}" in line and "refused" in line.lower()
