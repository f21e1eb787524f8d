"""The fault matrix: every fault a hostile or broken server can make, sync and async.

Each row of ``MATRIX`` is one fault: what the server answers (in order; the last answer
repeats), which call meets it, the outcome (``OK``, the exact ``SageError`` subclass, or the
warning) and how many requests the server must have seen. For every row and both clients the
test also checks that the token never appears in logs (DEBUG, every logger), reprs or exception
text, that a second server on another port (the "foreign" host that links and redirects point
to) saw nothing, and that nothing hangs (a 10 s alarm; backoff waits are recorded, not slept).

Clients have ``business_id="b1"``, ``timeout=2`` and the default two retries. Token-side rows
(expired token, 401 replay, dead grant, store write failure, SIGKILL during refresh) belong to
the token store's own tests.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

import httpx
import pytest

from sage_accounting import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    AsyncSageAccounting,
    AuthenticationError,
    BadRequestError,
    BusinessMismatchError,
    InternalServerError,
    MissingBusinessHeaderError,
    MissingBusinessHeaderWarning,
    NotFoundError,
    RateLimitError,
    RedirectError,
    SageAccounting,
    UnprocessableEntityError,
    UntrustedURLError,
)
from sage_accounting._runtime import _client as client_module

from .server import FaultServer, Reply

TOKEN = "fault-matrix-token-5f1c2e9a7b"
OK = None  # the call succeeds

# -- answers used in the table ---------------------------------------------------------------------

RECORD = Reply(200, {"id": "c1", "displayed_as": "C1"})
CREATED = Reply(201, {"id": "new"})
DEEP = b"[" * 100_000 + b"]" * 100_000
HUGE = json.dumps({"id": "c1", "notes": "x" * 4_000_000}).encode()  # 4 MB, valid
HUGE_HTML = b"<html>" + b"<p>gateway</p>" * 300_000 + b"</html>"  # 4 MB, not JSON


def SOON() -> str:  # noqa: N802 (read as a constant in the table): an HTTP date a minute from now
    return formatdate(time.time() + 60, usegmt=True)


def page(next_link: str | None) -> Reply:
    return Reply(200, {"$items": [{"id": "a"}], "$total": 2, "$page": 1, "$next": next_link})


LAST_PAGE = Reply(200, {"$items": [{"id": "b"}], "$total": 2, "$page": 2, "$next": None})


@dataclass(frozen=True)
class Case:
    name: str
    answers: tuple[Reply, ...]
    call: str  # get, list, delete, post (no idempotency id), post_idem (with one)
    outcome: type[Exception] | None  # None: success
    requests: int  # requests the server saw
    waits: tuple[tuple[float, float], ...] | None = None  # (low, high) of each retry wait
    client: dict[str, Any] = field(default_factory=dict)  # extra client arguments


def row(name: str, answers: list[Reply], call: str, outcome: type[Exception] | None,
        requests: int, **more: Any) -> Any:  # fmt: skip
    return pytest.param(Case(name, tuple(answers), call, outcome, requests, **more), id=name)


# fmt: off
MATRIX = [
    #   case                              answers (in order)                                    call         outcome                     requests seen
    # -- rate limits and server errors: Retry-After as seconds, HTTP date, garbage, negative, none
    row("429 without Retry-After",        [Reply(429), RECORD],                                 "get",       OK,                         2, waits=((0.375, 0.5),)),
    row("429 Retry-After 1 s",            [Reply(429, headers={"Retry-After": "1"}), RECORD],   "get",       OK,                         2, waits=((1.0, 1.0),)),
    row("429 Retry-After HTTP date",      [Reply(429, headers={"Retry-After": SOON}), RECORD],  "get",       OK,                         2, waits=((1.0, 60.0),)),
    row("429 Retry-After garbage",        [Reply(429, headers={"Retry-After": "soon"}), RECORD], "get",      OK,                         2, waits=((0.375, 0.5),)),
    row("429 Retry-After negative",       [Reply(429, headers={"Retry-After": "-5"}), RECORD],  "get",       OK,                         2, waits=((0.375, 0.5),)),
    row("429 Retry-After over the cap",   [Reply(429, headers={"Retry-After": "3600"})],        "get",       RateLimitError,             1),
    row("429 every time",                 [Reply(429)],                                         "get",       RateLimitError,             3),
    row("500 without Retry-After",        [Reply(500), RECORD],                                 "get",       OK,                         2, waits=((0.375, 0.5),)),
    row("503 Retry-After 2 s",            [Reply(503, headers={"Retry-After": "2"}), RECORD],   "get",       OK,                         2, waits=((2.0, 2.0),)),
    row("503 Retry-After HTTP date",      [Reply(503, headers={"Retry-After": SOON}), RECORD],  "get",       OK,                         2, waits=((1.0, 60.0),)),
    row("502 Retry-After garbage",        [Reply(502, headers={"Retry-After": "x"}), RECORD],   "get",       OK,                         2, waits=((0.375, 0.5),)),
    row("503 Retry-After negative",       [Reply(503, headers={"Retry-After": "-1"}), RECORD],  "get",       OK,                         2, waits=((0.375, 0.5),)),
    row("504 after a delay",              [Reply(504, delay=0.2), RECORD],                      "get",       OK,                         2),
    row("5xx every time",                 [Reply(500), Reply(502), Reply(503)],                 "get",       InternalServerError,        3),
    row("500 on DELETE",                  [Reply(500), Reply(204, b"")],                        "delete",    OK,                         2),
    row("500 on POST, no idempotency id", [Reply(500), CREATED],                                "post",      InternalServerError,        1),
    row("503 on POST with idempotency id", [Reply(503, headers={"Retry-After": "1"}), CREATED], "post_idem", OK,                         2, waits=((1.0, 1.0),)),
    row("500 with a 4 MB HTML body",      [Reply(500, HUGE_HTML)],                              "get",       InternalServerError,        3),
    # -- the connection
    row("dropped before the response",    [Reply(drop="before"), RECORD],                       "get",       OK,                         2),
    row("dropped before, every time",     [Reply(drop="before")],                               "get",       APIConnectionError,         3),
    row("dropped mid-response",           [Reply(body=HUGE, drop="mid"), RECORD],               "get",       OK,                         2),
    row("dropped before, POST no id",     [Reply(drop="before"), CREATED],                      "post",      APIConnectionError,         1),
    row("dropped mid, POST no id",        [Reply(201, HUGE, drop="mid"), CREATED],              "post",      APIConnectionError,         1),
    row("dropped mid, POST with id",      [Reply(201, HUGE, drop="mid"), CREATED],              "post_idem", OK,                         2),
    row("read timeout",                   [Reply(delay=1.0)],                                   "get",       APITimeoutError,            3, client={"timeout": 0.15}),
    row("read timeout, POST no id",       [Reply(delay=1.0)],                                   "post",      APITimeoutError,            1, client={"timeout": 0.15}),
    # -- success bodies that are not what the operation returns
    row("invalid JSON",                   [Reply(200, b'{"id": ')],                             "get",       APIResponseValidationError, 1),
    row("empty body",                     [Reply(200, b"")],                                    "get",       APIResponseValidationError, 1),
    row("HTML body",                      [Reply(200, b"<html><h1>Maintenance</h1></html>")],   "get",       APIResponseValidationError, 1),
    row("truncated body",                 [Reply(200, b'{"id": "c1", "displayed_as": "C')],     "get",       APIResponseValidationError, 1),
    row("huge body (4 MB), valid",        [Reply(200, HUGE)],                                   "get",       OK,                         1),
    row("huge body (4 MB), HTML",         [Reply(200, HUGE_HTML)],                              "get",       APIResponseValidationError, 1),
    row("nested 100k deep",               [Reply(200, b'{"a":' + DEEP + b"}")],                 "get",       APIResponseValidationError, 1),
    row("nested 100k deep, error body",   [Reply(400, DEEP)],                                   "get",       BadRequestError,            1),
    row("nested 100k deep, list",         [Reply(200, DEEP)],                                   "list",      APIResponseValidationError, 1),
    row("not UTF-8",                      [Reply(200, b'{"id": "\xff\xfe\xfd"}')],              "get",       APIResponseValidationError, 1),
    row("UTF-8 BOM",                      [Reply(200, b'\xef\xbb\xbf{"id": "c1"}')],            "get",       OK,                         1),
    row("null",                           [Reply(200, b"null")],                                "get",       APIResponseValidationError, 1),
    row("[1, 2] for a record",            [Reply(200, b"[1, 2]")],                              "get",       APIResponseValidationError, 1),
    row("a list envelope for a get",      [Reply(200, {"$items": [], "$total": 0})],            "get",       APIResponseValidationError, 1),
    row("a record for a list",            [RECORD],                                             "list",      APIResponseValidationError, 1),
    row("error body echoing the token",   [Reply(400, echo_token=True)],                        "get",       BadRequestError,            1),
    row("422 on POST",                    [Reply(422, [{"$dataCode": "RecordInvalid"}])],       "post_idem", UnprocessableEntityError,   1),
    row("401 with a bare token",          [Reply(401, [{"$dataCode": "Unauthorized"}])],        "get",       AuthenticationError,        1),
    row("404",                            [Reply(404, [{"$dataCode": "RecordNotFound"}])],      "get",       NotFoundError,              1),
    # -- redirects (never followed: the token would go with them)
    row("302 to a foreign host",          [Reply(302, b"", {"Location": "{other}/steal"})],     "get",       RedirectError,              1),
    row("301 within the base URL",        [Reply(301, b"", {"Location": "{base}/contacts/c2"})], "get",      RedirectError,              1),
    row("307 on POST",                    [Reply(307, b"", {"Location": "{other}/steal"})],     "post_idem", RedirectError,              1),
    row("302, http_client follows",       [Reply(302, b"", {"Location": "{other}/steal"})],     "get",       RedirectError,              1, client={"follow_redirects": True}),
    # -- $next links
    row("$next within the base URL",      [page("/contacts?page=2"), LAST_PAGE],                "list",      OK,                         2),
    row("$next absolute, same origin",    [page("{base}/contacts?page=2"), LAST_PAGE],          "list",      OK,                         2),
    row("$next to a foreign host",        [page("{other}/steal")],                              "list",      UntrustedURLError,          1),
    row("$next to another port",          [page("{other}/v3.1/contacts?page=2")],               "list",      UntrustedURLError,          1),
    row("$next leaving the base path",    [page("/../steal")],                                  "list",      UntrustedURLError,          1),
    row("$next malformed",                [page("http://[::1")],                                "list",      UntrustedURLError,          1),
    row("$next javascript:",              [page("javascript:alert(1)")],                        "list",      UntrustedURLError,          1),
    # -- X-Business
    row("wrong X-Business",               [Reply(200, {"id": "c1"}, {"X-Business": "b2"})],     "get",       BusinessMismatchError,      1),
    row("missing X-Business (warn)",      [Reply(200, {"id": "c1"}, echo_business=False)],      "get",       MissingBusinessHeaderWarning, 1),
    row("missing X-Business (error)",     [Reply(200, {"id": "c1"}, echo_business=False)],      "get",       MissingBusinessHeaderError, 1, client={"missing_business_header": "error"}),
]
# fmt: on


# -- running a row ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def bounded() -> Iterator[None]:
    """No row may hang: a SIGALRM ends it after 10 s (the whole matrix takes a few seconds)."""
    import signal

    def give_up(*_args: Any) -> None:
        raise TimeoutError("a fault-matrix row hung")

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Backoff and Retry-After waits, recorded instead of slept (sync and async)."""
    waited: list[float] = []

    async def record(seconds: float) -> None:
        waited.append(seconds)

    monkeypatch.setattr("sage_accounting._runtime._client.time.sleep", waited.append)
    monkeypatch.setattr(client_module, "_sleep", record)
    return waited


