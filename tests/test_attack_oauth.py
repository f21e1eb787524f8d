"""OAuth attacked: callbacks an attacker shaped, token answers no store can keep, Ctrl-C and
cancellation in the middle of a refresh. Each test failed before its fix."""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from sage_accounting import (
    ArgumentValueError,
    FileTokenStore,
    OAuthApp,
    OAuthError,
    OAuthSession,
    StateMismatchError,
    TokenSet,
)


def authorize(fake_sage: Any, app: OAuthApp) -> tuple[Any, str]:
    request = app.authorization_url()
    response = httpx.get(request.url, follow_redirects=False)
    assert response.status_code == 302
    return request, response.headers["location"]


# -- the callback ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arguments",
    [
        # A web app whose session lost the state it stored passes "": an attacker's link with an
        # empty state must not then log the victim into the attacker's books (login CSRF).
        {"expected_state": "", "code": "GB/attacker", "returned_state": ""},
        {"expected_state": "", "callback_url": "http://127.0.0.1/cb?code=GB/a&state="},
    ],
)
def test_an_empty_expected_state_is_refused_before_any_request(
    fake_sage: Any, oauth_app: OAuthApp, arguments: dict[str, str]
) -> None:
    with pytest.raises(ArgumentValueError, match="expected_state"):
        oauth_app.exchange_code(code_verifier="v" * 64, **arguments)
    assert fake_sage.count("exchange") == 0


def test_an_empty_code_verifier_is_refused_before_any_request(
    fake_sage: Any, oauth_app: OAuthApp
) -> None:
    request, callback = authorize(fake_sage, oauth_app)
    with pytest.raises(ArgumentValueError, match="code_verifier"):
        oauth_app.exchange_code(
            callback_url=callback, expected_state=request.state, code_verifier=""
        )
    assert fake_sage.count("exchange") == 0


@pytest.mark.parametrize("extra", ["&code=GB%2Fattacker", "&state=other", "&error=x"])
def test_a_callback_carrying_a_parameter_twice_is_refused(
    fake_sage: Any, oauth_app: OAuthApp, extra: str
) -> None:
    """``?code=victim&state=good&code=attacker``: which code is meant is not guessed."""
    request, callback = authorize(fake_sage, oauth_app)
    name = extra[1:].split("=")[0]
    if name == "error":
        callback += "&error=y"
    with pytest.raises(OAuthError, match=f"{name!r} more than once") as err:
        oauth_app.exchange_code(
            callback_url=callback + extra,
            expected_state=request.state,
            code_verifier=request.code_verifier,
        )
    assert not isinstance(err.value, StateMismatchError) or name == "state"
    assert fake_sage.count("exchange") == 0


# -- token answers that no store could keep ----------------------------------------------------------


def hostile_app(answer: dict[str, Any]) -> OAuthApp:
    def token_endpoint(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=json.dumps(answer).encode(), headers={"content-type": "application/json"}
        )

    return OAuthApp(
        "cid",
        "client-secret-0123",
        "http://127.0.0.1/cb",
        token_url="https://oauth.example/token",
        http_client=httpx.Client(transport=httpx.MockTransport(token_endpoint)),
    )


GOOD = {"access_token": "AT-new-0123", "refresh_token": "RT-new-0123", "expires_in": 300}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("scope", ["full_access"]),
        ("requested_by_id", 42),
        ("expires_in", math.nan),
        ("expires_in", 1e308),
        ("expires_in", -5),
        ("expires_in", True),
        ("expires_in", "soon"),
        ("refresh_token_expires_in", math.inf),
        ("access_token", {"x": 1}),
        ("refresh_token", 12345),
    ],
)
def test_a_token_answer_the_store_could_not_read_back_is_an_oauth_error(
    tmp_path: Path, field: str, value: Any
) -> None:
    """Before: the pair was saved, and the file then refused by every later load (a grant
    nobody could use), or a raw ValueError/OverflowError, or ``str(dict)`` sent as a bearer."""
    path = tmp_path / "tokens.json"
    session = OAuthSession(
        hostile_app({**GOOD, field: value}),
        FileTokenStore(path),
        tokens=TokenSet("AT-old-0123", "RT-old-0123", expires_at=1.0),
    )
    with pytest.raises(OAuthError, match=f"{field!r}"):
        session.access_token()
    stored = FileTokenStore(path).load()  # still a readable store
    assert stored is not None and stored.access_token == "AT-old-0123"


def test_a_good_token_answer_is_still_kept(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    session = OAuthSession(
        hostile_app({**GOOD, "scope": "full_access", "refresh_token_expires_in": 2_678_400}),
        FileTokenStore(path),
        tokens=TokenSet("AT-old-0123", "RT-old-0123", expires_at=1.0),
    )
    assert session.access_token() == "AT-new-0123"
    stored = FileTokenStore(path).load()
    assert stored is not None and stored.refresh_token == "RT-new-0123"


@pytest.mark.parametrize("expires_at", [1e308, 1e17])
def test_a_token_set_far_in_the_future_still_has_a_repr(tmp_path: Path, expires_at: float) -> None:
    """A token file whose ``expires_at`` is beyond the platform's calendar: repr raised
    OverflowError (and so did every log line naming the pair)."""
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"access_token": "AT-0123", "expires_at": expires_at}))
    tokens = FileTokenStore(path).load()
    assert "AT-0123" not in repr(tokens)
    assert "expires_at=" in repr(tokens)


