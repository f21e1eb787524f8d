"""The fault matrix, OAuth and token-store rows: expired token, 401 replay, dead grant, a store
that cannot be written, and a process killed during a refresh.

Each row runs against the ``fake_sage`` fixture (real HTTP on 127.0.0.1, rotating single-use
refresh tokens, a controllable clock) and asserts the outcome (success or the exact
``SageError`` subclass), how many requests reached the token endpoint, that no secret is in the
logs, reprs or exception text, and that the row finishes in bounded time (a SIGALRM guard).

Filesystem faults are real where they can be (a read-only directory when not running as root)
and otherwise simulated at the ``os`` calls the store makes, with the errno the kernel gives:
EACCES (read-only directory, permission denied), ENOSPC (disk full).
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sage_accounting import (
    FileTokenStore,
    OAuthApp,
    OAuthSession,
    ReauthorizationRequired,
    SageAccounting,
    TokenSet,
    TokenStoreError,
)

ROOT = Path(__file__).resolve().parents[2]
ROW_SECONDS = 20


@pytest.fixture(autouse=True)
def bounded_row() -> Iterator[None]:
    """No row may hang: the alarm turns a hang into a failure."""

    def hung(*_: object) -> None:
        raise TimeoutError(f"fault-matrix row took more than {ROW_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(ROW_SECONDS)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def token_requests(fake_sage: Any) -> int:
    """Every request that reached the token endpoint (exchanges, refreshes, faulted or not)."""
    return int(fake_sage.count("POST /token"))


def assert_no_secret(fake_sage: Any, *texts: object) -> None:
    state = fake_sage.state
    secrets = [state.client_secret, *state.access_tokens, *state.refresh_tokens]
    shown = "\n".join(str(t) for t in texts)
    for secret in secrets:
        assert secret not in shown


def shown(error: BaseException | None, *objects: object) -> list[str]:
    """What a user can see: the exception's text and repr (and its causes'), and reprs."""
    texts = [repr(o) for o in objects]
    while error is not None:
        texts += [str(error), repr(error)]
        error = error.__cause__ or error.__context__
    return texts


def client_for(fake_sage: Any, session: OAuthSession) -> SageAccounting:
    return SageAccounting(session=session, base_url=fake_sage.base_url)


def issued(fake_sage: Any) -> TokenSet:
    return TokenSet.from_response(fake_sage.issue_tokens(), fake_sage.clock.now())


def file_session(fake_sage: Any, app: OAuthApp, path: Path) -> OAuthSession:
    return OAuthSession(app, FileTokenStore(path), tokens=issued(fake_sage))


def store_in_a_directory(
    fake_sage: Any, app: OAuthApp, tmp_path: Path
) -> tuple[Path, OAuthSession, SageAccounting]:
    """A file store in a directory of its own (the one faults are injected into), a session on
    a freshly issued pair in it, and a client."""
    path = tmp_path / "store" / "tokens.json"
    session = file_session(fake_sage, app, path)
    return path, session, client_for(fake_sage, session)


def stored(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


# -- expired token, 401 replay, dead grant --------------------------------------------------------


def test_expired_token_one_refresh_then_success(
    fake_sage: Any, oauth_app: OAuthApp, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    session = file_session(fake_sage, oauth_app, tmp_path / "tokens.json")
    client = client_for(fake_sage, session)
    fake_sage.clock.advance(301)
    with caplog.at_level("DEBUG", logger="sage_accounting"):
        assert client.user.get().id == "user-1"
        assert client.user.get().id == "user-1"
    assert token_requests(fake_sage) == 1
    assert fake_sage.count("GET /user") == 2  # refreshed before the call: no 401 on the way
    assert stored(tmp_path / "tokens.json")["sequence"] == 2
    assert_no_secret(fake_sage, caplog.text, *shown(None, session, client, session.store))


def test_401_replay_exactly_one_refresh_and_one_replay(
    fake_sage: Any, oauth_app: OAuthApp, caplog: pytest.LogCaptureFixture
) -> None:
    tokens = issued(fake_sage)
    # The session believes the token is good (clock skew): Sage answers 401.
    session = OAuthSession(
        oauth_app, tokens=TokenSet(tokens.access_token, tokens.refresh_token, expires_at=0)
    )
    fake_sage.clock.advance(301)
    with caplog.at_level("DEBUG", logger="sage_accounting"):
        assert client_for(fake_sage, session).user.get().id == "user-1"
    assert token_requests(fake_sage) == 1
    assert fake_sage.count("GET /user") == 2  # the 401 and its one replay
    assert_no_secret(fake_sage, caplog.text, *shown(None, session))


def test_dead_grant_raises_reauthorization_required_without_looping(
    fake_sage: Any, oauth_app: OAuthApp, caplog: pytest.LogCaptureFixture
) -> None:
    tokens = issued(fake_sage)
    oauth_app.refresh(tokens.refresh_token or "")  # spent elsewhere: dead now
    session = OAuthSession(oauth_app, tokens=tokens)
    fake_sage.clock.advance(301)
    with caplog.at_level("DEBUG", logger="sage_accounting"):
        with pytest.raises(ReauthorizationRequired) as err:
            client_for(fake_sage, session).user.get()
        with pytest.raises(ReauthorizationRequired):
            client_for(fake_sage, session).user.get()
    # The test's own, then one for the first call; the second is refused without a request
    # (the refresh token Sage answered invalid_grant to is never sent again).
    assert token_requests(fake_sage) == 2
    assert fake_sage.count("GET /user") == 0
    assert_no_secret(fake_sage, caplog.text, *shown(err.value, session))


# -- store write failures -------------------------------------------------------------------------


class FileSystemFaults:
    """Fails the ``os`` calls the file store makes inside ``directory``, as the kernel would."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
        self.directory = str(directory)
        self.kind: str | None = None
        self._fds: set[int] = set()
        real_open, real_write, real_replace = os.open, os.write, os.replace

        def inside(path: str | os.PathLike[str]) -> bool:
            return os.path.dirname(os.path.abspath(os.fspath(path))) == self.directory

        def fake_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            if self.kind == "read-only directory" and inside(path) and flags & os.O_CREAT:
                if not os.path.exists(path):  # new entries cannot be made; old files open
                    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
            fd = real_open(path, flags, *args, **kwargs)
            if inside(path):
                self._fds.add(fd)
            return fd

        def fake_write(fd: int, data: Any) -> int:
            if self.kind == "disk full" and fd in self._fds:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real_write(fd, data)

        def fake_replace(src: Any, dst: Any) -> None:
            if self.kind in ("permission denied", "read-only directory") and inside(dst):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(dst))
            real_replace(src, dst)

        monkeypatch.setattr(os, "open", fake_open)
        monkeypatch.setattr(os, "write", fake_write)
        monkeypatch.setattr(os, "replace", fake_replace)


