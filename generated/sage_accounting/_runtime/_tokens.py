"""Token sets and where they are kept.

Sage's refresh tokens are single use: each refresh returns a new pair and the old refresh token
dies. So the store is the single source of truth, every refresh happens under the store's lock
(one at a time across threads, tasks and processes), and a refreshed pair is saved before it is
used. ``FileTokenStore`` writes atomically (temporary file, fsync, rename): a process killed in the
middle leaves the old pair or the new one, never a torn file.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ._errors import SageError
from ._limits import acquire_polling


class TokenStoreError(SageError):
    """The token store cannot be read or written (never silently treated as empty)."""


@dataclass(frozen=True, repr=False)
class TokenSet:
    """One access/refresh token pair. Its repr never shows the tokens."""

    access_token: str
    refresh_token: str | None = None
    expires_at: float = 0.0  # epoch seconds; 0 = unknown (assumed valid until Sage says no)
    refresh_token_expires_at: float | None = None
    scope: str | None = None
    requested_by_id: str | None = None

    def __repr__(self) -> str:
        when = (
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.expires_at))
            if self.expires_at
            else "?"
        )
        refresh = "yes" if self.refresh_token else "no"
        return f"TokenSet(access_token=***, refresh_token={refresh}, expires_at={when}, scope={self.scope!r})"

    __str__ = __repr__

    def expires_within(self, seconds: float, now: float) -> bool:
        return bool(self.expires_at) and self.expires_at - now < seconds

    @classmethod
    def from_response(cls, data: Mapping[str, Any], now: float) -> TokenSet:
        """From the token endpoint's JSON answer."""
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


@runtime_checkable
class TokenStore(Protocol):
    """Where a session keeps its tokens. ``lock()`` makes one refresh at a time: across threads
    for an in-memory store, across processes too for a file store."""

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

    The lock is ``flock`` on ``<path>.lock`` (POSIX); writes go to a temporary file in the same
    directory, are fsynced, then renamed over the old file, and the directory is fsynced.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._thread_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FileTokenStore({str(self.path)!r})"

    def load(self) -> TokenSet | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise TokenStoreError(f"cannot read {self.path}: {exc.strerror}") from None
        try:
            return TokenSet.from_dict(json.loads(text))
        except (ValueError, TypeError, KeyError):
            raise TokenStoreError(
                f"{self.path} is not a token file; refusing to overwrite it"
            ) from None

    def save(self, tokens: TokenSet) -> None:
        data = json.dumps(tokens.to_dict(), indent=2).encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def _open_lock(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        import fcntl

        with self._thread_lock:
            fd = self._open_lock()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    @contextlib.asynccontextmanager
    async def alock(self) -> AsyncIterator[None]:
        import fcntl

        fd = -1

        def acquire() -> bool:
            nonlocal fd
            if not self._thread_lock.acquire(blocking=False):
                return False
            fd = self._open_lock()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                os.close(fd)
                self._thread_lock.release()
                return False

        await acquire_polling(acquire)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
            self._thread_lock.release()
