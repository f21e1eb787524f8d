"""OAuth against the fake Sage server: authorize, exchange, refresh (proactive, after a 401,
single-flight across threads and tasks), rotation, revoke, and the errors that say what to do."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import threading
import time
import urllib.parse
from typing import Any

import httpx
import pytest

from sage_accounting import (
    APITimeoutError,
    ArgumentValueError,
    AsyncSageAccounting,
    AuthenticationError,
    MemoryTokenStore,
    NoActiveSubscriptionError,
    OAuthApp,
    OAuthError,
    OAuthSession,
    ReauthorizationRequired,
    SageAccounting,
    StateMismatchError,
    TokenSet,
    TokenStoreError,
)
from sage_accounting.testing import Fault


def client_for(fake_sage: Any, session: Any, **kwargs: Any) -> SageAccounting:
    return SageAccounting(session=session, base_url=fake_sage.base_url, **kwargs)


def authorize(fake_sage: Any, app: OAuthApp, **kwargs: Any) -> tuple[Any, str]:
    """Send the user to the authorization URL; the fake consents at once. Returns the request
    and the callback URL Sage redirects to."""
    request = app.authorization_url(**kwargs)
    response = httpx.get(request.url, follow_redirects=False)
    assert response.status_code == 302
    return request, response.headers["location"]


def test_authorization_url_carries_state_pkce_and_options(oauth_app: OAuthApp) -> None:
    request = oauth_app.authorization_url(scope="readonly", country="GB", locale="en-GB")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(request.url).query))
    assert query["client_id"] == oauth_app.client_id
    assert query["response_type"] == "code" and query["scope"] == "readonly"
    assert query["redirect_uri"] == oauth_app.redirect_uri
    assert query["state"] == request.state and len(request.state) >= 32
    assert query["code_challenge_method"] == "S256"
    digest = hashlib.sha256(request.code_verifier.encode()).digest()
    assert query["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert (query["country"], query["locale"]) == ("gb", "en-GB")
    assert oauth_app.authorization_url().state != request.state
    assert request.code_verifier not in repr(request) and request.state not in repr(request)
    with pytest.raises(ValueError):
        oauth_app.authorization_url(scope="admin")  # type: ignore[arg-type]


def test_the_client_secret_is_required() -> None:
    with pytest.raises(ValueError, match="client secret"):
        OAuthApp("id", "", "https://example.com/cb")


def test_an_app_that_only_refreshes_needs_no_redirect_uri(
    fake_sage: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker or a server refreshes a grant another machine authorized: its id and secret
    suffice; the redirect URI is asked for where the code flow needs it, before any request."""
    monkeypatch.delenv("SAGE_REDIRECT_URI", raising=False)
    state = fake_sage.state
    app = OAuthApp(state.client_id, state.client_secret, token_url=fake_sage.token_url)
    assert app.redirect_uri is None
    session = OAuthSession(app, MemoryTokenStore())
    session.store.save(TokenSet.from_response(fake_sage.issue_tokens(expires_in=1), 0.0))
    client = SageAccounting(session=session, base_url=fake_sage.base_url)
    assert client.user.get() is not None  # refreshed (the pair was stale), then sent
    assert state.counts["rotation"] == 1
    with pytest.raises(ArgumentValueError, match="redirect_uri: is required to authorize"):
        app.authorization_url()
    with pytest.raises(ArgumentValueError, match="redirect_uri: is required to authorize"):
        app.exchange_code(expected_state="s", code_verifier="v", code="GB/c", returned_state="s")
    assert state.counts["exchange"] == 0  # refused before any request


def test_full_flow_from_authorization_to_a_call(fake_sage: Any, oauth_app: OAuthApp) -> None:
    request, callback = authorize(fake_sage, oauth_app)
    assert "code=GB%2F" in callback  # the code is region-prefixed
    tokens = oauth_app.exchange_code(
        callback_url=callback, expected_state=request.state, code_verifier=request.code_verifier
    )
    assert tokens.refresh_token and tokens.expires_at > fake_sage.clock.now() + 250
    client = client_for(fake_sage, OAuthSession(oauth_app, tokens=tokens))
    assert client.user.get().id == "user-1"
    # The code is single use.
    with pytest.raises(ReauthorizationRequired):
        oauth_app.exchange_code(
            callback_url=callback, expected_state=request.state, code_verifier=request.code_verifier
        )


