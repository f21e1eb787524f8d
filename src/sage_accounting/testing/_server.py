"""The sandbox's HTTP plumbing: routing a request to OAuth or an operation, faults, counting.

Real HTTP on 127.0.0.1 (the SDK's transport, retries and timeouts are exercised for real); a
thread per connection, keep-alive, and Sage's headers (``X-Business``, ``X-Request-Id``).
"""

from __future__ import annotations

import json
import secrets
import socket
import sys
import threading
import time
import urllib.parse
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .._runtime.wire import (
    API_VERSION_PATH,
    BUSINESS_HEADER,
    REQUEST_ID_HEADER,
    RETRY_AFTER_HEADER,
    takes_business,
)
from . import _limits, _oauth, _routes
from ._operations import handle
from ._state import Fault, Reply, State, error

API_PREFIX = API_VERSION_PATH
# Larger bodies are refused with 413 before they are read (Sage's gateway has a limit too).
MAX_BODY_BYTES = 32 * 1024 * 1024
AUTHORIZE_PATH = "/oauth2/auth/central"
TOKEN_PATH = "/token"
REVOKE_PATH = "/revoke"


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    # Tests start many sandboxes and stop them quickly: a port in TIME_WAIT is reusable.
    allow_reuse_address = True

    def __init__(self, state: State, port: int = 0) -> None:
        self.state = state
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Close every open connection, as a server that goes away does (keep-alive ones too:
        a stopped sandbox must not go on answering on them)."""
        with self._open_lock:
            open_now = list(self._open)
        for connection in open_now:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client gone before its answer (a timeout, a closed stream) is normal for a server:
        no traceback into the output of whatever runs next. Anything else is still printed."""
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


class _DropConnection(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SandboxServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle's algorithm and delayed ACKs
        # hold each answer ~40 ms on loopback, and the sandbox would measure itself, not the client.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests and users read stdout
        pass

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header send_response writes: the sandbox's clock, not the machine's."""
        return formatdate(self.state.clock.now() if timestamp is None else timestamp, usegmt=True)

    @property
    def state(self) -> State:
        return self.server.state

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # -- plumbing -----------------------------------------------------------------------------

    def _handle(self, method: str) -> None:
        self._in_flight = False
        length = self._content_length()
        if isinstance(length, Reply):  # the body cannot be read: answer, then close
            self.close_connection = True
            self._send(length)
            return
        body = self.rfile.read(length) if length else b""
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        api_path = url.path[len(API_PREFIX) :] if url.path.startswith(API_PREFIX) else url.path
        with self.state.lock:
            self.state.in_flight += 1
            self.state.max_in_flight = max(self.state.max_in_flight, self.state.in_flight)
            self.state.counts[f"{method} {api_path}"] += 1  # every arrival, faulted or not
        self._in_flight = True
        try:
            self._answer(method, url.path, api_path, query, body)
        except _DropConnection:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        finally:
            self._done()

    def _content_length(self) -> int | Reply:
        """The body's length, or Sage's answer to a Content-Length that cannot be one."""
        given = self.headers.get("Content-Length")
        if given is None:
            return 0
        if not (given.isascii() and given.isdigit()):
            return Reply(400, error("BadRequest", "Content-Length is not a number of bytes"))
        if int(given) > MAX_BODY_BYTES:
            return Reply(413, error("RequestEntityTooLarge", "The request body is too large"))
        return int(given)

    def _done(self) -> None:
        """This request stops counting as in flight: before its answer is written, since the
        client may send its next request as soon as it has the answer."""
        if self._in_flight:
            self._in_flight = False
            with self.state.lock:
                self.state.in_flight -= 1

    def _answer(
        self, method: str, path: str, api_path: str, query: dict[str, str], body: bytes
    ) -> None:
        fault = self._take_fault(method, api_path)
        if fault and not fault.after:
            self._apply_fault(fault)
            if fault.kind != "slow":
                return
        try:
            reply = self._route(method, path, api_path, query, body)
        except Exception as exc:  # a sandbox bug: answer as Sage would, never hang the client
            reply = Reply(500, error("UnexpectedError", f"Sandbox error: {type(exc).__name__}"))
        if fault and fault.after:
            self._apply_fault(fault)
            if fault.kind != "slow":
                return
        self._send(reply)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.state.lock:
            for fault in self.state.faults:
                if fault.times > 0 and fault.matches(method, path):
                    fault.times -= 1
                    return fault
        return None

    def _apply_fault(self, fault: Fault) -> None:
        if fault.kind == "slow":
            time.sleep(fault.delay)
            return
        if fault.kind == "drop":
            self._done()
            raise _DropConnection
        headers = {RETRY_AFTER_HEADER: fault.retry_after} if fault.retry_after else {}
        self._send(
            Reply(fault.status, error(fault.data_code, fault.message, fault.source), headers)
        )

    def _send(self, reply: Reply) -> None:
        self._done()
        payload = reply.payload
        if payload is None:
            data = b""
        elif isinstance(payload, bytes):
            data = payload
        else:
            data = json.dumps(payload, default=str).encode()
        self.send_response(reply.status)
        headers = {"Content-Type": "application/json", **reply.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.send_header(REQUEST_ID_HEADER, secrets.token_hex(8))
        self.end_headers()
        self.wfile.write(data)

    # -- routing ------------------------------------------------------------------------------

    def _form(self, body: bytes) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(body.decode()))

    def _route(
        self, method: str, path: str, api_path: str, query: dict[str, str], body: bytes
    ) -> Reply:
        if path == TOKEN_PATH and method == "POST":
            return _oauth.token(self.state, self._form(body), self.headers.get("Authorization", ""))
        if path == REVOKE_PATH and method == "POST":
            return _oauth.revoke(
                self.state, self._form(body), self.headers.get("Authorization", "")
            )
        if path == AUTHORIZE_PATH and method == "GET":
            return _oauth.authorize(self.state, query)
        if not path.startswith(API_PREFIX + "/"):
            return Reply(404, error("RecordNotFound", f"No route matches {path}"))
        unauthorized = _oauth.check_bearer(self.state, self.headers.get("Authorization", ""))
        if unauthorized:
            return unauthorized
        found = _routes.match(method, api_path)
        if found is None:
            return Reply(404, error("RecordNotFound", f"No route matches {api_path}"))
        if isinstance(found, str):
            return Reply(405, error("MethodNotAllowed", f"{method} is not allowed on {api_path}"))
        info = found.route.info
        if body and self.headers.get("Content-Type", "application/json") != "application/json":
            return Reply(415, error("UnsupportedMediaType", "Send JSON (application/json)"))
        if not takes_business(info.path):  # the user's own data: no business, no roles
            with self.state.lock:
                return handle(self.state, found, "", query, body)
        asked = self.headers.get(BUSINESS_HEADER)
        business = asked or self.state.lead_business
        if business not in self.state.businesses:
            return Reply(403, error("BusinessNotFound", f"No access to business {business}"))
        limited = _limits.check(self.state, business)
        if limited:
            return limited
        with self.state.lock:
            self.state.requests.append((method, api_path, asked))
            refusal = _routes.denied(info, self.state.roles)
            reply = (
                Reply(403, error("MultiUserAccessDenied", refusal))
                if refusal
                else handle(self.state, found, business, query, body)
            )
        reply.headers.setdefault(BUSINESS_HEADER, business)
        return reply