@pytest.fixture
def fs_faults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FileSystemFaults:
    return FileSystemFaults(monkeypatch, tmp_path / "store")


def make_read_only(directory: Path, faults: FileSystemFaults) -> Callable[[], None]:
    """A read-only directory: real permissions when they bind us, else simulated. Returns undo."""
    if os.geteuid() != 0:
        directory.chmod(0o555)
        return lambda: directory.chmod(0o755)
    faults.kind = "read-only directory"

    def undo() -> None:
        faults.kind = None

    return undo


def test_read_only_directory_fails_before_the_token_endpoint_and_keeps_the_grant(
    fake_sage: Any,
    oauth_app: OAuthApp,
    tmp_path: Path,
    fs_faults: FileSystemFaults,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path, session, client = store_in_a_directory(fake_sage, oauth_app, tmp_path)
    grant = stored(path)["refresh_token"]
    fake_sage.clock.advance(301)
    undo = make_read_only(path.parent, fs_faults)
    with caplog.at_level("DEBUG", logger="sage_accounting"):
        with pytest.raises(TokenStoreError, match="cannot write in") as err:
            client.user.get()
        assert token_requests(fake_sage) == 0  # Sage was not asked: the stored grant is intact
        assert stored(path)["refresh_token"] == grant
        with pytest.raises(TokenStoreError):  # still read-only: still no refresh, no reauth
            client.user.get()
        assert token_requests(fake_sage) == 0
        undo()
        assert client.user.get().id == "user-1"  # the grant was never lost
    assert token_requests(fake_sage) == 1 and stored(path)["refresh_token"] != grant
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []
    assert_no_secret(fake_sage, caplog.text, *shown(err.value, session, session.store))


def fill_disk_while_sage_answers(app: OAuthApp, faults: FileSystemFaults) -> None:
    """The disk fills up between the reservation and the save: after Sage rotated the grant."""
    real_refresh = app.refresh

    def refresh(refresh_token: str) -> TokenSet:
        new = real_refresh(refresh_token)
        faults.kind = "disk full"
        return new

    app.refresh = refresh  # type: ignore[method-assign]


def test_disk_full_after_the_refresh_keeps_working_from_memory_then_saves(
    fake_sage: Any,
    oauth_app: OAuthApp,
    tmp_path: Path,
    fs_faults: FileSystemFaults,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path, session, client = store_in_a_directory(fake_sage, oauth_app, tmp_path)
    fake_sage.clock.advance(301)
    fill_disk_while_sage_answers(oauth_app, fs_faults)
    with caplog.at_level("DEBUG", logger="sage_accounting"):
        with pytest.raises(TokenStoreError, match="No space left") as err:
            client.user.get()
        assert isinstance(err.value.__cause__, TokenStoreError)
        assert isinstance(err.value.__cause__.__cause__, OSError)
        assert token_requests(fake_sage) == 1
        assert client.user.get().id == "user-1"  # from memory: no refresh, no reauth
        assert token_requests(fake_sage) == 1 and session.unsaved
        fs_faults.kind = None  # space again
        assert client.user.get().id == "user-1"
    assert token_requests(fake_sage) == 1 and not session.unsaved
    saved = stored(path)
    assert saved["sequence"] == 2
    assert saved["refresh_token"] in fake_sage.state.refresh_tokens
    assert saved["refresh_token"] not in fake_sage.state.used_refresh_tokens  # the live one
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []
    assert_no_secret(fake_sage, caplog.text, *shown(err.value, session, session.store))


def test_disk_full_before_the_refresh_fails_before_the_token_endpoint(
    fake_sage: Any, oauth_app: OAuthApp, tmp_path: Path, fs_faults: FileSystemFaults
) -> None:
    path, session, _ = store_in_a_directory(fake_sage, oauth_app, tmp_path)
    fake_sage.clock.advance(301)
    fs_faults.kind = "disk full"
    with pytest.raises(TokenStoreError, match="No space left") as err:
        client_for(fake_sage, session).user.get()
    assert token_requests(fake_sage) == 0
    fs_faults.kind = None
    assert client_for(fake_sage, session).user.get().id == "user-1"
    assert token_requests(fake_sage) == 1
    assert_no_secret(fake_sage, *shown(err.value, session))


def test_permission_denied_on_the_rename_another_process_recovers_the_pair(
    fake_sage: Any,
    oauth_app: OAuthApp,
    tmp_path: Path,
    fs_faults: FileSystemFaults,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path, session, _ = store_in_a_directory(fake_sage, oauth_app, tmp_path)
    fake_sage.clock.advance(301)
    fs_faults.kind = "permission denied"
    with caplog.at_level("DEBUG", logger="sage_accounting"):
        with pytest.raises(TokenStoreError, match="Permission denied") as err:
            client_for(fake_sage, session).user.get()
        assert token_requests(fake_sage) == 1
        assert client_for(fake_sage, session).user.get().id == "user-1"  # from memory
        assert token_requests(fake_sage) == 1
        fs_faults.kind = None
        # Another process opens the store before this one retries: the complete temporary file
        # the failed rename left is the newest pair, and it is used.
        other = OAuthSession(oauth_app, FileTokenStore(path))
        assert client_for(fake_sage, other).user.get().id == "user-1"
        assert client_for(fake_sage, session).user.get().id == "user-1"
    assert token_requests(fake_sage) == 1 and not session.unsaved
    assert stored(path)["access_token"] == other.current().access_token
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []
    assert_no_secret(fake_sage, caplog.text, *shown(err.value, session, other))


# -- SIGKILL of a process during a refresh -------------------------------------------------------

KILLED_REFRESHER = textwrap.dedent("""
    import os, signal, sys
    from sage_accounting import FileTokenStore, OAuthApp, OAuthSession
    from sage_accounting._runtime import _tokens

    token_url, client_id, secret, path, where = sys.argv[1:6]
    app = OAuthApp(client_id, secret, "http://127.0.0.1/callback", token_url=token_url, timeout=5)

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    real_save, real_write, real_replace = FileTokenStore.save, os.write, os.replace
    saving = False

    def save(self, tokens):
        global saving
        if where == "after the answer":
            die()
        saving = True
        real_save(self, tokens)

    def write(fd, data):
        if saving and where == "mid-write":
            real_write(fd, bytes(data)[: len(data) // 2])
            die()
        return real_write(fd, data)

    def replace(src, dst):
        if saving and where == "before the rename":
            die()
        return real_replace(src, dst)

    FileTokenStore.save = save
    os.write, os.replace = write, replace
    OAuthSession(app, FileTokenStore(path)).access_token()
    print("not killed", flush=True)
    """)


def refresh_and_get_killed(fake_sage: Any, path: Path, where: str) -> None:
    tokens = issued(fake_sage)
    with FileTokenStore(path).lock():  # stored as expired a minute ago (the fake's clock is real)
        FileTokenStore(path).save(
            TokenSet(tokens.access_token, tokens.refresh_token, expires_at=time.time() - 60)
        )
    args = [fake_sage.token_url, fake_sage.state.client_id, fake_sage.state.client_secret]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / r) for r in ("generated", "src"))}
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_REFRESHER, *args, str(path), where],
        env=env,
        capture_output=True,
        timeout=15,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert_no_secret(fake_sage, proc.stdout.decode(), proc.stderr.decode())
    assert token_requests(fake_sage) == 1  # Sage answered: the old refresh token is spent


