"""Headers the token travels with: a caller cannot override the method, the host, the framing
or the Authorization of a request, whatever the client (agents or not)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from sage_accounting import SageAccounting
from sage_accounting._runtime import ArgumentValueError

REFUSED = [
    "X-HTTP-Method-Override", "x-http-method-override", "X-HTTP-Method", "X-Method-Override",
    "X-Original-URL", "X-Rewrite-URL", "Host", "host", "Connection", "Keep-Alive", "TE",
    "Trailer", "Transfer-Encoding", "Upgrade", "Proxy-Authorization", "Proxy-Connection",
    "Content-Length", "Expect", "Authorization", "authorization",
]  # fmt: skip


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"id": "x"})


@pytest.mark.parametrize("name", REFUSED)
def test_a_header_that_changes_what_is_sent_is_refused_before_any_request(
    make_client: Callable[..., Any], name: str
) -> None:
    client, rec = make_client(ok)
    with pytest.raises(ArgumentValueError, match=f"header {name!r}") as caught:
        client.contacts.get("x", extra_headers={name: "DELETE"})
    assert "extra_headers" in str(caught.value)
    assert rec.requests == []


@pytest.mark.parametrize("name", ["X-HTTP-Method-Override", "Host", "authorization"])
def test_default_headers_are_held_to_the_same_rule(name: str) -> None:
    with pytest.raises(ArgumentValueError, match=f"default_headers: header {name!r}"):
        SageAccounting(access_token="t", default_headers={name: "x"})


@pytest.mark.parametrize("name", ["_method", "_METHOD"])
def test_a_method_override_in_the_query_is_refused(
    make_client: Callable[..., Any], name: str
) -> None:
    client, rec = make_client(ok)
    with pytest.raises(ArgumentValueError, match=f"{name!r}"):
        client.contacts.get("x", extra_query={name: "DELETE"})
    assert rec.requests == []


def test_the_request_carries_one_authorization_the_clients(
    make_client: Callable[..., Any],
) -> None:
    client, rec = make_client(ok, access_token="the-token")
    request = client.prepare(_contacts_get(), path={"key": "x"})
    request.headers["authorization"] = "Bearer someone-elses"  # a prepared request, edited
    client.send(request)
    assert rec.requests[0].headers.get_list("authorization") == ["Bearer the-token"]


def _contacts_get() -> Any:
    from sage_accounting._runtime import all_operations

    return all_operations()["getContactsKey"]


def test_a_header_added_to_a_prepared_request_is_refused_at_send(
    make_client: Callable[..., Any],
) -> None:
    client, rec = make_client(ok)
    request = client.prepare(_contacts_get(), path={"key": "x"})
    request.headers["X-HTTP-Method-Override"] = "DELETE"
    with pytest.raises(ArgumentValueError, match="header 'X-HTTP-Method-Override'"):
        client.send(request)
    assert rec.requests == []
