"""`export` as a user meets it: interrupted for real, resumed, resumed wrongly (issue 23,
points 1 and 2). The interruptions are real: SIGINT to the command running as a process, and
the sandbox stopped under it."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cli_support import ROOT, command, one_error_line, run, sandbox_env

from sage_accounting.testing import Fault


@pytest.fixture(autouse=True)
def token_env(fake_sage: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SAGE_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("SAGE_ACCESS_TOKEN", fake_sage.issue_tokens()["access_token"])
    monkeypatch.setenv("SAGE_BASE_URL", fake_sage.base_url)


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file of the directory (hidden ones too: a left-over part file is a failure)."""
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def start_export(fake_sage: Any, tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command("export", "contacts", "--no-progress", *args),
        env=sandbox_env(fake_sage, tmp_path / "config"),
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_for(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the export never got that far"
        time.sleep(0.02)


def exported_once(fake_sage: Any, tmp_path: Path, fmt: str = "csv") -> Path:
    fake_sage.seed("contacts", 2000)
    out = tmp_path / "out"
    out.mkdir()
    target = out / f"contacts.{fmt}"
    result = run("export", "contacts", "--to", str(target), "--attributes", "name")
    assert result.exit_code == 0, result.output
    return target


@pytest.mark.parametrize("how", ["sigint", "server stopped"])
def test_an_interrupted_resume_leaves_the_file_and_cursor_as_they_were(
    fake_sage: Any, tmp_path: Path, how: str
) -> None:
    target = exported_once(fake_sage, tmp_path)
    before = snapshot(target.parent)
    # Every contact is newer than the cursor less its minute of overlap: ten pages again.
    fake_sage.inject(Fault.latency(0.15, times=1000, path="/contacts"))
    process = start_export(fake_sage, tmp_path, "--to", str(target), "--resume")
    requests = fake_sage.count("GET /contacts")
    wait_for(lambda: fake_sage.count("GET /contacts") >= requests + 3)
    if how == "sigint":
        process.send_signal(signal.SIGINT)  # Ctrl-C
    else:
        fake_sage.stop()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == (130 if how == "sigint" else 4), stderr
    assert stderr.strip().splitlines()[-1].startswith("error: ")
    assert "Traceback" not in stderr
    assert snapshot(target.parent) == before  # file, cursor, no deleted list, no part file


def test_an_interrupted_full_export_keeps_the_previous_file(fake_sage: Any, tmp_path: Path) -> None:
    target = exported_once(fake_sage, tmp_path, "jsonl")
    before = snapshot(target.parent)
    fake_sage.inject(Fault.latency(0.15, times=1000, path="/contacts"))
    process = start_export(fake_sage, tmp_path, "--to", str(target), "--attributes", "all")
    requests = fake_sage.count("GET /contacts")
    wait_for(lambda: fake_sage.count("GET /contacts") >= requests + 3)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    assert process.returncode == 130
    assert snapshot(target.parent) == before


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_resumed_export_holds_each_record_once_as_it_now_stands(
    fake_sage: Any, tmp_path: Path, fmt: str
) -> None:
    ids = fake_sage.seed("contacts", 3)
    target = tmp_path / f"contacts.{fmt}"
    assert run("export", "contacts", "--to", str(target), "--attributes", "name").exit_code == 0
    fake_sage.clock.advance(30)  # within the cursor's minute of overlap: all three come again
    fake_sage.client().contacts.update(ids[1], contact={"name": "Renamed Ltd"})
    fake_sage.delete_record("contacts", ids[2])
    (new_id,) = fake_sage.seed("contacts", 1, name="New Ltd")
    for _ in range(2):  # a second resume with nothing new changes nothing
        resumed = run("export", "contacts", "--to", str(target), "--resume")
        assert resumed.exit_code == 0, resumed.output
        if fmt == "jsonl":
            rows = [json.loads(x) for x in target.read_text().splitlines()]
        else:
            lines = target.read_text().splitlines()
            rows = [dict(zip(lines[0].split(","), x.split(","), strict=True)) for x in lines[1:]]
        assert [(r["id"], r["name"]) for r in rows] == [
            (ids[0], "biz-lead contacts 0"),
            (ids[1], "Renamed Ltd"),
            (new_id, "New Ltd"),
        ]
        deleted = (tmp_path / f"contacts.deleted.{fmt}").read_text().splitlines()
        assert len(deleted) == (2 if fmt == "csv" else 1) and ids[2] in deleted[-1]


def test_a_resume_with_other_filters_is_refused_naming_both(fake_sage: Any, tmp_path: Path) -> None:
    fake_sage.seed("contacts", 3)
    target = tmp_path / "contacts.csv"
    assert run("export", "contacts", "--to", str(target), "--attributes", "credit_limit")
    before, requests = snapshot(tmp_path), fake_sage.count("GET /contacts")
    other = run("export", "contacts", "--to", str(target), "--resume", "--attributes", "name")
    line = one_error_line(other)
    assert other.exit_code == 2
    assert "--attributes credit_limit" in line and "--attributes name" in line
    assert snapshot(tmp_path) == before and fake_sage.count("GET /contacts") == requests
    same = run(
        "export", "contacts", "--to", str(target), "--resume", "--attributes", "credit_limit"
    )
    assert same.exit_code == 0, same.output


@pytest.mark.parametrize("when", ["2026-01-31T09:00:00", "yesterday", 12, None])
def test_a_cursor_file_whose_time_is_not_one_the_export_writes_is_refused(
    fake_sage: Any, tmp_path: Path, when: Any
) -> None:
    """The export writes its cursor in UTC with its zone; a time without one (edited by hand)
    was taken as the poll's ``since`` and refused as "since: must be a timezone-aware
    datetime", naming an option the user never passed."""
    fake_sage.seed("contacts", 3)
    target = tmp_path / "contacts.csv"
    assert run("export", "contacts", "--to", str(target)).exit_code == 0
    cursor = target.with_name(target.name + ".cursor")
    saved = json.loads(cursor.read_text(encoding="utf-8"))
    cursor.write_text(json.dumps({**saved, "cursor": when}), encoding="utf-8")
    before, requests = snapshot(tmp_path), fake_sage.count("GET /contacts")
    result = run("export", "contacts", "--to", str(target), "--resume")
    assert result.exit_code == 2
    assert one_error_line(result) == f"error: --resume: {cursor} is not a cursor file"
    assert snapshot(tmp_path) == before and fake_sage.count("GET /contacts") == requests