# -- Ctrl-C and cancellation while Sage rotates the pair ---------------------------------------------


def rotating_app(before_answer: Any) -> OAuthApp:
    """A token endpoint that rotates the pair (the old refresh token is spent once it is asked)
    and runs ``before_answer`` before its answer reaches the session."""

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        before_answer()
        return httpx.Response(200, json=GOOD)

    return OAuthApp(
        "cid",
        "client-secret-0123",
        "http://127.0.0.1/cb",
        token_url="https://oauth.example/token",
        http_client=httpx.Client(transport=httpx.MockTransport(token_endpoint)),
    )


def expired_session(app: OAuthApp, store: Any) -> OAuthSession:
    return OAuthSession(app, store, tokens=TokenSet("AT-old-0123", "RT-old-0123", expires_at=1.0))


def ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_while_sage_answers_the_refresh_never_loses_the_new_pair(tmp_path: Path) -> None:
    """Before: KeyboardInterrupt inside the token request; the old refresh token was spent and
    the new pair dropped, so the grant was dead (a browser login again)."""
    path = tmp_path / "tokens.json"
    session = expired_session(rotating_app(ctrl_c), FileTokenStore(path))
    with pytest.raises(KeyboardInterrupt):
        session.access_token()
    stored = FileTokenStore(path).load()
    assert stored is not None and stored.refresh_token == "RT-new-0123"
    assert session.current().access_token == "AT-new-0123"


class InterruptedSave(FileTokenStore):
    """Ctrl-C arrives while the new pair is being written."""

    def save(self, tokens: TokenSet) -> None:
        if tokens.access_token == "AT-new-0123":
            ctrl_c()
        super().save(tokens)


def test_ctrl_c_while_the_store_writes_the_new_pair_still_saves_it(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    session = expired_session(rotating_app(lambda: None), InterruptedSave(path))
    with pytest.raises(KeyboardInterrupt):
        session.access_token()
    stored = FileTokenStore(path).load()
    assert stored is not None and stored.refresh_token == "RT-new-0123"


def test_a_second_ctrl_c_interrupts_the_refresh_at_once(tmp_path: Path) -> None:
    """Held back is not ignored: pressed twice, Ctrl-C stops even a hung token request."""
    path = tmp_path / "tokens.json"
    reached = []

    def twice() -> None:
        ctrl_c()
        ctrl_c()
        reached.append("after")

    session = expired_session(rotating_app(twice), FileTokenStore(path))
    with pytest.raises(KeyboardInterrupt):
        session.access_token()
    assert reached == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler put back


async def test_a_cancelled_refresh_finishes_and_keeps_the_new_pair(tmp_path: Path) -> None:
    """``asyncio.timeout`` (or Ctrl-C under ``asyncio.run``, which cancels the main task) in
    the middle of the token request: before, the answer was dropped with the spent token."""
    answered = asyncio.Event()

    async def token_endpoint(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.3)
        answered.set()
        return httpx.Response(200, json=GOOD)

    app = OAuthApp(
        "cid",
        "client-secret-0123",
        "http://127.0.0.1/cb",
        token_url="https://oauth.example/token",
        async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(token_endpoint)),
    )
    path = tmp_path / "tokens.json"
    session = expired_session(app, FileTokenStore(path))
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await session.aaccess_token()
    assert answered.is_set()  # the cancellation waited for Sage's answer
    stored = FileTokenStore(path).load()
    assert stored is not None and stored.refresh_token == "RT-new-0123"
    assert await session.aaccess_token() == "AT-new-0123"


# -- the client secret and refresh token go to the token endpoint only -------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("call", ["refresh", "revoke", "exchange"])
async def test_a_redirect_from_the_token_endpoint_is_never_followed(status: int, call: str) -> None:
    """With the caller's httpx client set to follow redirects, a 307 from the token endpoint
    re-posted the client secret and the refresh token to wherever it pointed, and that host's
    answer was taken as the user's tokens."""
    seen: list[str] = []

    def endpoint(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url.host))
        if request.url.host == "oauth.example":
            return httpx.Response(status, headers={"location": "https://evil.example/steal"})
        return httpx.Response(200, json=GOOD)

    transport = httpx.MockTransport(endpoint)
    app = OAuthApp(
        "cid",
        "client-secret-0123",
        "http://127.0.0.1/cb",
        token_url="https://oauth.example/token",
        revoke_url="https://oauth.example/revoke",
        http_client=httpx.Client(follow_redirects=True, transport=transport),
        async_http_client=httpx.AsyncClient(follow_redirects=True, transport=transport),
    )
    exchange = {"code": "GB/c", "returned_state": "s", "expected_state": "s"}
    with pytest.raises(OAuthError, match=f"HTTP {status}"):
        if call == "refresh":
            app.refresh("RT-old-0123")
        elif call == "revoke":
            app.revoke("RT-old-0123")
        else:
            app.exchange_code(code_verifier="v" * 64, **exchange)
    with pytest.raises(OAuthError, match=f"HTTP {status}"):
        if call == "refresh":
            await app.arefresh("RT-old-0123")
        elif call == "revoke":
            await app.arevoke("RT-old-0123")
        else:
            await app.aexchange_code(code_verifier="v" * 64, **exchange)
    assert seen == ["oauth.example", "oauth.example"]