def test_a_wrong_state_refuses_the_code_before_any_request(
    fake_sage: Any, oauth_app: OAuthApp
) -> None:
    request, callback = authorize(fake_sage, oauth_app)
    with pytest.raises(StateMismatchError):
        oauth_app.exchange_code(
            callback_url=callback, expected_state="forged", code_verifier=request.code_verifier
        )
    assert fake_sage.count("exchange") == 0


def test_a_wrong_pkce_verifier_is_refused(fake_sage: Any, oauth_app: OAuthApp) -> None:
    request, callback = authorize(fake_sage, oauth_app)
    with pytest.raises(ReauthorizationRequired):
        oauth_app.exchange_code(
            callback_url=callback, expected_state=request.state, code_verifier="x" * 64
        )


def test_refresh_rotates_and_the_old_refresh_token_dies(
    fake_sage: Any, oauth_app: OAuthApp
) -> None:
    first = TokenSet.from_response(fake_sage.issue_tokens(), fake_sage.clock.now())
    second = oauth_app.refresh(first.refresh_token or "")
    assert second.refresh_token != first.refresh_token
    with pytest.raises(ReauthorizationRequired, match="authorization again"):
        oauth_app.refresh(first.refresh_token or "")
    oauth_app.revoke(second.refresh_token or "")
    with pytest.raises(ReauthorizationRequired):
        oauth_app.refresh(second.refresh_token or "")


def test_proactive_refresh_inside_the_margin(fake_sage: Any, session: OAuthSession) -> None:
    client = client_for(fake_sage, session)
    client.user.get()
    fake_sage.clock.advance(250)  # 50 s left: inside the 60 s margin
    client.user.get()
    assert fake_sage.count("refresh") == 1
    assert fake_sage.count("GET /user") == 2  # refreshed before the call: no 401 on the way


def test_a_401_is_answered_by_one_refresh_and_one_replay(
    fake_sage: Any, oauth_app: OAuthApp
) -> None:
    tokens = TokenSet.from_response(fake_sage.issue_tokens(), fake_sage.clock.now())
    # The client believes the token is still good (as after clock skew): Sage says 401.
    session = OAuthSession(
        oauth_app, tokens=TokenSet(tokens.access_token, tokens.refresh_token, expires_at=0)
    )
    client = client_for(fake_sage, session)
    fake_sage.clock.advance(301)
    assert client.user.get().id == "user-1"
    assert fake_sage.count("refresh") == 1 and fake_sage.count("GET /user") == 2
    assert session.store.load().refresh_token != tokens.refresh_token  # type: ignore[union-attr]


def test_no_active_subscription_is_not_refreshed(fake_sage: Any, session: OAuthSession) -> None:
    fake_sage.inject(
        Fault(
            status=401, data_code="AuthorizationFailure", message="No active subscription", times=5
        )
    )
    with pytest.raises(NoActiveSubscriptionError, match="refreshing will not help"):
        client_for(fake_sage, session).user.get()
    assert fake_sage.count("refresh") == 0


def test_a_dead_refresh_token_says_reauthorize_and_does_not_loop(
    fake_sage: Any, oauth_app: OAuthApp
) -> None:
    tokens = TokenSet.from_response(fake_sage.issue_tokens(), fake_sage.clock.now())
    oauth_app.refresh(tokens.refresh_token or "")  # someone else used it: it is dead now
    session = OAuthSession(oauth_app, tokens=tokens)
    fake_sage.clock.advance(301)
    with pytest.raises(ReauthorizationRequired, match="authorization again"):
        client_for(fake_sage, session).contacts.get("x")
    assert fake_sage.count("refresh") == 2  # ours and the one above: no loop


def test_an_access_token_alone_still_makes_calls(fake_sage: Any, oauth_app: OAuthApp) -> None:
    issued = fake_sage.issue_tokens()
    assert (
        SageAccounting(access_token=issued["access_token"], base_url=fake_sage.base_url)
        .user.get()
        .id
    )
    session = OAuthSession(
        oauth_app,
        tokens=TokenSet(issued["access_token"], None, expires_at=fake_sage.clock.now() + 300),
    )
    fake_sage.clock.advance(290)  # inside the margin, but nothing to refresh with: use it as is
    assert client_for(fake_sage, session).user.get().id == "user-1"
    fake_sage.clock.advance(20)
    with pytest.raises(ReauthorizationRequired):
        client_for(fake_sage, session).user.get()


