"""OAuth attacked: callbacks an attacker shaped, token answers no store can keep, Ctrl-C and
cancellation in the middle of a refresh. Each test failed before its fix."""

from __future__ import annotations

import json
import math
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
