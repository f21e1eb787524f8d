"""``LeasedTokenStore``: what the shared token stores share; Redis and SQL supply five steps.

Exactly one refresh per grant, whatever the number of hosts:

- ``lock()`` takes a lock keyed by the grant, with a lease and a fencing number, one more on
  every take. While the lock is held a thread renews the lease every third of it (for at most
  ``MAX_HOLD`` leases), so a refresh slower than the lease (Sage slow to answer) keeps every
  other worker out until it is saved. A holder that died, or whose process stands still (and its
  renewing thread with it), leaves the lock when its lease ends; then the next worker takes it.
- ``load()`` under the lock remembers the sequence number of the pair it read;
- ``save()`` is a compare-and-swap in one script or transaction: written only while this lock
  (owner and fencing number) is still the store's and the pair is still the one read, so a
  holder whose lease ran out (paused, partitioned) can never overwrite a newer pair. It raises
  ``TokenStoreError`` instead; the session has the new pair in memory already (as always). A
  save that cannot reach the server is tried again for half the lease, the lock held: given
  back with the new pair unsaved, the next worker would refresh the retired one.

A server that cannot be reached is a ``TokenStoreError`` (never "no tokens"), and so is a stored
pair that cannot be read or decrypted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import secrets
import threading
import time
from collections.abc import AsyncIterator, Iterator

from .._runtime._errors import ArgumentValueError
from .._runtime._redact import redact
from .._runtime._tokens import TokenSet, TokenStoreError, parse_token_file
from ._cipher import TokenCipher

log = logging.getLogger("sage_accounting")

DEFAULT_LEASE = 60.0  # seconds: longer than a refresh round trip (OAuthApp's timeout is 30 s)
# What every Fernet token begins with (version byte 0x80, base64): a pair stored encrypted.
FERNET_START = b"gAAAAA"
MAX_HOLD = 5  # leases: renewed no longer than this (a refresh never takes so long; a hang does)


class LeasedTokenStore:
    """The protocol's ``load``/``save``/``lock``/``alock`` over a backend's five steps:
    ``_take`` (the lock: its fencing number, or None while another holds it), ``_give``,
    ``_renew`` (the lease extended), ``_read`` (raw pair and sequence) and ``_swap`` (the
    compare-and-swap write)."""

    def __init__(
        self,
        grant: str,
        *,
        lease: float = DEFAULT_LEASE,
        wait: float | None = None,
        cipher: TokenCipher | None = None,
        renew: bool = True,
    ) -> None:
        if not grant or not isinstance(grant, str):
            raise ArgumentValueError(
                "grant", "must be a non-empty str naming the grant (e.g. its user)"
            )
        if lease <= 0:
            raise ArgumentValueError("lease", "must be positive")
        self.grant = grant
        self.lease = lease
        # How long lock() waits for another worker: a lease and then some (it may have died).
        self.wait = wait if wait is not None else 2 * lease + 10
        self.cipher = cipher
        self.renew = renew  # False: the lease is never renewed (as when the process stands still)
        self._renewing: threading.Event | None = None  # set to stop the renewing thread
        self._owner = secrets.token_hex(12)  # this store object, on this host
        self._thread_lock = threading.Lock()
        self._holder: int | None = None  # the thread inside lock()
        self._fence: int | None = None
        self._sequence: int | None = None  # of the pair load() read under the lock

    # -- a backend's steps ----------------------------------------------------------------------

    def _take(self, owner: str, lease: float) -> int | None:
        raise NotImplementedError

    def _give(self, owner: str, fence: int) -> None:
        raise NotImplementedError

    def _renew(self, owner: str, fence: int, lease: float) -> bool:
        """Extend the lock's lease by ``lease`` from now if it is still (owner, fence)."""
        raise NotImplementedError

    def _read(self) -> tuple[bytes | None, int]:
        raise NotImplementedError

    def _swap(self, data: bytes, expected: int, owner: str, fence: int) -> int | None:
        """Write if the lock is (owner, fence) and the sequence is ``expected``: the new sequence,
        or None when either has moved on."""
        raise NotImplementedError

    def _where(self) -> str:
        raise NotImplementedError

    def _failure(self, what: str, exc: Exception) -> TokenStoreError:
        return TokenStoreError(f"{self._where()}: cannot {what} ({type(exc).__name__}: {exc})")

    # -- the protocol ---------------------------------------------------------------------------

    def _decode(self, raw: bytes) -> TokenSet:
        if self.cipher is not None:
            raw = self.cipher.decrypt(raw, self._where())
        elif raw.startswith(FERNET_START):
            raise TokenStoreError(
                f"{self._where()}: the stored tokens are encrypted and no key was given "
                "(SAGE_TOKENS_KEY for the command line, cipher=TokenCipher(key) in code)"
            )
        tokens, _ = parse_token_file(raw, self._where())
        return tokens

    def load(self) -> TokenSet | None:
        try:
            raw, sequence = self._read()
        except TokenStoreError:
            raise
        except Exception as exc:
            raise self._failure("read the tokens", exc) from exc
        if self._holder == threading.get_ident():
            self._sequence = sequence
        return None if raw is None else self._decode(raw)

    def save(self, tokens: TokenSet) -> None:
        if self._holder != threading.get_ident():
            with self.lock():
                self.save(tokens)
            return
        assert self._fence is not None
        data = json.dumps(tokens.to_dict()).encode()
        if self.cipher is not None:
            data = self.cipher.encrypt(data)
        written = self._swap_retrying(data, self._fence)
        if written is None:
            raise TokenStoreError(
                f"{self._where()}: not saved: this worker's lock on the grant ran out (lease "
                f"{self.lease:g} s) and another worker has taken it or saved a newer pair"
            )
        self._sequence = written

    def _swap_retrying(self, data: bytes, fence: int) -> int | None:
        """The compare-and-swap, tried again while the server is unreachable (for up to half the
        lease; the lease is renewed meanwhile): giving the lock back with the new pair unsaved
        would let the next worker refresh the pair Sage has retired, and kill the grant."""
        deadline, delay = time.monotonic() + self.lease / 2, 0.05
        failed = False
        while True:
            try:
                if self._sequence is None:  # saved without reading first (a new grant)
                    self._sequence = self._read()[1]
                written = self._swap(data, self._sequence, self._owner, fence)
                if written is None and failed:  # a try whose answer was lost may have written
                    raw, sequence = self._read()
                    if raw == data:
                        return sequence
                return written
            except Exception as exc:
                if time.monotonic() + delay > deadline:
                    raise self._failure("save the tokens", exc) from exc
                log.warning("%s", redact(f"{self._where()}: save failed ({exc}); trying again"))
                failed = True
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _try_enter(self) -> bool:
        """One try at the lock, the thread lock held: True when taken."""
        try:
            fence = self._take(self._owner, self.lease)
        except Exception as exc:
            raise self._failure("take the grant's lock", exc) from exc
        if fence is None:
            return False
        self._fence, self._sequence = fence, None
        if self.renew:
            self._renewing = threading.Event()
            threading.Thread(
                target=self._keep_leased,
                args=(fence, self._renewing),
                name=f"sage-lease-{self.grant}",
                daemon=True,  # a process that exits lets its lease run out
            ).start()
        return True

    def _keep_leased(self, fence: int, stop: threading.Event) -> None:
        """The renewing thread: the lease extended every third of it until the lock is given
        back, or found taken by another (then the save's compare-and-swap refuses)."""
        until = time.monotonic() + MAX_HOLD * self.lease  # a holder stuck for good lets go
        while not stop.wait(self.lease / 3) and time.monotonic() < until:
            try:
                if not self._renew(self._owner, fence, self.lease):
                    log.warning("%s", redact(f"{self._where()}: the grant's lock was lost"))
                    return
            except Exception as exc:  # the server back before the lease ends keeps it
                log.warning("%s", redact(f"{self._where()}: lease not renewed: {exc}"))

    def _exit(self) -> None:
        fence, self._fence, self._holder, self._sequence = self._fence, None, None, None
        if self._renewing is not None:
            self._renewing.set()
            self._renewing = None
        try:
            if fence is not None:
                self._give(self._owner, fence)
        except Exception as exc:  # its lease ends it; this store object may take it back sooner
            log.warning("%s", redact(f"{self._where()}: lock not released: {exc}"))
        finally:
            self._thread_lock.release()

    def _enter_blocking(self) -> None:
        self._thread_lock.acquire()
        try:
            deadline, delay = time.monotonic() + self.wait, 0.01
            while not self._try_enter():
                if time.monotonic() > deadline:
                    raise TokenStoreError(
                        f"{self._where()}: another worker has held the grant's lock for more "
                        f"than {self.wait:g} s"
                    )
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.25)
        except BaseException:
            self._thread_lock.release()
            raise

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        self._enter_blocking()
        self._holder = threading.get_ident()
        try:
            yield
        finally:
            self._exit()

    @contextlib.asynccontextmanager
    async def alock(self) -> AsyncIterator[None]:
        import asyncio

        await asyncio.to_thread(self._enter_blocking)  # the waiting and the round trips
        self._holder = threading.get_ident()
        try:
            yield
        finally:
            self._exit()
