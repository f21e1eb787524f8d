"""A fake Sage Accounting server: real HTTP on 127.0.0.1, behaving as Sage does on the wire.

It serves the OAuth endpoints (authorize, token, revoke), /businesses and /user, and CRUD for
contacts, sales_invoices and ledger_accounts, with:

- 5-minute access tokens on a controllable clock, single-use rotating refresh tokens (a reused
  one gets 400 invalid_grant), PKCE and redirect checks on the code exchange;
- X-Business isolation (no header: the lead business), echoed in the response;
- Sage's list envelope ($itemsPerPage, relative $next, a page past the end repeating the last),
  ``attributes``, ``updated_or_created_since`` (inclusive) and ``deleted_since`` (exclusive);
- ``idempotency_id`` replay, money as strings, errors as Sage's JSON array;
- fault injection: any status (with or without Retry-After), slow responses, dropped connections,
  before or after the request took effect.

Start it from a test with the ``fake_sage`` fixture, or from a shell::

    PYTHONPATH=tests python -m fake_sage --port 8765
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import secrets
import socket
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ACCESS_TOKEN_SECONDS = 300
REFRESH_TOKEN_IDLE_SECONDS = 31 * 24 * 3600
CODE_SECONDS = 60
RESOURCES = {  # path -> (wrapper key, required fields, money fields)
    "contacts": ("contact", ("name", "contact_type_ids"), ("credit_limit", "balance")),
    "sales_invoices": ("sales_invoice", ("contact_id", "date"), ("total_amount", "net_amount")),
    "ledger_accounts": ("ledger_account", ("name", "nominal_code"), ("balance",)),
}


class FakeClock:
    """The server's clock: real time plus whatever a test has advanced it by."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class Fault:
    """What to do instead of (or after) handling matching requests, ``times`` times.

    kind: "status" answers ``status`` with a Sage error body; "slow" waits ``delay`` seconds
    first; "drop" closes the connection without an answer. ``after=True`` lets the request take
    effect first (a POST creates its record), then fails the answer.
    """

    kind: str = "status"
    status: int = 500
    times: int = 1
    method: str | None = None
    path: str | None = None  # a prefix of the path after /v3.1
    retry_after: str | None = None
    delay: float = 0.0
    after: bool = False
    data_code: str = "UnexpectedError"
    message: str = "Injected fault"
    source: str = ""

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path is None or path.startswith(self.path)
        )


@dataclass
class Grant:
    access_token: str
    refresh_token: str
    access_expires_at: float
    refresh_expires_at: float
    scope: str