def test_fifty_threads_on_an_expired_token_refresh_once(
    fake_sage: Any, session: OAuthSession
) -> None:
    client = client_for(fake_sage, session)
    fake_sage.seed("contacts", 3)
    fake_sage.clock.advance(301)
    barrier = threading.Barrier(50)
    failures: list[BaseException] = []

    def call() -> None:
        barrier.wait()
        try:
            assert len(list(client.contacts.list())) == 3
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=call) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert fake_sage.count("refresh") == 1
    stored = session.store.load()
    assert stored is not None and stored.access_token in fake_sage.state.access_tokens
    assert stored.refresh_token not in fake_sage.state.used_refresh_tokens  # the newest pair


async def test_fifty_tasks_on_an_expired_token_refresh_once(
    fake_sage: Any, session: OAuthSession
) -> None:
    fake_sage.seed("contacts", 3)
    fake_sage.clock.advance(301)
    async with AsyncSageAccounting(session=session, base_url=fake_sage.base_url) as client:

        async def call() -> int:
            return len([c async for c in client.contacts.list()])

        results = await asyncio.gather(*(call() for _ in range(50)))
    assert results == [3] * 50
    assert fake_sage.count("refresh") == 1
    stored = session.store.load()
    assert stored is not None and stored.refresh_token not in fake_sage.state.used_refresh_tokens


def test_a_timed_out_refresh_is_not_retried_blindly(fake_sage: Any, oauth_app: OAuthApp) -> None:
    tokens = TokenSet.from_response(fake_sage.issue_tokens(), fake_sage.clock.now())
    session = OAuthSession(oauth_app, tokens=tokens)
    oauth_app.timeout = 0.3
    fake_sage.clock.advance(301)
    # Sage rotates the pair, but the answer never arrives in time.
    fake_sage.inject(Fault(kind="slow", delay=1.0, path="/token"))
    with pytest.raises(APITimeoutError):
        client_for(fake_sage, session).user.get()
    deadline = time.monotonic() + 5
    while fake_sage.count("refresh") < 1 and time.monotonic() < deadline:
        time.sleep(0.05)  # the slow answer is still on its way: let Sage rotate the pair
    assert fake_sage.count("refresh") == 1
    # The old refresh token is dead at Sage: the next call says so instead of looping.
    with pytest.raises(ReauthorizationRequired):
        client_for(fake_sage, session).user.get()


def test_after_a_timed_out_refresh_a_pair_stored_by_another_party_is_used(
    fake_sage: Any, oauth_app: OAuthApp
) -> None:
    store = MemoryTokenStore()
    tokens = TokenSet.from_response(fake_sage.issue_tokens(), fake_sage.clock.now())
    session = OAuthSession(oauth_app, store, tokens=tokens)
    fake_sage.clock.advance(301)
    real_refresh = oauth_app.refresh

    def refresh_lost_in_transit(refresh_token: str) -> TokenSet:
        store.save(real_refresh(refresh_token))  # another process got the answer and saved it
        raise APITimeoutError(
            "token endpoint timed out", method="POST", path="/token", business_id=None
        )

    oauth_app.refresh = refresh_lost_in_transit  # type: ignore[method-assign]
    assert client_for(fake_sage, session).user.get().id == "user-1"
    assert fake_sage.count("refresh") == 1


def test_an_invalid_token_without_a_session_raises_authentication_error(fake_sage: Any) -> None:
    with pytest.raises(AuthenticationError) as err:
        SageAccounting(access_token="not-a-token", base_url=fake_sage.base_url).user.get()
    assert err.value.status_code == 401 and "not-a-token" not in str(err.value)


async def test_the_async_oauth_methods(fake_sage: Any, oauth_app: OAuthApp) -> None:
    request, callback = authorize(fake_sage, oauth_app)
    tokens = await oauth_app.aexchange_code(
        callback_url=callback, expected_state=request.state, code_verifier=request.code_verifier
    )
    rotated = await oauth_app.arefresh(tokens.refresh_token or "")
    with pytest.raises(ReauthorizationRequired):
        await oauth_app.arefresh(tokens.refresh_token or "")
    await oauth_app.arevoke(rotated.refresh_token or "")
    with pytest.raises(ReauthorizationRequired):
        await oauth_app.arefresh(rotated.refresh_token or "")
    with pytest.raises(StateMismatchError):
        await oauth_app.aexchange_code(
            callback_url=callback, expected_state="other", code_verifier="v"
        )