def fill(answer: Reply, other: FaultServer, server: FaultServer) -> Reply:
    """The answer with ``{other}`` and ``{base}`` naming the running servers (a header given as a
    function, ``SOON``, is left for the server to work out as it answers)."""

    def sub(text: str) -> str:
        return text.replace("{other}", other.url).replace("{base}", server.base_url)

    body = answer.body
    if not isinstance(body, bytes):
        body = json.loads(sub(json.dumps(body)))
    headers = {k: v if callable(v) else sub(v) for k, v in answer.headers.items()}
    return dataclasses.replace(answer, body=body, headers=headers)


def make_client(mode: str, server: FaultServer, extra: dict[str, Any]) -> Any:
    extra = dict(extra)
    follow = extra.pop("follow_redirects", False)
    kwargs: dict[str, Any] = {
        "access_token": TOKEN,
        "base_url": server.base_url,
        "business_id": "b1",
        "timeout": 2.0,
        **extra,
    }
    if mode == "sync":
        return SageAccounting(http_client=httpx.Client(follow_redirects=follow), **kwargs)
    return AsyncSageAccounting(http_client=httpx.AsyncClient(follow_redirects=follow), **kwargs)


CONTACT = {"name": "Acme", "contact_type_ids": ["CUSTOMER"]}