@dataclass
class State:
    clock: FakeClock
    client_id: str
    client_secret: str
    redirect_uri: str
    lead_business: str
    businesses: list[str]
    lock: threading.Lock = field(default_factory=threading.Lock)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    access_tokens: dict[str, Grant] = field(default_factory=dict)
    refresh_tokens: dict[str, Grant] = field(default_factory=dict)
    used_refresh_tokens: set[str] = field(default_factory=set)
    records: dict[tuple[str, str], dict[str, dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    idempotency: dict[tuple[str, str, str], tuple[int, bytes]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    sequence: int = 0
    in_flight: int = 0
    max_in_flight: int = 0  # the most API requests being handled at once


class FakeSage:
    """The server. ``with FakeSage() as sage:`` starts it on an ephemeral port."""

    def __init__(
        self,
        *,
        client_id: str = "fake-client-id",
        client_secret: str = "fake-client-secret",
        redirect_uri: str = "http://127.0.0.1/callback",
        businesses: tuple[str, ...] = ("biz-lead", "biz-second"),
    ) -> None:
        self.clock = FakeClock()
        self.state = State(
            clock=self.clock,
            client_id=client_id,
            client_secret=client_secret,
            redirect_uri=redirect_uri,
            lead_business=businesses[0],
            businesses=list(businesses),
        )
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self, port: int = 0) -> FakeSage:
        server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        server.daemon_threads = True
        server.state = self.state  # type: ignore[attr-defined]
        self._server = server
        # A short poll interval: shutdown() waits up to one interval.
        self._thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeSage:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        return self.origin + "/v3.1"

    @property
    def token_url(self) -> str:
        return self.origin + "/token"

    @property
    def revoke_url(self) -> str:
        return self.origin + "/revoke"

    @property
    def authorize_url(self) -> str:
        return self.origin + "/oauth2/auth/central"

    # -- helpers for tests ----------------------------------------------------------------------------

    def issue_tokens(self, scope: str = "full_access") -> dict[str, Any]:
        """A token response as if the user had just authorized the app."""
        with self.state.lock:
            return _issue(self.state, scope)

    def inject(self, *faults: Fault) -> None:
        with self.state.lock:
            self.state.faults.extend(faults)

    def count(self, what: str) -> int:
        """How many requests of a kind arrived: "refresh", "exchange", "GET /contacts", ..."""
        with self.state.lock:
            return self.state.counts[what]

    def records(self, resource: str, business: str | None = None) -> dict[str, dict[str, Any]]:
        with self.state.lock:
            return dict(self.state.records[(business or self.state.lead_business, resource)])

    def seed(
        self, resource: str, count: int, business: str | None = None, **fields: Any
    ) -> list[str]:
        """Create ``count`` records directly (no HTTP); returns their ids."""
        business = business or self.state.lead_business
        ids = []
        with self.state.lock:
            for i in range(count):
                body = {"name": f"{business} {resource} {i}", **fields}
                ids.append(_create(self.state, business, resource, body)["id"])
        return ids

    def delete_record(self, resource: str, record_id: str, business: str | None = None) -> None:
        with self.state.lock:
            record = self.state.records[(business or self.state.lead_business, resource)][record_id]
            record["deleted_at"] = _timestamp(self.state.clock.now())


def _timestamp(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _parse_time(text: str) -> float:
    import datetime as dt

    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()


def _issue(state: State, scope: str) -> dict[str, Any]:
    now = state.clock.now()
    grant = Grant(
        access_token="at-" + secrets.token_hex(24),
        refresh_token="rt-" + secrets.token_hex(24),
        access_expires_at=now + ACCESS_TOKEN_SECONDS,
        refresh_expires_at=now + REFRESH_TOKEN_IDLE_SECONDS,
        scope=scope,
    )
    state.access_tokens[grant.access_token] = grant
    state.refresh_tokens[grant.refresh_token] = grant
    return {
        "access_token": grant.access_token,
        "token_type": "bearer",
        "expires_in": ACCESS_TOKEN_SECONDS,
        "refresh_token": grant.refresh_token,
        "refresh_token_expires_in": REFRESH_TOKEN_IDLE_SECONDS,
        "scope": scope,
        "requested_by_id": "user-1",
    }


def _create(state: State, business: str, resource: str, body: dict[str, Any]) -> dict[str, Any]:
    state.sequence += 1
    now = _timestamp(state.clock.now())
    record_id = f"{resource[:3]}{state.sequence:08d}"
    _, _, money = RESOURCES[resource]
    record: dict[str, Any] = {
        "id": record_id,
        "displayed_as": str(body.get("name") or body.get("reference") or record_id),
        "$path": f"/{resource}/{record_id}",
        "created_at": now,
        "updated_at": now,
        "deleted_at": None,
        "business_id": business,  # so a test can see whose record it got
    }
    for key, value in body.items():
        if key == "idempotency_id":
            continue
        record[key] = str(Decimal(str(value))) if key in money and value is not None else value
    for key in money:
        record.setdefault(key, "0.00")
    state.records[(business, resource)][record_id] = record
    return record


class _DropConnection(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ThreadingHTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle's algorithm and delayed ACKs
        # hold each answer ~40 ms on loopback, and the fake would measure itself, not the client.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header send_response writes: the fake's clock, not the machine's."""
        return formatdate(self.state.clock.now() if timestamp is None else timestamp, usegmt=True)

    @property
    def state(self) -> State:
        return self.server.state  # type: ignore[attr-defined,no-any-return]

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # -- plumbing -----------------------------------------------------------------------------------

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        api_path = path[len("/v3.1") :] if path.startswith("/v3.1") else path
        with self.state.lock:
            self.state.in_flight += 1
            self.state.max_in_flight = max(self.state.max_in_flight, self.state.in_flight)
        self._in_flight = True
        try:
            self._handle_counted(method, path, api_path, query, body)
        finally:
            self._done()

    def _done(self) -> None:
        """This request stops counting as in flight: before its answer is written, since the
        client may send its next request as soon as it has the answer."""
        if self._in_flight:
            self._in_flight = False
            with self.state.lock:
                self.state.in_flight -= 1

    def _handle_counted(
        self, method: str, path: str, api_path: str, query: dict[str, str], body: bytes
    ) -> None:
        with self.state.lock:
            self.state.counts[f"{method} {api_path}"] += 1  # every arrival, faulted or not
        fault = self._take_fault(method, api_path)
        try:
            if fault and not fault.after:
                if fault.kind == "slow":
                    time.sleep(fault.delay)
                else:
                    self._apply_fault(fault)
                    return
            status, headers, payload = self._route(method, path, api_path, query, body)
            if fault and fault.after:
                self._apply_fault(fault)
                return
            self._send(status, payload, headers)
        except _DropConnection:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.state.lock:
            for fault in self.state.faults:
                if fault.times > 0 and fault.matches(method, path):
                    fault.times -= 1
                    return fault
        return None

    def _apply_fault(self, fault: Fault) -> None:
        if fault.kind == "drop":
            self._done()
            raise _DropConnection
        if fault.kind == "slow":
            time.sleep(fault.delay)
            return
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
        self._send(fault.status, _error(fault.data_code, fault.message, fault.source), headers)

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._done()
        data = (
            b""
            if payload is None
            else payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        )
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Request-Id", secrets.token_hex(8))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    # -- routing ------------------------------------------------------------------------------------

    def _route(
        self, method: str, path: str, api_path: str, query: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], Any]:
        if path == "/token" and method == "POST":
            return self._token(body)
        if path == "/revoke" and method == "POST":
            return self._revoke(body)
        if path == "/oauth2/auth/central" and method == "GET":
            return self._authorize(query)
        if not path.startswith("/v3.1/"):
            return 404, {}, _error("RecordNotFound", "no such route")
        unauthorized = self._check_token()
        if unauthorized:
            return unauthorized
        segments = api_path.strip("/").split("/")
        if segments[0] == "businesses":
            return self._businesses(segments)
        if segments[0] == "user":
            return (
                200,
                {},
                {"id": "user-1", "displayed_as": "Test User", "email": "user@example.com"},
            )
        business = self.headers.get("X-Business") or self.state.lead_business
        if business not in self.state.businesses:
            return 403, {}, _error("BusinessNotFound", "no access to this business")
        with self.state.lock:
            self.state.requests.append((method, api_path, self.headers.get("X-Business")))
        resource = segments[0]
        if resource not in RESOURCES:
            return 404, {"X-Business": business}, _error("RecordNotFound", "not served by the fake")
        if self.headers.get("Content-Type", "application/json") != "application/json" and body:
            return 415, {}, _error("UnsupportedMediaType", "JSON bodies only")
        status, payload = self._resource(method, business, resource, segments[1:], query, body)
        return status, {"X-Business": business}, payload

    def _check_token(self) -> tuple[int, dict[str, str], Any] | None:
        header = self.headers.get("Authorization", "")
        token = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
        with self.state.lock:
            grant = self.state.access_tokens.get(token)
            now = self.state.clock.now()
        if grant is None:
            return 401, {}, _error("Unauthorized", "invalid access token")
        if now >= grant.access_expires_at:
            return 401, {}, _error("Unauthorized", "access token expired")
        return None

    def _form(self, body: bytes) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(body.decode()))

    def _token(self, body: bytes) -> tuple[int, dict[str, str], Any]:
        form = self._form(body)
        state = self.state
        with state.lock:
            state.token_requests.append(form)
            if (
                form.get("client_id") != state.client_id
                or form.get("client_secret") != state.client_secret
            ):
                return 400, {}, {"error": "invalid_client"}
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
                    return 400, {}, {"error": "invalid_grant"}
                challenge = code.get("code_challenge")
                if challenge:
                    verifier = form.get("code_verifier", "")
                    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                    if digest.rstrip(b"=").decode() != challenge:
                        return 400, {}, {"error": "invalid_grant", "error_description": "PKCE"}
                return 200, {}, _issue(state, code["scope"])
            if grant_type == "refresh_token":
                state.counts["refresh"] += 1
                token = form.get("refresh_token", "")
                grant = state.refresh_tokens.get(token)
                if (
                    grant is None
                    or token in state.used_refresh_tokens
                    or now > grant.refresh_expires_at
                ):
                    return 400, {}, {"error": "invalid_grant"}
                state.used_refresh_tokens.add(token)  # single use: the old one dies
                return 200, {}, _issue(state, grant.scope)
            return 400, {}, {"error": "unsupported_grant_type"}

    def _revoke(self, body: bytes) -> tuple[int, dict[str, str], Any]:
        form = self._form(body)
        with self.state.lock:
            self.state.counts["revoke"] += 1
            if (
                form.get("client_id") != self.state.client_id
                or form.get("client_secret") != self.state.client_secret
            ):
                return 400, {}, {"error": "invalid_client"}
            self.state.used_refresh_tokens.add(form.get("token", ""))
        return 200, {}, {"success": "ok"}

    def _authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        """The user signs in and consents at once: redirect back with a region-prefixed code."""
        state = self.state
        if query.get("client_id") != state.client_id or query.get("response_type") != "code":
            return 400, {}, {"error": "invalid_request"}
        code = "GB/" + secrets.token_hex(12)
        with state.lock:
            state.codes[code] = {
                "redirect_uri": query.get("redirect_uri"),
                "scope": query.get("scope", "full_access"),
                "expires_at": state.clock.now() + CODE_SECONDS,
                "code_challenge": query.get("code_challenge"),
            }
        location = (
            query.get("redirect_uri", "")
            + "?"
            + urllib.parse.urlencode(
                {"code": code, "country": "GB", "state": query.get("state", "")}
            )
        )
        return 302, {"Location": location}, None

    def _businesses(self, segments: list[str]) -> tuple[int, dict[str, str], Any]:
        items = [
            {"id": b, "displayed_as": f"Business {b}", "$path": f"/businesses/{b}"}
            for b in self.state.businesses
        ]
        if len(segments) == 1:
            return 200, {}, {
                "$total": len(items), "$page": 1, "$next": None, "$back": None,
                "$items_per_page": 2147483647, "$items": items,
            }  # fmt: skip
        key = self.state.lead_business if segments[1] == "lead" else segments[1]
        for item in items:
            if item["id"] == key:
                return 200, {}, item
        return 404, {}, _error("RecordNotFound", "no such business")

    # -- records ------------------------------------------------------------------------------------

    def _resource(
        self,
        method: str,
        business: str,
        resource: str,
        rest: list[str],
        query: dict[str, str],
        body: bytes,
    ) -> tuple[int, Any]:
        state = self.state
        wrapper, required, _money = RESOURCES[resource]
        with state.lock:
            records = state.records[(business, resource)]
            if not rest and method == "GET":
                return 200, self._list(records, resource, query)
            if not rest and method == "POST":
                payload = json.loads(body or b"{}").get(wrapper) or {}
                key = payload.get("idempotency_id")
                if key and (business, resource, key) in state.idempotency:
                    status, replay = state.idempotency[(business, resource, key)]
                    return status, replay
                missing = [f for f in required if payload.get(f) in (None, "", [])]
                if missing:
                    return 422, _error("RecordInvalid", f"{missing[0]} can't be blank", missing[0])
                record = _create(state, business, resource, payload)
                encoded = json.dumps(record).encode()
                if key:
                    state.idempotency[(business, resource, key)] = (201, encoded)
                return 201, encoded
            record = records.get(rest[0]) if rest else None
            if record is None or record.get("deleted_at"):
                return 404, _error("RecordNotFound", f"no {resource} {rest[0] if rest else ''}")
            if method == "GET":
                return 200, record
            if method == "PUT":
                payload = json.loads(body or b"{}").get(wrapper) or {}
                record.update({k: v for k, v in payload.items() if k != "idempotency_id"})
                record["updated_at"] = _timestamp(state.clock.now())
                return 200, record
            if method == "DELETE":
                record["deleted_at"] = _timestamp(state.clock.now())
                return 204, None
        return 405, _error("MethodNotAllowed", method)

    def _list(
        self, records: dict[str, dict[str, Any]], resource: str, query: dict[str, str]
    ) -> dict[str, Any]:
        per_page = int(query.get("items_per_page", "20"))
        per_page = max(1, min(per_page, 200))
        if "deleted_since" in query:
            since = _parse_time(query["deleted_since"])
            chosen = [
                r
                for r in records.values()
                if r["deleted_at"] and _parse_time(r["deleted_at"]) > since
            ]
        else:
            chosen = [r for r in records.values() if not r["deleted_at"]]
            if "updated_or_created_since" in query:
                since = _parse_time(query["updated_or_created_since"])
                chosen = [r for r in chosen if _parse_time(r["updated_at"]) >= since]
        total = len(chosen)
        pages = max(1, math.ceil(total / per_page))
        page = min(max(1, int(query.get("page", "1"))), pages)  # past the end: the last page again
        window = chosen[(page - 1) * per_page : page * per_page]
        attributes = query.get("attributes")

        def shown(record: dict[str, Any]) -> dict[str, Any]:
            if attributes == "all":
                return record
            base = {k: record[k] for k in ("id", "displayed_as", "$path")}
            for name in (attributes or "").split(","):
                if name and name in record:
                    base[name] = record[name]
            if "deleted_since" in query:
                base["deleted_at"] = record["deleted_at"]
            return base

        def link(number: int) -> str:
            params = {k: v for k, v in query.items() if k != "page"}
            return f"/{resource}?" + urllib.parse.urlencode({"page": number, **params})

        return {
            "$total": total,
            "$page": page,
            "$next": link(page + 1) if page < pages else None,
            "$back": link(page - 1) if page > 1 else None,
            "$itemsPerPage": per_page,
            "$items": [shown(r) for r in window],
        }


def _error(code: str, message: str, source: str = "") -> list[dict[str, str]]:
    return [{"$severity": "error", "$dataCode": code, "$message": message, "$source": source}]