# -- issue 8: a grant is never lost; a refresh that omits refresh_token; secrets redacted ---------


class FlakyStore(MemoryTokenStore):
    """A memory store whose saves fail while ``failing`` is set (as a full disk would)."""

    def __init__(self) -> None:
        super().__init__()
        self.failing = False
        self.saves = 0

    def save(self, tokens: TokenSet) -> None:
        if self.failing:
            raise OSError(28, "No space left on device")
        self.saves += 1
        super().save(tokens)


def flaky_session(fake_sage: Any, app: OAuthApp) -> tuple[FlakyStore, OAuthSession]:
    """A session on a freshly issued pair, kept in a FlakyStore."""
    store = FlakyStore()
    tokens = TokenSet.from_response(fake_sage.issue_tokens(), fake_sage.clock.now())
    return store, OAuthSession(app, store, tokens=tokens)


def test_a_failed_store_write_keeps_the_new_pair_in_memory_and_retries_it(
    fake_sage: Any, oauth_app: OAuthApp
) -> None:
    store, session = flaky_session(fake_sage, oauth_app)
    tokens = session.current()
    client = client_for(fake_sage, session)
    fake_sage.clock.advance(301)
    store.failing = True
    with pytest.raises(TokenStoreError, match="kept in memory") as err:
        client.user.get()
    assert isinstance(err.value.__cause__, TokenStoreError)
    assert isinstance(err.value.__cause__.__cause__, OSError)  # the cause, chained
    assert fake_sage.count("refresh") == 1 and session.unsaved
    # The next call works from memory (no second refresh, no ReauthorizationRequired) ...
    assert client.user.get().id == "user-1"
    assert fake_sage.count("refresh") == 1 and session.unsaved
    # ... and the call after the store recovers hands it the pair.
    store.failing = False
    assert client.user.get().id == "user-1"
    assert not session.unsaved
    saved = store.load()
    assert saved is not None and saved.refresh_token not in fake_sage.state.used_refresh_tokens
    assert saved.refresh_token != tokens.refresh_token


def test_two_refreshes_that_could_not_be_saved_still_reach_the_store(
    fake_sage: Any, oauth_app: OAuthApp
) -> None:
    store, session = flaky_session(fake_sage, oauth_app)
    client = client_for(fake_sage, session)
    store.failing = True
    for _ in range(2):  # the store stays broken for longer than an access token lives
        fake_sage.clock.advance(301)
        with pytest.raises(TokenStoreError):
            client.user.get()
        assert client.user.get().id == "user-1"
    store.failing = False
    assert client.user.get().id == "user-1"
    saved = store.load()
    assert saved is not None and saved == session.current() and not session.unsaved
    assert saved.refresh_token not in fake_sage.state.used_refresh_tokens  # the live grant
    assert fake_sage.count("refresh") == 2


def test_a_timed_out_refresh_of_an_unsaved_pair_never_falls_back_to_the_spent_one(
    fake_sage: Any, oauth_app: OAuthApp
) -> None:
    store, session = flaky_session(fake_sage, oauth_app)
    spent = session.current()
    fake_sage.clock.advance(301)
    store.failing = True
    with pytest.raises(TokenStoreError):
        session.access_token()
    fake_sage.clock.advance(301)

    def timed_out(refresh_token: str) -> TokenSet:
        raise APITimeoutError(
            "token endpoint timed out", method="POST", path="/token", business_id=None
        )

    oauth_app.refresh = timed_out  # type: ignore[method-assign]
    with pytest.raises(APITimeoutError):
        session.access_token()
    assert session.current() != spent and session.unsaved  # the store's pair is the spent one


def test_an_unsaved_pair_does_not_overwrite_a_grant_saved_meanwhile(
    fake_sage: Any, oauth_app: OAuthApp
) -> None:
    store, session = flaky_session(fake_sage, oauth_app)
    fake_sage.clock.advance(301)
    store.failing = True
    with pytest.raises(TokenStoreError):
        session.access_token()
    store.failing = False
    # The user authorized again in another process: that grant is in the store now.
    fresh = TokenSet.from_response(fake_sage.issue_tokens(), fake_sage.clock.now())
    MemoryTokenStore.save(store, fresh)
    assert session.access_token() == fresh.access_token
    assert store.load() == fresh and not session.unsaved


