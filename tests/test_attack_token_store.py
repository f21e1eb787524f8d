"""FileTokenStore attacked: symbolic links, files that are not files, a temporary file swapped
for a link, a store others can read. Each test failed before its fix."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

import pytest

from sage_accounting import FileTokenStore, TokenSet, TokenStoreError

PAIR = {"access_token": "AT-0123456789", "refresh_token": "RT-0123456789", "sequence": 1}


def write_pair(path: Path, **fields: object) -> Path:
    path.write_text(json.dumps({**PAIR, **fields}))
    path.chmod(0o600)
    return path


def test_a_token_file_that_is_a_symbolic_link_is_refused(tmp_path: Path) -> None:
    """Before: read through the link, then a save renamed a file over the link, so the real
    file kept the spent refresh token and the link's readers and the real file's readers used
    two locks and two grants (one of them dead). A link planted in a shared directory also
    handed the victim an attacker's tokens."""
    real = write_pair(tmp_path / "real.json")
    link = tmp_path / "tokens.json"
    link.symlink_to(real)
    store = FileTokenStore(link)
    with pytest.raises(TokenStoreError, match="symbolic link"):
        store.load()
    with pytest.raises(TokenStoreError, match="symbolic link"), store.lock():
        store.save(TokenSet("AT-new-0123", "RT-new-0123"))
    assert link.is_symlink() and json.loads(real.read_text())["access_token"] == "AT-0123456789"


def test_a_token_path_that_is_a_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    """Before: load() blocked forever on a FIFO (and read a device such as /dev/zero without
    end)."""
    path = tmp_path / "tokens.json"
    os.mkfifo(path)
    outcome: list[BaseException | None] = []

    def load() -> None:
        try:
            FileTokenStore(path).load()
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(5)
    assert not worker.is_alive(), "load() is blocked on the FIFO"
    assert isinstance(outcome[0], TokenStoreError) and "not a regular file" in str(outcome[0])


def test_a_temporary_file_swapped_for_a_link_is_not_written_through(tmp_path: Path) -> None:
    """The temporary file's name is predictable (pid and thread): a link put there between
    reserve() and save() made save() write the tokens into the link's target."""
    victim = tmp_path / "elsewhere" / "victim.txt"
    victim.parent.mkdir()
    victim.write_text("precious")
    path = write_pair(tmp_path / "tokens.json")
    store = FileTokenStore(path)
    with store.lock():
        store.reserve()
        temporary = store._temp_path()
        temporary.unlink()
        temporary.symlink_to(victim)
        with pytest.raises(TokenStoreError):
            store.save(TokenSet("AT-new-0123", "RT-new-0123"))
    assert victim.read_text() == "precious"
    assert not temporary.is_symlink()


def test_a_reservation_is_not_made_through_a_planted_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    store = FileTokenStore(write_pair(tmp_path / "tokens.json"))
    store._temp_path().symlink_to(victim)
    with pytest.raises(TokenStoreError, match="cannot write"):
        store.reserve()
    assert victim.read_text() == "precious"


def test_a_token_file_others_can_read_is_loaded_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_pair(tmp_path / "tokens.json")
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="sage_accounting"):
        tokens = FileTokenStore(path).load()
    assert tokens is not None and tokens.access_token == "AT-0123456789"
    assert any("readable by others" in r.getMessage() for r in caplog.records)
    assert all("AT-0123456789" not in r.getMessage() for r in caplog.records)


def test_a_private_token_file_loads_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_pair(tmp_path / "tokens.json")
    with caplog.at_level(logging.WARNING, logger="sage_accounting"):
        assert FileTokenStore(path).load() is not None
    assert not caplog.records


def test_ctrl_c_while_waiting_for_another_process_s_lock_leaves_the_store_usable(
    tmp_path: Path,
) -> None:
    """Before: a KeyboardInterrupt inside the blocking flock left the store's thread lock held
    (and the descriptor open), so the next call in that process (a notebook after an interrupt)
    waited forever."""
    import fcntl
    import signal

    path = write_pair(tmp_path / "tokens.json")
    store = FileTokenStore(path)
    other = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)  # another process's turn
    fcntl.flock(other, fcntl.LOCK_EX)
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt), store.lock():
            pass
    finally:
        timer.cancel()
        fcntl.flock(other, fcntl.LOCK_UN)
        os.close(other)
    taken: list[bool] = []

    def take() -> None:
        with store.lock():
            taken.append(True)

    worker = threading.Thread(target=take, daemon=True)
    worker.start()
    worker.join(5)
    assert taken == [True], "the store's lock is still held after the interrupt"
