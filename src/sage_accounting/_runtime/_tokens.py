"""Token sets and where they are kept.

Sage's refresh tokens are single use: each refresh returns a new pair and the old refresh token
dies. So the store is the single source of truth, every refresh happens under the store's lock
(one at a time across threads, tasks and processes), and a refreshed pair is saved before it is
used (the session holds it in memory first, so a failed save never loses it).

``FileTokenStore`` writes atomically (temporary file, fsync, rename): a process killed in the
middle leaves the old pair or the new one, never a torn file. Each saved file carries a
``sequence`` number, one more than the file it replaced; that is how a temporary file left by a
killed writer is known to be newer than the token file (see ``FileTokenStore``).
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import math
import os
import stat
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ._errors import SageError
from ._files import fsync_directory
from ._limits import acquire_polling
from ._prepare import header_safe
from ._redact import redact, remember
from .wire import TIMESTAMP_FORMAT

log = logging.getLogger("sage_accounting")


class TokenStoreError(SageError):
    """The token store cannot be read or written (never silently treated as empty)."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


@dataclass(frozen=True, repr=False)
class TokenSet:
    """One access/refresh token pair. Its repr never shows the tokens, and both tokens are
    registered with the redaction registry as soon as a pair is made."""

    access_token: str
    refresh_token: str | None = None
    expires_at: float = 0.0  # epoch seconds; 0 = unknown (assumed valid until Sage says no)
    refresh_token_expires_at: float | None = None
    scope: str | None = None
    requested_by_id: str | None = None

    def __post_init__(self) -> None:
        remember(self.access_token, self.refresh_token)

    def __repr__(self) -> str:
        when = utc_time(self.expires_at, TIMESTAMP_FORMAT) if self.expires_at else "?"
        refresh = "yes" if self.refresh_token else "no"
        return f"TokenSet(access_token=***, refresh_token={refresh}, expires_at={when}, scope={self.scope!r})"

    __str__ = __repr__

    def expires_within(self, seconds: float, now: float) -> bool:
        return bool(self.expires_at) and self.expires_at - now < seconds

    @classmethod
    def from_response(cls, data: Mapping[str, Any], now: float) -> TokenSet:
        """From the token endpoint's JSON answer (checked first: ``token_answer_problem``)."""
        expires_in = data.get("expires_in")
        refresh_in = data.get("refresh_token_expires_in")
        return cls(
            access_token=str(data["access_token"]),
            refresh_token=str(data["refresh_token"]) if data.get("refresh_token") else None,
            expires_at=now + float(expires_in) if expires_in is not None else 0.0,
            refresh_token_expires_at=now + float(refresh_in) if refresh_in is not None else None,
            scope=data.get("scope"),
            requested_by_id=data.get("requested_by_id"),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenSet:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def utc_time(epoch: float, form: str) -> str:
    """``epoch`` in UTC as ``form``; the number itself when the platform's calendar ends first
    (a repr or a log line must never raise)."""
    try:
        return time.strftime(form, time.gmtime(epoch))
    except (OverflowError, OSError, ValueError):
        return f"{epoch:g}"


# What each field of a token file, or of the token endpoint's answer, may hold (JSON types after
# json.loads): one rule for both, so no pair is saved that the store would refuse to read back.
_REQUIRED_STR = ("access_token",)
_OPTIONAL_STR = ("refresh_token", "scope", "requested_by_id")
_HEADER_STR = ("access_token", "refresh_token")
_OPTIONAL_NUMBER = ("expires_at", "refresh_token_expires_at")
_ANSWER_NUMBER = ("expires_in", "refresh_token_expires_in")
_MAX_LIFETIME = 1e10  # seconds (~300 years): more is no lifetime


def _wrong_field(data: Mapping[str, Any], numbers: tuple[str, ...]) -> tuple[str, str] | None:
    """The first field of ``data`` that breaks the rules above, and what it must be."""
    for field in _REQUIRED_STR:
        if not isinstance(data.get(field), str) or not data[field]:
            return field, "a non-empty string"
    for field in _OPTIONAL_STR:
        if data.get(field) is not None and not isinstance(data[field], str):
            return field, "a string or null"
    for field in _HEADER_STR:  # sent in headers or forms: CR/LF would fail (or inject) there
        text = data.get(field)
        if isinstance(text, str) and not header_safe(text):
            return field, "printable ASCII text"
    for field in numbers:
        value = data.get(field)
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            return field, "a number or null"
    return None


def token_answer_problem(data: Mapping[str, Any]) -> str | None:
    """What is wrong with a token endpoint's answer (``None``: a pair the store can keep).
    Lifetimes may come as numbers or strings of one (``"300"``), never negative or endless."""
    lifetimes = {}
    for field in _ANSWER_NUMBER:
        value = data.get(field)
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                return f"field {field!r} must be a number of seconds, not {data[field]!r}"
        lifetimes[field] = value
    wrong = _wrong_field({**data, **lifetimes}, _ANSWER_NUMBER)
    if wrong is not None:
        field, expected = wrong
        got = type(data[field]).__name__ if field in data else "nothing"
        return f"field {field!r} must be {expected}, not {got}"
    for field, value in lifetimes.items():
        if value is not None and not 0 <= value <= _MAX_LIFETIME:
            return f"field {field!r} must be between 0 and {_MAX_LIFETIME:g} seconds, not {value:g}"
    return None


def parse_token_file(raw: bytes, where: str | Path) -> tuple[TokenSet, int]:
    """A token file's pair and sequence number; ``TokenStoreError`` naming the file (and the
    field) for anything that is not a token file: never UnicodeDecodeError or TypeError."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise TokenStoreError(f"{where} is not a token file (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        raise TokenStoreError(f"{where} is not a token file (not JSON: {exc.msg})") from None
    except (ValueError, RecursionError):  # e.g. a number too long, nesting too deep
        raise TokenStoreError(f"{where} is not a token file (not JSON)") from None
    if not isinstance(data, dict):
        raise TokenStoreError(f"{where} is not a token file (not a JSON object)")

    def wrong(field: str, expected: str) -> TokenStoreError:
        got = type(data[field]).__name__ if field in data else "nothing"
        return TokenStoreError(f"{where}: field {field!r} must be {expected}, not {got}")

    problem = _wrong_field(data, _OPTIONAL_NUMBER)
    if problem is not None:
        raise wrong(*problem)
    sequence = data.get("sequence", 0)
    if isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < 0:
        raise wrong("sequence", "a non-negative integer")
    fields = dict(data)
    if fields.get("expires_at") is None:
        fields["expires_at"] = 0.0
    return TokenSet.from_dict(fields), sequence


@runtime_checkable
class TokenStore(Protocol):
    """Where a session keeps its tokens. ``lock()`` makes one refresh at a time: across threads
    for an in-memory store, across processes too for a file store.

    A store may also offer ``reserve()`` (prove, before Sage is asked for a new pair, that the
    pair can be saved; raise ``TokenStoreError`` if not) and ``release()`` (no pair came after
    all); the session calls them when present."""

    def load(self) -> TokenSet | None: ...

    def save(self, tokens: TokenSet) -> None: ...

    def lock(self) -> contextlib.AbstractContextManager[None]: ...

    def alock(self) -> contextlib.AbstractAsyncContextManager[None]: ...


class MemoryTokenStore:
    """Tokens in this process only (they are lost when it exits)."""

    def __init__(self, tokens: TokenSet | None = None) -> None:
        self._tokens = tokens
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryTokenStore({self._tokens!r})"

    def load(self) -> TokenSet | None:
        return self._tokens

    def save(self, tokens: TokenSet) -> None:
        self._tokens = tokens

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        with self._lock:
            yield

    @contextlib.asynccontextmanager
    async def alock(self) -> AsyncIterator[None]:
        await acquire_polling(lambda: self._lock.acquire(blocking=False))
        try:
            yield
        finally:
            self._lock.release()


class FileTokenStore:
    """Tokens in a JSON file (mode 0600), shared safely by several processes.

    The lock is ``flock`` on ``<path>.lock`` (POSIX). A save is a one-step journal, always made
    under the lock: ``reserve()`` creates the temporary file ``.<name>.<pid>.<thread>.tmp`` next
    to the token file before Sage is asked for a new pair (so an unwritable directory is found
    while the old pair is still good) and puts an intent record in it; ``save()`` overwrites it
    with the new pair and ``sequence`` (the token file's plus one), fsyncs it, renames it over the
    token file and fsyncs the directory.

    Since nobody writes a temporary file without holding the lock, any temporary file found by
    whoever takes the lock next was left by a writer that died (or whose rename failed). It is
    used when it holds a complete, valid pair whose sequence is higher than the token file's: that
    pair is the newest, since the token file's refresh token was spent to get it. Anything else
    (an intent record: killed between Sage's answer and the write; a torn write) is removed with a
    warning, and ``interrupted_save`` says so, since the pair that refresh got may be lost.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._thread_lock = threading.Lock()
        self._owner: int | None = None  # the thread holding the lock, if any
        self._reserved: Path | None = None
        self._exposed: tuple[Path, int] | None = None  # a readable-by-others file, warned of
        # Set when a killed writer's leftovers could not be used: why a later refresh may find
        # the grant dead. Included in the session's ReauthorizationRequired message.
        self.interrupted_save: str | None = None

    def __repr__(self) -> str:
        return f"FileTokenStore({str(self.path)!r})"

    # -- reading ------------------------------------------------------------------------------------

    def _read(self, path: Path) -> bytes | None:
        """A store file's bytes (None: there is none). Never through a symbolic link (a save
        would replace the link, not its target: two files, two grants) and never from what is
        not a regular file (a FIFO would block, a device never end)."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise _link_refused(path) from None
            raise TokenStoreError(f"cannot read {path}: {exc.strerror or exc}") from exc
        try:
            status = os.fstat(fd)
            if not stat.S_ISREG(status.st_mode):
                raise TokenStoreError(f"{path} is not a regular file: refusing it")
            if status.st_mode & 0o077 and self._exposed != (path, status.st_mode):
                self._exposed = (path, status.st_mode)
                log.warning(
                    "%s",
                    redact(
                        f"{path} is readable by others (mode {stat.S_IMODE(status.st_mode):o}): "
                        "it holds a refresh token; chmod 600 it (the next save does)"
                    ),
                )
            with os.fdopen(fd, "rb", closefd=False) as file:
                return file.read()
        except OSError as exc:
            raise TokenStoreError(f"cannot read {path}: {exc.strerror or exc}") from exc
        finally:
            os.close(fd)

    def _load_with_sequence(self) -> tuple[TokenSet | None, int]:
        raw = self._read(self.path)
        if raw is None:
            return None, 0
        try:
            return parse_token_file(raw, self.path)
        except TokenStoreError as exc:
            raise TokenStoreError(f"{exc}; refusing to overwrite it") from None

    def load(self) -> TokenSet | None:
        if self._owner != threading.get_ident() and self._leftovers():
            # A killed writer's temporary file: recover it now if the lock is free (if not, its
            # holder is about to, and the token file is consistent meanwhile).
            with contextlib.suppress(TokenStoreError):  # no lock file to be had: read only
                fd = self._acquire(blocking=False)
                if fd is not None:
                    self._release(fd)
        return self._load_with_sequence()[0]

    # -- writing ------------------------------------------------------------------------------------

    def _temp_path(self) -> Path:
        return self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")

    def _leftovers(self) -> list[Path]:
        try:
            return sorted(self.path.parent.glob(f".{self.path.name}.*.tmp"))
        except OSError:
            return []

    def reserve(self) -> None:
        """Under the lock, before asking Sage for a new pair: show that it can be saved."""
        tmp = self._temp_path()
        intent = json.dumps({"intent": "refresh", "pid": os.getpid(), "at": time.time()})
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, _WRITE_PRIVATE, 0o600)
            try:
                os.write(fd, intent.encode())
            finally:
                os.close(fd)
        except OSError as exc:
            _unlink_quietly(tmp)
            raise TokenStoreError(
                f"cannot write in {self.path.parent} ({exc.strerror or exc}): the tokens could "
                "not be saved, so they are not refreshed"
            ) from exc
        self._reserved = tmp

    def release(self) -> None:
        """No new pair came (the refresh failed): drop the reservation."""
        if self._reserved is not None:
            _unlink_quietly(self._reserved)
            self._reserved = None

    def save(self, tokens: TokenSet) -> None:
        """Write ``tokens`` (call it holding ``lock()``)."""
        tmp, self._reserved = self._reserved or self._temp_path(), None
        if self.path.is_symlink():  # renamed over, the link's target would keep the old pair
            _unlink_quietly(tmp)
            raise _link_refused(self.path)
        try:
            _, sequence = self._load_with_sequence()
        except TokenStoreError:
            sequence = 0  # an unreadable file is replaced only by an explicit save
        data = json.dumps({"sequence": sequence + 1, **tokens.to_dict()}, indent=2).encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, _WRITE_PRIVATE, 0o600)
            try:
                os.fchmod(fd, 0o600)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            _unlink_quietly(tmp)  # a torn copy is of no use to anyone
            raise TokenStoreError(
                f"cannot save tokens to {self.path}: {exc.strerror or exc}"
            ) from exc
        try:
            os.replace(tmp, self.path)
            fsync_directory(self.path.parent)
            self.interrupted_save = None  # a good pair is saved: that note is history
        except OSError as exc:
            # The temporary file holds the complete new pair: left in place, whoever takes the
            # lock next (this process included) moves it into place.
            raise TokenStoreError(
                f"cannot save tokens to {self.path}: {exc.strerror or exc}"
            ) from exc

    def _recover(self) -> None:
        """Holding the lock: deal with the temporary files of writers that died (see the class)."""
        leftovers = self._leftovers()
        if not leftovers:
            return
        try:
            _, current = self._load_with_sequence()
        except TokenStoreError:
            return  # a damaged token file: load() reports it; leave the evidence alone
        best: tuple[int, Path] | None = None
        lost: list[Path] = []
        for tmp in leftovers:
            try:
                raw = self._read(tmp)
                _, sequence = parse_token_file(raw or b"", tmp)
            except TokenStoreError:
                lost.append(tmp)  # an intent record or a torn write
                continue
            if sequence > current and (best is None or sequence > best[0]):
                if best is not None:
                    lost.append(best[1])
                best = (sequence, tmp)
            else:
                lost.append(tmp)
        if best is not None:
            try:
                os.chmod(best[1], 0o600)  # private, whoever made it
                os.replace(best[1], self.path)
                fsync_directory(self.path.parent)
                log.warning(
                    "%s",
                    redact(
                        f"recovered the newest tokens from {best[1].name}, left by a save "
                        "that was interrupted before its rename"
                    ),
                )
            except OSError as exc:
                log.warning("%s", redact(f"cannot recover {best[1]}: {exc.strerror or exc}"))
                return
        for tmp in lost:
            _unlink_quietly(tmp)
        if lost and best is None:
            self.interrupted_save = (
                f"a refresh was interrupted before it saved its new tokens ({lost[0].name} "
                "removed): if Sage had answered it, the pair it got is lost"
            )
            log.warning("%s", redact(self.interrupted_save))

    # -- locking ------------------------------------------------------------------------------------

    def _open_lock(self) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise TokenStoreError(
                f"cannot open the lock file {self._lock_path}: {exc.strerror or exc}"
            ) from exc

    def _acquire(self, *, blocking: bool) -> int | None:
        """The thread lock, then flock: the lock file's descriptor, or None (not blocking)."""
        import fcntl

        if not self._thread_lock.acquire(blocking=blocking):
            return None
        try:
            fd = self._open_lock()
        except BaseException:
            self._thread_lock.release()
            raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BaseException as exc:  # busy, or Ctrl-C while waiting: nothing may stay held
            os.close(fd)
            self._thread_lock.release()
            if isinstance(exc, BlockingIOError):
                return None
            raise
        self._owner = threading.get_ident()
        try:
            self._recover()
        except BaseException:
            self._release(fd)
            raise
        return fd

    def _release(self, fd: int) -> None:
        import fcntl

        self._owner = None
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        finally:
            self._thread_lock.release()

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        fd = self._acquire(blocking=True)
        assert fd is not None
        try:
            yield
        finally:
            self._release(fd)

    @contextlib.asynccontextmanager
    async def alock(self) -> AsyncIterator[None]:
        fd: int | None = None

        def acquire() -> bool:
            nonlocal fd
            fd = self._acquire(blocking=False)
            return fd is not None

        await acquire_polling(acquire)
        assert fd is not None
        try:
            yield
        finally:
            self._release(fd)


# A temporary file's name is predictable: a symbolic link put there is never written through.
_WRITE_PRIVATE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW


def _link_refused(path: Path) -> TokenStoreError:
    return TokenStoreError(
        f"{path} is a symbolic link: refusing it (give the store the file itself, "
        f"{os.path.realpath(path)})"
    )


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