def call_sync(client: Any, call: str) -> Any:
    contacts = client.contacts
    if call == "get":
        return contacts.get("c1")
    if call == "list":
        return list(contacts.list())
    if call == "delete":
        return contacts.delete("c1")
    if call == "post":
        return contacts.create(contact=CONTACT, idempotency_id=False)
    return contacts.create(contact=CONTACT)


async def call_async(client: Any, call: str) -> Any:
    contacts = client.contacts
    if call == "get":
        return await contacts.get("c1")
    if call == "list":
        return [c async for c in contacts.list()]
    if call == "delete":
        return await contacts.delete("c1")
    if call == "post":
        return await contacts.create(contact=CONTACT, idempotency_id=False)
    return await contacts.create(contact=CONTACT)


def run(mode: str, client: Any, call: str) -> Any:
    if mode == "sync":
        return call_sync(client, call)

    async def bounded_call() -> Any:
        try:
            return await asyncio.wait_for(call_async(client, call), 8)
        finally:
            await client._http.aclose()

    return asyncio.run(bounded_call())


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("case", MATRIX)
def test_fault(case: Case, mode: str, waits: list[float], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: ours, httpx's, httpcore's
    with FaultServer() as other, FaultServer() as server:
        server.script = [fill(answer, other, server) for answer in case.answers]
        client = make_client(mode, server, case.client)
        error: BaseException | None = None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                run(mode, client, case.call)
            except Exception as exc:  # checked below, against the row
                error = exc
        if mode == "sync":
            client._http.close()

    if case.outcome is None or issubclass(case.outcome, Warning):
        assert error is None, f"expected success, got {error!r}"
    else:
        assert type(error) is case.outcome, f"expected {case.outcome.__name__}, got {error!r}"
    warned = [w.category for w in caught if issubclass(w.category, MissingBusinessHeaderWarning)]
    assert warned == ([case.outcome] if case.outcome is MissingBusinessHeaderWarning else [])

    assert len(server.requests) == case.requests, [s.target for s in server.requests]
    assert other.requests == [], "the foreign host saw a request"
    assert all(s.headers["authorization"] == f"Bearer {TOKEN}" for s in server.requests)
    if case.waits is not None:
        assert len(waits) == len(case.waits)
        for waited, (low, high) in zip(waits, case.waits, strict=True):
            assert low <= waited <= high, waits

    shown = caplog.text + repr(client) + str(error) + repr(error)
    assert TOKEN not in shown
    if error is not None:
        assert len(str(error)) < 2000, "an exception quoting megabytes"
        assert TOKEN not in repr(vars(error))


def test_the_matrix_has_one_row_per_fault() -> None:
    names = [p.values[0].name for p in MATRIX]
    assert len(names) == len(set(names))
