"""Token stores: atomic, private, shared safely by processes; never lose or show a token."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from sage_accounting import FileTokenStore, MemoryTokenStore, TokenSet, TokenStoreError

ROOT = Path(__file__).resolve().parents[1]


def pair(n: int) -> TokenSet:
    # Realistic sizes: Sage's tokens can be 2 kB each.
    return TokenSet(
        f"access-{n}-" + "a" * 2000, f"refresh-{n}-" + "r" * 2000, expires_at=1_900_000_000.0 + n
    )


def test_file_store_round_trip_is_private(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "deep" / "tokens.json")
    assert store.load() is None
    with store.lock():
        store.save(pair(1))
    assert store.load() == pair(1)
    mode = stat.S_IMODE((tmp_path / "deep" / "tokens.json").stat().st_mode)
    assert mode == 0o600
    assert [p.name for p in (tmp_path / "deep").iterdir() if p.name.endswith(".tmp")] == []


def test_a_corrupt_store_is_an_error_not_an_empty_store(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text("{ not json")
    with pytest.raises(TokenStoreError, match="refusing to overwrite"):
        FileTokenStore(path).load()


def test_tokens_never_show_in_reprs(tmp_path: Path) -> None:
    tokens = pair(7)
    shown = (
        repr(tokens)
        + str(tokens)
        + repr(MemoryTokenStore(tokens))
        + repr(FileTokenStore(tmp_path / "t.json"))
    )
    assert tokens.access_token not in shown and (tokens.refresh_token or "") not in shown
    assert "***" in repr(tokens)


WRITER = textwrap.dedent("""
    import sys
    from sage_accounting import FileTokenStore, TokenSet
    store = FileTokenStore(sys.argv[1])
    n = 0
    print("ready", flush=True)
    while True:
        n += 1
        store.save(TokenSet(f"access-{n}-" + "a" * 2000, f"refresh-{n}-" + "r" * 2000,
                            expires_at=1_900_000_000.0 + n))
    """)


def test_sigkill_while_writing_leaves_the_old_pair_or_the_new_never_a_torn_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tokens.json"
    FileTokenStore(path).save(pair(0))
    seen: set[int] = set()
    for attempt in range(12):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE)
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        time.sleep(0.01 + attempt * 0.007)  # kill at a different point of the write loop each time
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        tokens = FileTokenStore(path).load()  # parses: a complete pair, old or new
        assert tokens is not None
        n = int(tokens.access_token.split("-")[1])
        assert tokens == TokenSet(
            f"access-{n}-" + "a" * 2000,
            f"refresh-{n}-" + "r" * 2000,
            expires_at=1_900_000_000.0 + n,
        )
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        seen.add(n)
    assert len(seen) > 1  # the writer really was writing when killed


REFRESHER = textwrap.dedent("""
    import sys
    from sage_accounting import FileTokenStore, OAuthApp, OAuthSession
    token_url, client_id, secret, path = sys.argv[1:5]
    app = OAuthApp(client_id, secret, "http://127.0.0.1/callback", token_url=token_url)
    session = OAuthSession(app, FileTokenStore(path))
    print("ready", flush=True)
    sys.stdin.readline()  # start together
    print(session.access_token(), flush=True)
    """)


def test_processes_sharing_a_file_store_refresh_once(tmp_path: Path, fake_sage: Any) -> None:
    path = tmp_path / "tokens.json"
    issued = fake_sage.issue_tokens()
    # Stored as expired a minute ago (the fake's clock is real time here).
    FileTokenStore(path).save(
        TokenSet(issued["access_token"], issued["refresh_token"], expires_at=time.time() - 60)
    )
    args = [
        fake_sage.token_url,
        fake_sage.state.client_id,
        fake_sage.state.client_secret,
        str(path),
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / r) for r in ("generated", "src"))}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", REFRESHER, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        for _ in range(6)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
    tokens = {proc.communicate(timeout=30)[0].decode().strip() for proc in procs}
    assert all(proc.returncode == 0 for proc in procs)
    assert fake_sage.count("refresh") == 1
    stored = json.loads(path.read_text())
    assert tokens == {stored["access_token"]}  # every process uses the one new pair


# -- a token file that is not one: TokenStoreError naming the file and the field -------------------


@pytest.mark.parametrize(
    ("content", "names"),
    [
        (b"\xff\xfe{\x00", "not UTF-8"),
        (b"{ not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),  # nested too deep for the parser
        (b'{"refresh_token": "r"}', "'access_token'"),
        (b'{"access_token": 12345}', "'access_token'"),
        (b'{"access_token": "a", "refresh_token": ["r"]}', "'refresh_token'"),
        (b'{"access_token": "a", "expires_at": "soon"}', "'expires_at'"),
        (b'{"access_token": "a", "expires_at": true}', "'expires_at'"),
        (b'{"access_token": "a", "refresh_token_expires_at": {}}', "'refresh_token_expires_at'"),
        (b'{"access_token": "a", "scope": 3}', "'scope'"),
        (b'{"access_token": "a", "sequence": "7"}', "'sequence'"),
    ],
)
def test_a_token_file_that_is_not_one_names_the_file_and_the_field(
    tmp_path: Path, content: bytes, names: str
) -> None:
    path = tmp_path / "tokens.json"
    path.write_bytes(content)
    with pytest.raises(TokenStoreError) as err:
        FileTokenStore(path).load()
    assert str(path) in str(err.value) and names in str(err.value)
    assert "refusing to overwrite" in str(err.value)
    assert path.read_bytes() == content  # left alone


def test_each_save_carries_a_sequence_one_higher(tmp_path: Path) -> None:
    store = store_holding(tmp_path / "tokens.json", pair(1), pair(2))
    assert json.loads((tmp_path / "tokens.json").read_text())["sequence"] == 2
    assert store.load() == pair(2)


# -- what a killed writer leaves behind, found by the next one to open the store ----------------


def store_holding(path: Path, *pairs: TokenSet) -> FileTokenStore:
    """A file store that has saved ``pairs`` in turn (under its lock, as sessions do)."""
    store = FileTokenStore(path)
    with store.lock():
        for tokens in pairs:
            store.save(tokens)
    return store


def leftover(path: Path, tag: str, content: bytes) -> Path:
    tmp = path.with_name(f".{path.name}.{tag}.tmp")
    tmp.write_bytes(content)
    return tmp


def file_content(tokens: TokenSet, sequence: int) -> bytes:
    return json.dumps({"sequence": sequence, **tokens.to_dict()}).encode()


def test_a_complete_newer_pair_left_before_its_rename_is_recovered(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    store_holding(path, pair(1))  # sequence 1
    tmp = leftover(path, "999.1", file_content(pair(2), 2))
    assert FileTokenStore(path).load() == pair(2)  # the next process opening the store
    assert not tmp.exists() and json.loads(path.read_text())["sequence"] == 2
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_intent_records_torn_and_stale_leftovers_are_removed_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "tokens.json"
    store_holding(path, pair(1), pair(2))  # sequence 2
    intent = leftover(path, "11.1", b'{"intent": "refresh", "pid": 11}')
    torn = leftover(path, "12.1", file_content(pair(3), 3)[:500])
    stale = leftover(path, "13.1", file_content(pair(0), 1))  # older than the token file
    store = FileTokenStore(path)
    with caplog.at_level("WARNING", logger="sage_accounting"), store.lock():
        assert store.load() == pair(2)
    assert not intent.exists() and not torn.exists() and not stale.exists()
    assert store.interrupted_save and "interrupted" in store.interrupted_save
    assert "interrupted" in caplog.text
    assert pair(3).access_token not in caplog.text  # the torn file's tokens are not shown


def test_a_failed_write_leaves_no_torn_file_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    path = tmp_path / "tokens.json"
    store = store_holding(path, pair(1))

    def disk_full(fd: int, data: Any) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", disk_full)
    with store.lock(), pytest.raises(TokenStoreError, match="No space left") as err:
        store.save(pair(2))
    monkeypatch.undo()
    assert isinstance(err.value.__cause__, OSError)
    assert str(path) in str(err.value)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert store.load() == pair(1)


def test_reserve_fails_before_anything_is_asked_when_the_directory_is_not_writable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    path = tmp_path / "tokens.json"
    store = store_holding(path, pair(1))
    real_open = os.open

    def read_only_dir(file: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_CREAT and not os.path.exists(file):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
        return real_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only_dir)
    with store.lock(), pytest.raises(TokenStoreError, match="cannot write in"):
        store.reserve()
    monkeypatch.undo()
    assert store.load() == pair(1)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
