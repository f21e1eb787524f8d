"""Sage's OAuth endpoints as the sandbox plays them: authorize, token, revoke, bearer checks.

Access tokens last 5 minutes on the sandbox's clock (``access_token_seconds``); refresh tokens
are single use and rotate: a spent one used again gets 400 ``invalid_grant`` and, as with Sage,
kills the whole grant (every token descended from the same authorization); the code exchange
checks the redirect URI and PKCE.
As RFC 6749 and 7009 require of any OAuth server (so a standard client works against it):

- the client authenticates at the token and revoke endpoints with HTTP Basic or with
  ``client_id``/``client_secret`` in the form (Sage's documented way), never both;
- ``authorize`` gives a code only to the registered redirect URI (a loopback one with any port,
  RFC 8252) and for Sage's scopes (``readonly``, ``full_access``); anything else is refused
  without a redirect, or redirected back with ``invalid_scope``;
- a revoked token's grant is dead: its refresh token and its access token stop working;
- token responses carry ``Cache-Control: no-store`` and ``Pragma: no-cache``.

Handlers return a ``Reply`` and are called with ``state.lock`` not held.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import urllib.parse
from typing import Any

from ._state import (
    CODE_SECONDS,
    REFRESH_TOKEN_IDLE_SECONDS,
    Grant,
    Reply,
    State,
    error,
)


def issue(
    state: State, scope: str, expires_in: int | None = None, family: str | None = None
) -> dict[str, Any]:
    """A fresh token pair, as Sage's token endpoint returns it (call with the lock held);
    ``family``: the grant it renews (None: a new authorization)."""
    now = state.clock.now()
    expires_in = state.access_token_seconds if expires_in is None else expires_in
    grant = Grant(
        access_token="at-" + secrets.token_hex(24),
        refresh_token="rt-" + secrets.token_hex(24),
        access_expires_at=now + expires_in,
        refresh_expires_at=now + REFRESH_TOKEN_IDLE_SECONDS,
        scope=scope,
        family=family or secrets.token_hex(8),
    )
    state.access_tokens[grant.access_token] = grant
    state.refresh_tokens[grant.refresh_token] = grant
    return {
        "access_token": grant.access_token,
        "token_type": "bearer",
        "expires_in": expires_in,
        "refresh_token": grant.refresh_token,
        "refresh_token_expires_in": REFRESH_TOKEN_IDLE_SECONDS,
        "scope": scope,
        "requested_by_id": "user-1",
    }


def check_bearer(state: State, authorization: str) -> Reply | None:
    """None when the bearer token is live, else Sage's 401."""
    token = authorization[len("Bearer ") :] if authorization.startswith("Bearer ") else ""
    with state.lock:
        grant = state.access_tokens.get(token)
        now = state.clock.now()
    if grant is None or grant.family in state.dead_families:
        return Reply(401, error("Unauthorized", "invalid access token"))
    if now >= grant.access_expires_at:
        return Reply(401, error("Unauthorized", "access token expired"))
    return None


SCOPES = frozenset({"readonly", "full_access"})
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _oauth_reply(
    status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
) -> Reply:
    return Reply(status, payload, {**NO_STORE, **(headers or {})})


