"""Files written all at once (``_runtime/_files.py``): downloads, the CLI's login, exports."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from sage_accounting._runtime._files import replacing, replacing_text, write_atomic


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_two_writers_at_once_leave_one_whole_file(tmp_path: Path) -> None:
    # The copies this replaced shared one temporary name per target (".NAME.part",
    # ".NAME.cursor.tmp", ".NAME.<pid>.tmp"): two writers wrote into one file.
    target = tmp_path / "out.bin"
    payloads = [bytes([n]) * 200_000 for n in range(8)]
    start = threading.Barrier(len(payloads))
    errors: list[BaseException] = []

    def write(payload: bytes) -> None:
        try:
            start.wait()
            with replacing(target) as out:
                for i in range(0, len(payload), 4096):
                    out.write(payload[i : i + 4096])
        except BaseException as exc:  # noqa: BLE001  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert target.read_bytes() in payloads
    assert leftovers(tmp_path) == []


def test_an_error_in_the_block_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "login.json"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt), replacing_text(target) as out:
        out.write("new, half")
        raise KeyboardInterrupt
    assert target.read_text() == "old"
    assert leftovers(tmp_path) == []


def test_private_files_are_the_owners_alone_from_the_start(tmp_path: Path) -> None:
    write_atomic(tmp_path / "app.json", '{"secret": "s"}', private=True)
    assert (tmp_path / "app.json").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "app.json").read_text() == '{"secret": "s"}'


def test_text_keeps_newlines_as_asked(tmp_path: Path) -> None:
    with replacing_text(tmp_path / "a.csv", newline="") as out:
        out.write("a,b\r\n1,2\r\n")
    assert (tmp_path / "a.csv").read_bytes() == b"a,b\r\n1,2\r\n"


def test_a_writer_killed_mid_write_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "export.csv"
    target.write_text("old,complete\n")
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from sage_accounting._runtime._files import replacing_text
        with replacing_text(Path({str(target)!r})) as out:
            out.write("new," * 10000)
            print("writing", flush=True)
            time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "writing\n"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert target.read_text() == "old,complete\n"
    # Only its own dot-file is left beside it, which no later writer reuses.
    left = leftovers(tmp_path)
    assert len(left) == 1 and left[0].startswith(".export.csv.") and left[0].endswith(".tmp")
    write_atomic(target, "next\n")
    assert target.read_text() == "next\n"
