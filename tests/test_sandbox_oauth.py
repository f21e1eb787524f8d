"""The sandbox's OAuth server, checked with a standard client (authlib) rather than our own, and
its /businesses envelope against Sage's recorded answer (issue 23, point 11)."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client

from sage_accounting.testing import SageSandbox

WIRE = Path(__file__).resolve().parents[2] / "shared" / "wire" / "ledgerscope"


@pytest.fixture
def sandbox() -> Iterator[SageSandbox]:
    with SageSandbox(demo_data=False) as sage:
        yield sage


def authlib_client(sage: SageSandbox, method: str, **kwargs: str) -> OAuth2Client:
    return OAuth2Client(
        client_id=sage.state.client_id,
        client_secret=sage.state.client_secret,
        token_endpoint_auth_method=method,
        redirect_uri=kwargs.pop("redirect_uri", sage.state.redirect_uri),
        code_challenge_method="S256",
        **kwargs,
    )


def authorize(client: OAuth2Client, sage: SageSandbox, **params: str) -> httpx.Response:
    url, _state = client.create_authorization_url(sage.authorize_url, **params)
    return httpx.get(url, follow_redirects=False)


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_a_standard_client_authorizes_refreshes_and_revokes(
    sandbox: SageSandbox, method: str
) -> None:
    verifier = "v" * 64
    client = authlib_client(sandbox, method, scope="full_access")
    answer = authorize(client, sandbox, code_verifier=verifier)
    assert answer.status_code == 302
    token = client.fetch_token(
        sandbox.token_url, authorization_response=answer.headers["location"], code_verifier=verifier
    )
    assert token["token_type"] == "bearer" and token["expires_in"] == 300
    api = httpx.Client(base_url=sandbox.base_url)
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert api.get("/user", headers=bearer).status_code == 200

    refreshed = client.refresh_token(sandbox.token_url, refresh_token=token["refresh_token"])
    assert refreshed["refresh_token"] != token["refresh_token"]
    revoked = client.revoke_token(sandbox.revoke_url, token=refreshed["refresh_token"])
    assert revoked.status_code == 200
    # A revoked grant is dead: its access token too, and its refresh token.
    live = {"Authorization": f"Bearer {refreshed['access_token']}"}
    assert api.get("/user", headers=live).status_code == 401
    again = httpx.post(
        sandbox.token_url,
        data={"grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"]},
        auth=(sandbox.state.client_id, sandbox.state.client_secret),
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_token_answers_are_never_cached_and_a_bad_secret_is_invalid_client(
    sandbox: SageSandbox,
) -> None:
    good = httpx.post(
        sandbox.token_url,
        data={"grant_type": "refresh_token", "refresh_token": "rt-none"},
        auth=(sandbox.state.client_id, sandbox.state.client_secret),
    )
    basic = httpx.post(
        sandbox.token_url,
        data={"grant_type": "refresh_token", "refresh_token": "rt-none"},
        auth=(sandbox.state.client_id, "wrong"),
    )
    tokens = sandbox.issue_tokens()
    client = authlib_client(sandbox, "client_secret_basic")
    fresh = client.refresh_token(sandbox.token_url, refresh_token=tokens["refresh_token"])
    assert fresh["access_token"]
    for answer in (good, basic):
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["pragma"] == "no-cache"
    assert good.status_code == 400 and good.json()["error"] == "invalid_grant"
    assert basic.status_code == 401 and basic.json()["error"] == "invalid_client"
    assert basic.headers["www-authenticate"].startswith("Basic")


def test_authorize_checks_the_redirect_uri_and_the_scope(sandbox: SageSandbox) -> None:
    other_port = authlib_client(sandbox, "client_secret_basic",
                                redirect_uri="http://127.0.0.1:8400/callback")  # fmt: skip
    assert authorize(other_port, sandbox).status_code == 302  # a loopback port: RFC 8252
    for uri in ("https://evil.example/callback", "http://127.0.0.1:8400/elsewhere"):
        stranger = authlib_client(sandbox, "client_secret_basic", redirect_uri=uri)
        answer = authorize(stranger, sandbox)
        assert answer.status_code == 400 and "location" not in answer.headers  # no redirect
        assert "not registered" in answer.json()["error_description"]
    greedy = authlib_client(sandbox, "client_secret_basic", scope="full_access admin")
    answer = authorize(greedy, sandbox)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(answer.headers["location"]).query))
    assert query["error"] == "invalid_scope" and "code" not in query and query["state"]


def test_the_businesses_envelope_is_spelled_as_sage_sends_it(sandbox: SageSandbox) -> None:
    recorded = json.loads((WIRE / "GetAll_Business.json").read_text(encoding="utf-8-sig"))
    recorded_items = json.loads((WIRE / "GetAll_BankAccount.json").read_text(encoding="utf-8-sig"))
    headers = {"Authorization": f"Bearer {sandbox.access_token}"}
    businesses = httpx.get(sandbox.base_url + "/businesses", headers=headers).json()
    bank = httpx.get(sandbox.base_url + "/bank_accounts", headers=headers).json()
    assert set(businesses) == set(recorded)  # $items_per_page, as Sage's own answer has it
    assert set(bank) == set(recorded_items)  # $itemsPerPage everywhere else