def _client_refusal(state: State, form: dict[str, str], authorization: str) -> Reply | None:
    """None when the client authenticated (HTTP Basic, or the form's credentials), else the
    error RFC 6749 section 5.2 gives: 401 with a challenge for Basic, 400 for the form."""
    basic = authorization[6:] if authorization[:6].lower() == "basic " else None
    if basic is not None and ("client_secret" in form):
        return _oauth_reply(400, {"error": "invalid_request",
                                  "error_description": "one client authentication method only"})  # fmt: skip
    if basic is not None:
        try:
            user, _, password = base64.b64decode(basic, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            user = password = ""
        client_id, secret = urllib.parse.unquote_plus(user), urllib.parse.unquote_plus(password)
        if form.get("client_id", client_id) != client_id or not _is_client(
            state, client_id, secret
        ):
            return _oauth_reply(401, {"error": "invalid_client"},
                                {"WWW-Authenticate": 'Basic realm="sandbox"'})  # fmt: skip
        return None
    if not _is_client(state, form.get("client_id", ""), form.get("client_secret", "")):
        return _oauth_reply(400, {"error": "invalid_client"})
    return None


def _is_client(state: State, client_id: str, secret: str) -> bool:
    return hmac.compare_digest(
        client_id.encode(), state.client_id.encode()
    ) and hmac.compare_digest(secret.encode(), state.client_secret.encode())


def token(state: State, form: dict[str, str], authorization: str = "") -> Reply:
    with state.lock:
        state.token_requests.append(form)
        refused = _client_refusal(state, form, authorization)
        if refused is not None:
            return refused
        grant_type = form.get("grant_type")
        now = state.clock.now()
        if grant_type == "authorization_code":
            state.counts["exchange"] += 1
            code = state.codes.pop(form.get("code", ""), None)
            if (
                code is None
                or now > code["expires_at"]
                or form.get("redirect_uri") != code["redirect_uri"]
            ):
                return _oauth_reply(400, {"error": "invalid_grant"})
            challenge = code.get("code_challenge")
            if challenge:
                verifier = form.get("code_verifier", "")
                digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                if digest.rstrip(b"=").decode() != challenge:
                    return _oauth_reply(
                        400, {"error": "invalid_grant", "error_description": "PKCE"}
                    )
            return _oauth_reply(200, issue(state, code["scope"]))
        if grant_type == "refresh_token":
            state.counts["refresh"] += 1
            refresh = form.get("refresh_token", "")
            grant = state.refresh_tokens.get(refresh)
            if grant is not None and refresh in state.used_refresh_tokens:
                # A spent refresh token: someone holds a copy. Sage ends the whole grant.
                if grant.family not in state.dead_families:
                    state.dead_families.add(grant.family)
                    state.counts["grant killed"] += 1
                return _oauth_reply(400, {"error": "invalid_grant"})
            if (
                grant is None
                or grant.family in state.dead_families
                or now > grant.refresh_expires_at
            ):
                return _oauth_reply(400, {"error": "invalid_grant"})
            state.used_refresh_tokens.add(refresh)  # single use: the old one dies
            state.counts["rotation"] += 1
            return _oauth_reply(200, issue(state, grant.scope, family=grant.family))
        return _oauth_reply(400, {"error": "unsupported_grant_type"})


def revoke(state: State, form: dict[str, str], authorization: str = "") -> Reply:
    """RFC 7009: the token's grant dies (its refresh and its access token); an unknown token
    is answered 200 all the same."""
    with state.lock:
        state.counts["revoke"] += 1
        refused = _client_refusal(state, form, authorization)
        if refused is not None:
            return refused
        token_value = form.get("token", "")
        grant = state.refresh_tokens.get(token_value) or state.access_tokens.get(token_value)
        state.used_refresh_tokens.add(token_value)
        if grant is not None:
            state.used_refresh_tokens.add(grant.refresh_token)
            state.access_tokens.pop(grant.access_token, None)
    return _oauth_reply(200, {"success": "ok"})


def registered(state: State, redirect_uri: str) -> bool:
    """The registered redirect URI exactly, or, when that is a loopback one, the same with any
    port (RFC 8252 section 7.3: a native app's callback server takes a free port)."""
    if redirect_uri == state.redirect_uri:
        return True
    asked, known = urllib.parse.urlsplit(redirect_uri), urllib.parse.urlsplit(state.redirect_uri)
    return (
        known.hostname in ("127.0.0.1", "localhost", "::1")
        and known.port is None
        and (asked.scheme, asked.hostname, asked.path, asked.query)
        == (known.scheme, known.hostname, known.path, known.query)
    )


def authorize(state: State, query: dict[str, str]) -> Reply:
    """The user signs in and consents at once: redirect back with a region-prefixed code.

    An unknown client or an unregistered redirect URI is answered here, never redirected
    (RFC 6749 section 4.1.2.1); a wrong ``response_type`` or ``scope`` goes back to the client
    as an error with its ``state``. The code exchange must repeat the same redirect URI.
    """
    redirect_uri = query.get("redirect_uri", "")
    if query.get("client_id") != state.client_id:
        return Reply(400, {"error": "invalid_client", "error_description": "unknown client_id"})
    if not registered(state, redirect_uri):
        return Reply(400, {"error": "invalid_request",
                           "error_description": f"redirect_uri {redirect_uri!r} is not registered"})  # fmt: skip
    scope = query.get("scope", "full_access")
    problem = (
        "unsupported_response_type"
        if query.get("response_type") != "code"
        else "invalid_scope" if not scope.split() or not set(scope.split()) <= SCOPES else None
    )
    if problem:
        params = {"error": problem, "state": query.get("state", "")}
        return Reply(302, None, {"Location": redirect_uri + "?" + urllib.parse.urlencode(params)})
    code = "GB/" + secrets.token_hex(12)
    with state.lock:
        state.codes[code] = {
            "redirect_uri": redirect_uri,
            "scope": scope,
            "expires_at": state.clock.now() + CODE_SECONDS,
            "code_challenge": query.get("code_challenge"),
        }
    params = {"code": code, "country": "GB", "state": query.get("state", "")}
    return Reply(302, None, {"Location": redirect_uri + "?" + urllib.parse.urlencode(params)})