@pytest.mark.parametrize(
    "url",
    [
        "http://oauth.accounting.sage.com/token",  # the secret in clear text
        "https://user:pw@oauth.example/token",
        "https://oauth.accounting.sage.com@evil.example/token",
        "ftp://oauth.example/token",
        "oauth.accounting.sage.com/token",
        "not a url",
        "http://[::1/token",
    ],
)
@pytest.mark.parametrize("which", ["token_url", "revoke_url", "authorize_url"])
def test_an_endpoint_the_secret_should_not_travel_to_is_refused_at_once(
    url: str, which: str
) -> None:
    endpoints: dict[str, Any] = {which: url}
    with pytest.raises(ArgumentValueError, match=which):
        OAuthApp("cid", "client-secret-0123", "http://127.0.0.1/cb", **endpoints)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/token", "http://localhost/token", "http://[::1]:9/token"]
)
def test_plain_http_is_fine_on_this_machine(url: str) -> None:
    assert OAuthApp("cid", "client-secret-0123", "http://127.0.0.1/cb", token_url=url)


CTRL_C_REFRESHER = """
import sys
from sage_accounting import FileTokenStore, OAuthApp, OAuthSession
token_url, client_id, secret, path = sys.argv[1:5]
app = OAuthApp(client_id, secret, "http://127.0.0.1/callback", token_url=token_url, timeout=10)
print("refreshing", flush=True)
OAuthSession(app, FileTokenStore(path)).access_token()
"""


def test_ctrl_c_to_a_real_process_waiting_for_sage_s_answer_keeps_the_grant(
    fake_sage: Any, tmp_path: Path
) -> None:
    """SIGINT while Sage has rotated the pair but its answer is still on the way (the sandbox
    delays it by a second): the process ends with KeyboardInterrupt and the store holds the
    live pair."""
    from sage_accounting import SageAccounting
    from sage_accounting.testing import Fault

    issued = TokenSet.from_response(fake_sage.issue_tokens(), fake_sage.clock.now())
    path = tmp_path / "tokens.json"
    with FileTokenStore(path).lock():
        FileTokenStore(path).save(
            TokenSet(issued.access_token, issued.refresh_token, expires_at=time.time() - 60)
        )
    fake_sage.inject(Fault.latency(1.5, path="/token", after=True))
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(root / r) for r in ("generated", "src"))}
    args = [fake_sage.token_url, fake_sage.state.client_id, fake_sage.state.client_secret]
    child = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_REFRESHER, *args, str(path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline() == "refreshing\n"
    deadline = time.monotonic() + 10
    while fake_sage.count("POST /token") == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # Sage has rotated the pair; its answer is delayed
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=30)
    assert child.returncode != 0 and "KeyboardInterrupt" in stderr
    stored = FileTokenStore(path).load()
    assert stored is not None and stored.refresh_token != issued.refresh_token
    client = SageAccounting(access_token=stored.access_token, base_url=fake_sage.base_url)
    assert client.contacts.list().first_page() is not None  # the saved pair is the live one


# -- a careless user's OAuth mistakes are typed SDK errors -------------------------------------------


@pytest.mark.parametrize("missing", ["client_id", "client_secret", "redirect_uri"])
def test_a_missing_app_setting_is_a_sage_argument_error_naming_its_variable(missing: str) -> None:
    """Before: a bare ValueError, which ``except SageError`` does not catch."""
    from sage_accounting import SageArgumentError

    settings = {"client_id": "cid", "client_secret": "client-secret-0123", "redirect_uri": "x"}
    settings[missing] = ""
    with pytest.raises(SageArgumentError, match=f"SAGE_{missing.upper()}") as err:
        OAuthApp(
            client_id=settings["client_id"],
            client_secret=settings["client_secret"],
            redirect_uri=settings["redirect_uri"],
        )
    assert err.value.argument == missing and isinstance(err.value, ValueError)


def test_an_unknown_scope_is_a_sage_argument_error() -> None:
    app = OAuthApp("cid", "client-secret-0123", "http://127.0.0.1/cb")
    with pytest.raises(ArgumentValueError, match="scope"):
        app.authorization_url(scope="admin")  # type: ignore[arg-type]


@pytest.mark.parametrize("margin", [-1.0, math.nan, math.inf, "60"])
def test_a_refresh_margin_that_is_no_number_of_seconds_is_refused(margin: Any) -> None:
    """Before: NaN meant never refreshing ahead, a string failed at the first call with a raw
    TypeError."""
    app = OAuthApp("cid", "client-secret-0123", "http://127.0.0.1/cb")
    with pytest.raises(ArgumentValueError, match="refresh_margin"):
        OAuthSession(app, refresh_margin=margin)