async def test_async_a_failed_store_write_keeps_the_new_pair_in_memory(
    fake_sage: Any, oauth_app: OAuthApp
) -> None:
    store, session = flaky_session(fake_sage, oauth_app)
    fake_sage.clock.advance(301)
    store.failing = True
    async with AsyncSageAccounting(session=session, base_url=fake_sage.base_url) as client:
        with pytest.raises(TokenStoreError):
            await client.user.get()
        assert (await client.user.get()).id == "user-1"
        store.failing = False
        assert (await client.user.get()).id == "user-1"
    assert fake_sage.count("refresh") == 1 and not session.unsaved


def mock_app(handler: Any, **kwargs: Any) -> OAuthApp:
    return OAuthApp(
        "client-id",
        "client-secret-0123456789",
        "https://example.com/cb",
        token_url="https://oauth.example.com/token",
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        **kwargs,
    )


def test_a_token_answer_without_refresh_token_keeps_the_old_one() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"access_token": "at-new-0123456789", "expires_in": 300})

    app = mock_app(answer, clock=lambda: 1_000.0)
    old = TokenSet("at-old-0123456789", "rt-keep-0123456789", expires_at=900.0)
    session = OAuthSession(app, tokens=old)
    assert session.access_token() == "at-new-0123456789"
    stored = session.store.load()
    assert stored is not None and stored.refresh_token == "rt-keep-0123456789"
    assert app.refresh("rt-keep-0123456789").refresh_token == "rt-keep-0123456789"


def test_secrets_echoed_by_the_token_endpoint_never_reach_the_exception(
    caplog: pytest.LogCaptureFixture,
) -> None:
    refresh_token = "rt-echoed-" + "9" * 30

    def echo(request: httpx.Request) -> httpx.Response:
        form = dict(urllib.parse.parse_qsl(request.content.decode()))
        return httpx.Response(
            400,
            json={
                "error": "invalid_request",
                "error_description": f"bad {form['refresh_token']} for {form['client_secret']}",
            },
        )

    app = mock_app(echo)
    session = OAuthSession(app, tokens=TokenSet("at-0123456789abc", refresh_token, expires_at=1))
    with caplog.at_level("DEBUG", logger="sage_accounting"), pytest.raises(OAuthError) as err:
        session.access_token()
    shown = str(err.value) + repr(err.value) + caplog.text + repr(session) + repr(app)
    assert "invalid_request" in str(err.value)
    assert refresh_token not in shown and "client-secret-0123456789" not in shown


def test_a_code_echoed_in_the_callback_error_is_redacted(oauth_app: OAuthApp) -> None:
    request = oauth_app.authorization_url()
    callback = "https://example.com/cb?" + urllib.parse.urlencode(
        {"error": "code GB/secretcode-0123456789 refused", "code": "GB/secretcode-0123456789"}
    )
    with pytest.raises(OAuthError) as err:
        oauth_app.exchange_code(
            callback_url=callback, expected_state=request.state, code_verifier=request.code_verifier
        )
    assert "GB/secretcode-0123456789" not in str(err.value)


def test_store_errors_name_the_file_but_never_a_token(tmp_path: Any) -> None:
    from sage_accounting import FileTokenStore

    path = tmp_path / "tokens.json"
    path.write_text('{"access_token": "at-in-a-bad-file-0123", "expires_at": "x"}')
    TokenSet("at-in-a-bad-file-0123")  # seen before: remembered as a secret
    with pytest.raises(TokenStoreError) as err:
        OAuthSession(mock_app(lambda r: httpx.Response(500)), FileTokenStore(path)).access_token()
    assert str(path) in str(err.value) and "at-in-a-bad-file-0123" not in str(err.value)


def test_an_endpoint_left_none_is_sages_and_an_empty_one_is_refused() -> None:
    from sage_accounting import ArgumentValueError

    sage = OAuthApp("id", "secret", "http://127.0.0.1/cb")
    given = OAuthApp("id", "secret", "http://127.0.0.1/cb", token_url=None, revoke_url=None)
    assert (given.authorize_url, given.token_url, given.revoke_url) == (
        sage.authorize_url, sage.token_url, sage.revoke_url,
    )  # fmt: skip
    assert sage.token_url.startswith("https://") and "sage.com" in sage.token_url
    with pytest.raises(ArgumentValueError, match="token_url"):
        OAuthApp("id", "secret", "http://127.0.0.1/cb", token_url="")
