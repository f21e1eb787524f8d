"""Sage's OAuth endpoints as the sandbox plays them: authorize, token, revoke, bearer checks.

Access tokens last 5 minutes on the sandbox's clock (``access_token_seconds``); refresh tokens
are single use and rotate: a spent one used again gets 400 ``invalid_grant`` and, as with Sage,
kills the whole grant (every token descended from the same authorization); the code exchange
checks the redirect URI and PKCE.
Handlers return a ``Reply`` and are called with ``state.lock`` not held.
"""

from __future__ import annotations

import base64
import hashlib
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


def _client_ok(state: State, form: dict[str, str]) -> bool:
    return (
        form.get("client_id") == state.client_id
        and form.get("client_secret") == state.client_secret
    )


def token(state: State, form: dict[str, str]) -> Reply:
    with state.lock:
        state.token_requests.append(form)
        if not _client_ok(state, form):
            return Reply(400, {"error": "invalid_client"})
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
                return Reply(400, {"error": "invalid_grant"})
            challenge = code.get("code_challenge")
            if challenge:
                verifier = form.get("code_verifier", "")
                digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                if digest.rstrip(b"=").decode() != challenge:
                    return Reply(400, {"error": "invalid_grant", "error_description": "PKCE"})
            return Reply(200, issue(state, code["scope"]))
        if grant_type == "refresh_token":
            state.counts["refresh"] += 1
            refresh = form.get("refresh_token", "")
            grant = state.refresh_tokens.get(refresh)
            if grant is not None and refresh in state.used_refresh_tokens:
                # A spent refresh token: someone holds a copy. Sage ends the whole grant.
                if grant.family not in state.dead_families:
                    state.dead_families.add(grant.family)
                    state.counts["grant killed"] += 1
                return Reply(400, {"error": "invalid_grant"})
            if (
                grant is None
                or grant.family in state.dead_families
                or now > grant.refresh_expires_at
            ):
                return Reply(400, {"error": "invalid_grant"})
            state.used_refresh_tokens.add(refresh)  # single use: the old one dies
            state.counts["rotation"] += 1
            return Reply(200, issue(state, grant.scope, family=grant.family))
        return Reply(400, {"error": "unsupported_grant_type"})


def revoke(state: State, form: dict[str, str]) -> Reply:
    with state.lock:
        state.counts["revoke"] += 1
        if not _client_ok(state, form):
            return Reply(400, {"error": "invalid_client"})
        state.used_refresh_tokens.add(form.get("token", ""))
    return Reply(200, {"success": "ok"})


def authorize(state: State, query: dict[str, str]) -> Reply:
    """The user signs in and consents at once: redirect back with a region-prefixed code.

    Any redirect URI is accepted (a command line's one-shot callback port changes every run);
    the code exchange must then repeat the same one, as with Sage.
    """
    if query.get("client_id") != state.client_id or query.get("response_type") != "code":
        return Reply(400, {"error": "invalid_request"})
    code = "GB/" + secrets.token_hex(12)
    with state.lock:
        state.codes[code] = {
            "redirect_uri": query.get("redirect_uri"),
            "scope": query.get("scope", "full_access"),
            "expires_at": state.clock.now() + CODE_SECONDS,
            "code_challenge": query.get("code_challenge"),
        }
    params = {"code": code, "country": "GB", "state": query.get("state", "")}
    location = query.get("redirect_uri", "") + "?" + urllib.parse.urlencode(params)
    return Reply(302, None, {"Location": location})