def test_sigkill_before_the_rename_the_next_process_recovers_the_new_pair(
    fake_sage: Any, oauth_app: OAuthApp, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "tokens.json"
    refresh_and_get_killed(fake_sage, path, "before the rename")
    with caplog.at_level("DEBUG", logger="sage_accounting"):
        session = OAuthSession(oauth_app, FileTokenStore(path))
        assert client_for(fake_sage, session).user.get().id == "user-1"
    assert token_requests(fake_sage) == 1  # the killed process's pair is used: no refresh
    assert stored(path)["sequence"] == 2
    assert stored(path)["refresh_token"] not in fake_sage.state.used_refresh_tokens
    assert "recovered the newest tokens" in caplog.text
    assert_no_secret(fake_sage, caplog.text, *shown(None, session, session.store))


@pytest.mark.parametrize("where", ["after the answer", "mid-write"])
def test_sigkill_before_the_pair_is_on_disk_is_reported_never_silent(
    fake_sage: Any,
    oauth_app: OAuthApp,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    where: str,
) -> None:
    path = tmp_path / "tokens.json"
    refresh_and_get_killed(fake_sage, path, where)
    with caplog.at_level("DEBUG", logger="sage_accounting"):
        session = OAuthSession(oauth_app, FileTokenStore(path))
        with pytest.raises(ReauthorizationRequired, match="interrupted") as err:
            client_for(fake_sage, session).user.get()
    # The pair Sage gave the killed process never reached the disk: nothing to recover. The
    # next process says why the grant is dead instead of failing silently or looping.
    assert token_requests(fake_sage) == 2
    assert "interrupted" in caplog.text
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert_no_secret(fake_sage, caplog.text, *shown(err.value, session, session.store))
