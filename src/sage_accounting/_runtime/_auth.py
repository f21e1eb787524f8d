"""OAuth 2.0 with Sage: the app (authorize, exchange, refresh, revoke) and the session that keeps
a user's tokens fresh for the clients.

    app = OAuthApp(client_id, client_secret, redirect_uri)
    request = app.authorization_url(scope="full_access")      # send the user to request.url
    tokens = app.exchange_code(callback_url=..., expected_state=request.state,
                               code_verifier=request.code_verifier)
    session = OAuthSession(app, FileTokenStore("tokens.json"), tokens=tokens)
    client = SageAccounting(session=session, business_id=...)

Access tokens live 5 minutes. The session refreshes when less than ``refresh_margin`` (60 s; at
most half a token's life, as learnt from the last refresh) is left, and once after a 401 for an
expired token. Refresh tokens are single use, so:

- exactly one refresh runs at a time for one token set: the store's lock is held from reading the
  pair to saving the new one, across threads, asyncio tasks and (with a file store) processes;
  whoever waited re-reads the store and uses the pair the first one saved;
- the new pair is held in memory, then saved, before it is used. Before Sage is asked for it, the
  store shows that it can save it (a file store: its lock and a temporary file in its directory),
  so an unwritable store fails with ``TokenStoreError`` while the old pair is still good. If the
  save fails after Sage answered (disk full, ...), the call raises ``TokenStoreError`` (the cause
  chained), the session goes on with the pair from memory and retries the save on its next call
  (unless another party has saved a different grant meanwhile: the store wins);
- a refresh Sage answers ``invalid_grant`` re-reads the store once (a sibling may have rotated
  the pair) before the grant is declared dead; then that refresh token is never sent again;
- a refresh that timed out is not retried blindly (Sage may have rotated the token already): the
  store is re-read and a pair another party saved is used; otherwise the error is raised and the
  next call tries again from the store.

Tokens, the client secret, authorization codes and PKCE verifiers never appear in logs, reprs or
errors: each is registered with ``_redact.remember`` when first seen, and every message the OAuth
code raises or logs goes through ``_redact.redact`` (Sage's own error text included).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import math
import secrets
import signal
import threading
import time
import urllib.parse
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, NotRequired, TypedDict, Unpack

import httpx

from . import _env
from ._env import argument_or_env
from ._errors import (
    APIConnectionError,
    APITimeoutError,
    ArgumentValueError,
    OAuthError,
    ReauthorizationRequired,
    StateMismatchError,
)
from ._redact import redact, remember
from ._tokens import (
    MemoryTokenStore,
    TokenSet,
    TokenStore,
    TokenStoreError,
    token_answer_problem,
    utc_time,
)

log = logging.getLogger("sage_accounting")

AUTHORIZE_URL = "https://www.sageone.com/oauth2/auth/central?filter=apiv3.1"
TOKEN_URL = "https://oauth.accounting.sage.com/token"
REVOKE_URL = "https://oauth.accounting.sage.com/revoke"
Scope = Literal["readonly", "full_access"]


@dataclass(frozen=True, repr=False)
class AuthorizationRequest:
    """Where to send the user, and what to keep until they come back (server-side, per user)."""

    url: str
    state: str
    code_verifier: str

    def __repr__(self) -> str:
        where = self.url.split("?", 1)[0]
        return f"AuthorizationRequest(url={where + '?...'!r}, state=***, code_verifier=***)"


def _pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OAuthApp:
    """A registered Sage app. The client secret is required: Sage needs it even with PKCE. The
    redirect URI is needed to authorize (``authorization_url``, ``exchange_code``), not to
    refresh: a worker or a server refreshing a grant another machine authorized gives none.
    ``authorize_url``, ``token_url``, ``revoke_url``: another OAuth server's (a sandbox's); None
    (or left out) for Sage's."""

    def __init__(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        redirect_uri: str | None = None,
        *,
        authorize_url: str | None = None,
        token_url: str | None = None,
        revoke_url: str | None = None,
        timeout: float = 30.0,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # Arguments absent: SAGE_CLIENT_ID, SAGE_CLIENT_SECRET, SAGE_REDIRECT_URI (see _env).
        client_id = argument_or_env(client_id, _env.CLIENT_ID)
        client_secret = argument_or_env(client_secret, _env.CLIENT_SECRET)
        redirect_uri = argument_or_env(redirect_uri, _env.REDIRECT_URI)
        for name, value, variable in (
            ("client_id", client_id, _env.CLIENT_ID),
            ("client_secret", client_secret, _env.CLIENT_SECRET),
        ):
            if not isinstance(value, str) or not value:
                why = " (Sage needs the client secret even with PKCE)" * (name == "client_secret")
                raise ArgumentValueError(name, f"is required: pass it or set {variable}{why}")
        if redirect_uri is not None and (not isinstance(redirect_uri, str) or not redirect_uri):
            raise ArgumentValueError(
                "redirect_uri",
                f"must be a non-empty str (left out, with {_env.REDIRECT_URI} unset, for an app"
                " that only refreshes grants)",
            )
        assert client_id and client_secret  # checked just above
        authorize_url = AUTHORIZE_URL if authorize_url is None else authorize_url
        token_url = TOKEN_URL if token_url is None else token_url
        revoke_url = REVOKE_URL if revoke_url is None else revoke_url
        for name, url in (
            ("authorize_url", authorize_url),
            ("token_url", token_url),
            ("revoke_url", revoke_url),
        ):
            _check_endpoint(name, url)
        remember(client_secret)
        self.client_id = client_id
        self._client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.authorize_url = authorize_url
        self.token_url = token_url
        self.revoke_url = revoke_url
        self.timeout = timeout
        self.clock = clock
        self._http = http_client
        self._async_http = async_http_client

    def __repr__(self) -> str:
        return f"OAuthApp(client_id={self.client_id!r}, client_secret=***, redirect_uri={self.redirect_uri!r})"

    # -- the user's side ----------------------------------------------------------------------------

    def authorization_url(
        self,
        *,
        scope: Scope = "full_access",
        state: str | None = None,
        country: str | None = None,
        locale: str | None = None,
    ) -> AuthorizationRequest:
        """The URL to send the user to, with a fresh ``state`` and PKCE (S256) verifier."""
        if scope not in ("readonly", "full_access"):
            raise ArgumentValueError("scope", f"must be 'readonly' or 'full_access', not {scope!r}")
        redirect_uri = self._redirect_uri()
        state = state or secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(48)  # 64 characters, within PKCE's 43..128
        remember(verifier)
        params = {
            "client_id": self.client_id,
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "scope": scope,
            "state": state,
            "code_challenge": _pkce_challenge(verifier),
            "code_challenge_method": "S256",
        }
        if country:
            params["country"] = country.lower()
        if locale:
            params["locale"] = locale
        separator = "&" if "?" in self.authorize_url else "?"
        return AuthorizationRequest(
            self.authorize_url + separator + urllib.parse.urlencode(params), state, verifier
        )

    def _redirect_uri(self) -> str:
        """The redirect URI the code flow sends, or the error naming it (before any request)."""
        if self.redirect_uri is None:
            raise ArgumentValueError(
                "redirect_uri",
                f"is required to authorize (the code flow): pass it or set {_env.REDIRECT_URI}"
                " (refreshing a grant needs none)",
            )
        return self.redirect_uri

    def _code_from_callback(
        self,
        code: str | None,
        callback_url: str | None,
        returned_state: str | None,
        expected_state: str,
        code_verifier: str,
    ) -> str:
        # "" would match an attacker's empty state: a lost session's state is no state.
        for name, value in (("expected_state", expected_state), ("code_verifier", code_verifier)):
            if not isinstance(value, str) or not value:
                raise ArgumentValueError(
                    name, "must be the non-empty string authorization_url made"
                )
        if callback_url is not None:
            pairs = urllib.parse.parse_qsl(urllib.parse.urlsplit(callback_url).query)
            query = dict(pairs)
            remember(query.get("code"))
            for name in ("code", "state", "error"):
                if sum(1 for key, _ in pairs if key == name) > 1:
                    # Which one Sage sent is not guessed: one of them was put there by someone.
                    raise OAuthError(f"the callback carries {name!r} more than once: refusing it")
            if "error" in query:
                raise OAuthError(redact(f"authorization was not granted: {query['error']}"))
            code, returned_state = query.get("code"), query.get("state")
        remember(code)
        if not code:
            raise OAuthError("no authorization code in the callback")
        # Constant time: the state is what ties this callback to the user who started the flow.
        if returned_state is None or not hmac.compare_digest(
            returned_state.encode(), expected_state.encode()
        ):
            raise StateMismatchError("the callback's state does not match: refusing the code")
        return code  # region-prefixed ("GB/12abc..."), sent back as it came

    # -- token endpoint -----------------------------------------------------------------------------

    def _form(self, **fields: str) -> dict[str, str]:
        return {"client_id": self.client_id, "client_secret": self._client_secret, **fields}

    def _exchange_form(
        self,
        expected_state: str,
        code_verifier: str,
        callback_url: str | None,
        code: str | None,
        returned_state: str | None,
    ) -> dict[str, str]:
        redirect_uri = self._redirect_uri()
        code = self._code_from_callback(
            code, callback_url, returned_state, expected_state, code_verifier
        )
        remember(code_verifier)
        return self._form(
            grant_type="authorization_code",
            code=code,
            redirect_uri=redirect_uri,
            code_verifier=code_verifier,
        )

    def _tokens(
        self, response: httpx.Response, what: str, refresh_token: str | None = None
    ) -> TokenSet:
        """The pair in a token response. ``refresh_token`` is the one this request spent: kept
        when the answer carries none (Sage may not rotate it every time)."""
        data = _json(response)
        if response.status_code == 200 and isinstance(data, dict) and data.get("access_token"):
            remember(
                _str_or_none(data.get("access_token")), _str_or_none(data.get("refresh_token"))
            )
            # A pair the store would refuse to read back is a grant nobody can use later.
            problem = token_answer_problem(data)
            if problem is not None:
                raise OAuthError(redact(f"token request ({what}): the answer's {problem}"))
            tokens = TokenSet.from_response(data, self.clock())
            if tokens.refresh_token is None and refresh_token:
                tokens = replace(tokens, refresh_token=refresh_token)
            return tokens
        error = data.get("error") if isinstance(data, dict) else None
        if error == "invalid_grant":
            raise ReauthorizationRequired(
                f"Sage rejected the {what} (invalid_grant: expired, revoked or already used): "
                "send the user through authorization again"
            )
        description = data.get("error_description") if isinstance(data, dict) else None
        detail = (
            f"{error}: {description}" if description else error or f"HTTP {response.status_code}"
        )
        # Sage's text may echo what it was sent (a code, a token, the secret): redacted.
        raise OAuthError(redact(f"token request ({what}) failed: {detail}"))

    def _post(self, url: str, form: Mapping[str, str]) -> httpx.Response:
        # The caller's httpx client is left open for the caller; one made here is closed.
        owned = httpx.Client(timeout=self.timeout) if self._http is None else None
        http = owned or self._http
        assert http is not None
        with owned or contextlib.nullcontext(), _token_endpoint_errors(url):
            response = http.post(
                url, data=form, headers=_ACCEPT_JSON, timeout=self.timeout, follow_redirects=False
            )
        return _not_redirected(response)

    async def _apost(self, url: str, form: Mapping[str, str]) -> httpx.Response:
        owned = httpx.AsyncClient(timeout=self.timeout) if self._async_http is None else None
        http = owned or self._async_http
        assert http is not None
        async with owned or contextlib.nullcontext():
            with _token_endpoint_errors(url):
                response = await http.post(
                    url,
                    data=form,
                    headers=_ACCEPT_JSON,
                    timeout=self.timeout,
                    follow_redirects=False,
                )
        return _not_redirected(response)

    def exchange_code(
        self,
        *,
        expected_state: str,
        code_verifier: str,
        callback_url: str | None = None,
        code: str | None = None,
        returned_state: str | None = None,
    ) -> TokenSet:
        """Exchange the callback's code for tokens (give the callback URL, or code and state)."""
        form = self._exchange_form(
            expected_state, code_verifier, callback_url, code, returned_state
        )
        return self._tokens(self._post(self.token_url, form), "authorization code")

    async def aexchange_code(self, **arguments: Unpack[CodeExchange]) -> TokenSet:
        """``exchange_code``, awaited (the same keyword arguments)."""
        form = self._exchange_form(
            arguments["expected_state"],
            arguments["code_verifier"],
            arguments.get("callback_url"),
            arguments.get("code"),
            arguments.get("returned_state"),
        )
        return self._tokens(await self._apost(self.token_url, form), "authorization code")

    def refresh(self, refresh_token: str) -> TokenSet:
        """A new pair for a refresh token. The old refresh token is dead afterwards."""
        remember(refresh_token)
        form = self._form(grant_type="refresh_token", refresh_token=refresh_token)
        return self._tokens(self._post(self.token_url, form), "refresh token", refresh_token)

    async def arefresh(self, refresh_token: str) -> TokenSet:
        remember(refresh_token)
        form = self._form(grant_type="refresh_token", refresh_token=refresh_token)
        return self._tokens(await self._apost(self.token_url, form), "refresh token", refresh_token)

    def revoke(self, refresh_token: str) -> None:
        """Revoke a refresh token (access tokens cannot be revoked; they expire)."""
        remember(refresh_token)
        response = self._post(self.revoke_url, self._form(token=refresh_token))
        if response.status_code != 200:
            raise OAuthError(f"revoke failed: HTTP {response.status_code}")

    async def arevoke(self, refresh_token: str) -> None:
        remember(refresh_token)
        response = await self._apost(self.revoke_url, self._form(token=refresh_token))
        if response.status_code != 200:
            raise OAuthError(f"revoke failed: HTTP {response.status_code}")


@dataclass(frozen=True, repr=False)
class _Unsaved:
    """A refreshed pair the store has not taken yet, and the refresh token of the pair the store
    holds instead (so a different grant saved there meanwhile can be told apart)."""

    tokens: TokenSet
    replaced: str | None


class OAuthSession:
    """One user's tokens, kept fresh for any number of clients, threads and tasks.

    ``tokens`` seeds the store (e.g. right after ``exchange_code``); otherwise what the store holds
    is used. With no refresh token (an access token only) calls work until it expires.
    """

    def __init__(
        self,
        app: OAuthApp,
        store: TokenStore | None = None,
        *,
        tokens: TokenSet | None = None,
        refresh_margin: float = 60.0,
    ) -> None:
        if (
            isinstance(refresh_margin, bool)
            or not isinstance(refresh_margin, int | float)
            or not 0 <= refresh_margin < math.inf
        ):
            raise ArgumentValueError(
                "refresh_margin", f"must be a number of seconds (0 or more), not {refresh_margin!r}"
            )
        self.app = app
        self.store: TokenStore = store or MemoryTokenStore()
        self.refresh_margin = refresh_margin
        # The access tokens' life, learnt from the last refresh: the margin used is at most half
        # of it, or a margin longer than the life would refresh on every call.
        self._token_life: float | None = None
        if tokens is not None:
            with self.store.lock():
                _save(self.store, tokens)
        self._tokens: TokenSet | None = tokens
        # Memory first: a refreshed pair lives here until the store has taken it.
        self._unsaved: _Unsaved | None = None
        # The refresh token Sage answered invalid_grant to (and no sibling replaced): never
        # sent again, so a dead grant costs one request, not one per call.
        self._dead_refresh_token: str | None = None
        self._cache_lock = threading.Lock()
        self._loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"OAuthSession(app={self.app!r}, store={self.store!r})"

    @property
    def app_key(self) -> str:
        """Requests in flight are capped per app (Sage's limit is per app)."""
        return self.app.client_id

    @property
    def unsaved(self) -> bool:
        """True while this session holds a refreshed pair its store could not save yet."""
        return self._unsaved is not None

    def current(self) -> TokenSet:
        tokens = self._tokens
        if tokens is None:
            tokens = self.store.load()
            if tokens is None:
                raise ReauthorizationRequired("no tokens stored: authorize the app first")
            self._tokens = tokens
        return tokens

    def _fresh_enough(self, tokens: TokenSet) -> bool:
        margin = self.refresh_margin
        if self._token_life is not None:
            margin = min(margin, self._token_life / 2)
        return not tokens.expires_within(margin, self.app.clock())

    # -- the decisions, shared by sync and async (all store calls are sync) -------------------------

    def _settle_unsaved(self) -> None:
        """Under the store's lock: hand the store a pair it could not take before, unless it has
        moved on (another party saved a different grant: the store wins). Raises
        ``TokenStoreError`` if it still cannot; the pair stays in memory."""
        pending = self._unsaved
        if pending is None:
            return
        stored = self.store.load()
        if stored == pending.tokens:  # already there (e.g. a leftover file was recovered)
            self._unsaved = None
            return
        if stored is not None and stored.refresh_token != pending.replaced:
            _log(logging.WARNING, "the token store holds a different grant now: using it")
            self._unsaved, self._tokens = None, stored
            return
        _save(self.store, pending.tokens)
        self._unsaved = None
        _log(logging.INFO, "saved the refreshed tokens the store could not take before")

    def _try_settle_unsaved(self) -> None:
        try:
            self._settle_unsaved()
        except TokenStoreError as exc:
            _log(logging.WARNING, f"{exc}; going on with the tokens held in memory")

    def _before_refresh(self, seen_access_token: str, forced: bool) -> tuple[TokenSet, str | None]:
        """Under the store's lock: the pair to use, and the refresh token to spend (None when
        another thread, task or process has refreshed already: use the pair as it is)."""
        self._try_settle_unsaved()
        pending = self._unsaved
        stored = pending.tokens if pending else self.store.load() or self.current()
        if stored.access_token != seen_access_token and (forced or self._fresh_enough(stored)):
            self._tokens = stored
            return stored, None
        if not stored.refresh_token:
            raise ReauthorizationRequired("the access token expired and there is no refresh token")
        if stored.refresh_token == self._dead_refresh_token:
            raise ReauthorizationRequired(
                "Sage rejected this grant's refresh token (invalid_grant): send the user through "
                "authorization again"
            )
        if pending is None:
            # The grant is safe in the store: find out now, not after Sage has rotated it, if
            # the new pair could not be saved. (With a pair held in memory only, refreshing
            # cannot make things worse.)
            reserve = getattr(self.store, "reserve", None)
            if reserve is not None:
                reserve()
        return stored, stored.refresh_token

    def _keep(self, new: TokenSet, replaced: str) -> TokenSet:
        self._tokens = new  # memory first: Sage has retired the old refresh token already
        if new.expires_at:
            self._token_life = new.expires_at - self.app.clock()
        # ``replaced`` is what the store still holds: after a chain of unsaved refreshes, that
        # is the first one's, not the last refresh token spent.
        pending = self._unsaved
        self._unsaved = _Unsaved(new, pending.replaced if pending else replaced)
        try:
            _save(self.store, new)
        except TokenStoreError as exc:
            raise TokenStoreError(
                f"{exc}; the refreshed tokens are kept in memory and saved on the next call"
            ) from exc
        self._unsaved = None
        _log(
            logging.DEBUG,
            f"refreshed the access token (expires {utc_time(new.expires_at, '%H:%M:%S')})",
        )
        return new

    def _refresh_failed(self, stored: TokenSet, error: BaseException) -> TokenSet:
        """No new pair came: drop the store's reservation, then decide what the call gets."""
        release = getattr(self.store, "release", None)
        if release is not None:
            release()
        if isinstance(error, APIConnectionError):
            return self._after_failed_refresh(stored, error)
        if isinstance(error, ReauthorizationRequired):
            # A sibling (another process, another host) may have rotated the pair: read the
            # store once more before calling the grant dead; then stop.
            again = self.store.load()
            if again is not None and again.refresh_token not in (None, stored.refresh_token):
                _log(logging.WARNING, "invalid_grant, but the store has a newer pair: using it")
                self._tokens = again
                return again
            self._dead_refresh_token = stored.refresh_token
            raise self._reauthorization(error) from None
        raise error

    def _after_failed_refresh(self, stored: TokenSet, error: APIConnectionError) -> TokenSet:
        # Sage may have rotated the pair before the answer was lost: never retry blindly. Use a
        # pair another party saved meanwhile (not the one the store held: with a pair unsaved,
        # that one is spent); else fail this call (the next one starts again from the store).
        held = self._unsaved.replaced if self._unsaved else stored.refresh_token
        again = self.store.load()
        if again is not None and again.refresh_token not in (held, stored.refresh_token):
            self._tokens = again
            return again
        raise error

    def _reauthorization(self, exc: ReauthorizationRequired) -> ReauthorizationRequired:
        """The error to raise for a dead grant: says why when a killed writer lost the pair."""
        note = getattr(self.store, "interrupted_save", None)
        return ReauthorizationRequired(redact(f"{exc} ({note})" if note else str(exc)))

    # -- sync ---------------------------------------------------------------------------------------

    def access_token(self) -> str:
        """An access token with more than ``refresh_margin`` seconds left (refreshing if need be)."""
        if self._unsaved is not None:
            try:
                with self.store.lock():
                    self._try_settle_unsaved()
            except TokenStoreError as exc:  # not even the lock: go on from memory
                _log(logging.WARNING, f"{exc}; going on with the tokens held in memory")
        tokens = self.current()
        if self._fresh_enough(tokens) or not tokens.refresh_token:
            return tokens.access_token
        return self._refresh(tokens.access_token).access_token

    def refresh_after_unauthorized(self, rejected_access_token: str) -> str:
        """Sage answered 401 to ``rejected_access_token``: a token to replay the call with once."""
        return self._refresh(rejected_access_token, forced=True).access_token

    def _refresh(self, seen_access_token: str, forced: bool = False) -> TokenSet:
        with self.store.lock():
            stored, refresh_token = self._before_refresh(seen_access_token, forced)
            if refresh_token is None:
                return stored
            with _ctrl_c_held_back():  # from spending the refresh token to keeping the new one
                try:
                    new = self.app.refresh(refresh_token)
                except BaseException as exc:
                    return self._refresh_failed(stored, exc)
                return self._keep(new, refresh_token)

    # -- async --------------------------------------------------------------------------------------

    def _loop_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._cache_lock:
            lock = self._loop_locks.get(loop)
            if lock is None:
                lock = self._loop_locks[loop] = asyncio.Lock()
            return lock

    async def aaccess_token(self) -> str:
        if self._unsaved is not None:
            try:
                async with self._loop_lock(), self.store.alock():
                    self._try_settle_unsaved()
            except TokenStoreError as exc:
                _log(logging.WARNING, f"{exc}; going on with the tokens held in memory")
        tokens = self.current()
        if self._fresh_enough(tokens) or not tokens.refresh_token:
            return tokens.access_token
        return (await self._arefresh(tokens.access_token)).access_token

    async def arefresh_after_unauthorized(self, rejected_access_token: str) -> str:
        return (await self._arefresh(rejected_access_token, forced=True)).access_token

    async def _arefresh(self, seen_access_token: str, forced: bool = False) -> TokenSet:
        # Tasks of this loop queue on an asyncio lock; the store's lock then covers threads and
        # processes without blocking the loop.
        async with self._loop_lock(), self.store.alock():
            stored, refresh_token = self._before_refresh(seen_access_token, forced)
            if refresh_token is None:
                return stored
            rotation = asyncio.ensure_future(self._arotate(stored, refresh_token))
            try:
                return await asyncio.shield(rotation)
            except asyncio.CancelledError:
                # Sage may have spent the old refresh token already: the rotation finishes and
                # keeps the new pair (still under the locks, bounded by the app's timeout), then
                # the cancellation goes on.
                await _uncancellable(rotation)
                raise

    async def _arotate(self, stored: TokenSet, refresh_token: str) -> TokenSet:
        try:
            new = await self.app.arefresh(refresh_token)
        except BaseException as exc:
            return self._refresh_failed(stored, exc)
        return self._keep(new, refresh_token)


@contextlib.contextmanager
def _ctrl_c_held_back() -> Iterator[None]:
    """Between spending a refresh token and keeping the pair that replaced it, a
    KeyboardInterrupt would kill the grant: the first Ctrl-C is held until the pair is kept (at
    most the token request's timeout), then raised; a second one interrupts at once. Only in the
    main thread (where signals are handled) and only over Python's own SIGINT handler."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    pressed: list[int] = []

    def hold(signum: int, frame: object) -> None:
        if pressed:
            raise KeyboardInterrupt
        pressed.append(signum)
        _log(logging.WARNING, "Ctrl-C: saving the refreshed tokens first (again: stop now)")

    previous = signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if pressed:
            raise KeyboardInterrupt


async def _uncancellable(task: asyncio.Future[TokenSet]) -> None:
    """Wait for ``task`` whatever cancels the waiter; its outcome is the task's own business
    (retrieved here, so that an error is not reported as never retrieved)."""
    while not task.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait([task])
    if not task.cancelled():
        task.exception()


def _save(store: TokenStore, tokens: TokenSet) -> None:
    """``store.save``, its failures (whatever a custom store raises) as ``TokenStoreError``."""
    try:
        store.save(tokens)
    except TokenStoreError:
        raise
    except Exception as exc:
        raise TokenStoreError(f"cannot save tokens to {store!r}: {exc}") from exc


def _log(level: int, message: str) -> None:
    if log.isEnabledFor(level):
        log.log(level, "%s", redact(message))


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, RecursionError):
        return None


_ACCEPT_JSON = {"Accept": "application/json"}


class CodeExchange(TypedDict):
    """``exchange_code``'s keyword arguments (for ``aexchange_code``)."""

    expected_state: str
    code_verifier: str
    callback_url: NotRequired[str | None]
    code: NotRequired[str | None]
    returned_state: NotRequired[str | None]


@contextlib.contextmanager
def _token_endpoint_errors(url: str) -> Iterator[None]:
    """httpx's transport errors at the token endpoint as ours (their text may quote the URL)."""
    try:
        yield
    except httpx.TimeoutException:
        raise APITimeoutError(
            "token endpoint timed out", method="POST", path=_path(url), business_id=None
        ) from None
    except httpx.TransportError as exc:
        raise APIConnectionError(
            type(exc).__name__, method="POST", path=_path(url), business_id=None
        ) from None


def _not_redirected(response: httpx.Response) -> httpx.Response:
    """The form carries the client secret and a code or refresh token: a 3xx is never followed
    (whatever the caller's httpx client says), and never taken for an answer."""
    if response.is_redirect:
        raise OAuthError(
            f"the token endpoint answered HTTP {response.status_code} (a redirect to "
            f"{_host(response.headers.get('location', ''))!r}): not followed, since the request "
            "carries the client secret; check token_url"
        )
    return response


_LOOPBACK = ("localhost", "127.0.0.1", "::1")


def _check_endpoint(name: str, url: str) -> None:
    """An OAuth endpoint the client secret and tokens may travel to: https (plain http only on
    this machine), a host, and no user name or password in it."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise ArgumentValueError(name, f"{url!r} is not a URL") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ArgumentValueError(name, f"{url!r} is not an https:// URL")
    if "@" in parts.netloc:
        raise ArgumentValueError(name, "must not carry a user name or password (the part before @)")
    if parts.scheme == "http" and host not in _LOOPBACK and not host.startswith("127."):
        raise ArgumentValueError(
            name, f"{url!r} is plain http: the client secret would travel in clear text (https)"
        )


def _host(url: str) -> str:
    try:
        return urllib.parse.urlsplit(url).hostname or url[:80]
    except ValueError:
        return url[:80]


def _path(url: str) -> str:
    return urllib.parse.urlsplit(url).path or "/"
