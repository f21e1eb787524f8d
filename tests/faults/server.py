"""A scriptable HTTP/1.1 server on raw sockets, for faults a well-behaved server never makes.

Each request is answered by the next ``Reply`` of the script (the last one repeats), or by a
function of the request. A reply can wait before answering, drop the connection before any byte
or in the middle of the body, claim a longer body than it sends, carry any status, headers and
bytes. Every request is recorded (``server.requests``), so a test can count what arrived.

Every answer says ``Connection: close`` and closes: each request has a connection of its own, so
a drop affects exactly the request it is scripted for.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

REASONS = {200: "OK", 201: "Created", 204: "No Content", 301: "Moved", 302: "Found",
           307: "Temporary Redirect", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
           429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
           503: "Service Unavailable", 504: "Gateway Timeout"}  # fmt: skip


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = b"{}"  # bytes are sent as they are; anything else as JSON
    # a value that is a function is called as the answer is sent (an HTTP date "a minute from
    # now" must be a minute from the answer, not from when the test module was imported)
    headers: dict[str, str | Callable[[], str]] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering
    drop: Literal["before", "mid"] | None = None  # close with no answer / halfway through the body
    echo_business: bool = True  # send back the request's X-Business (Sage does)
    echo_token: bool = False  # quote the request's Authorization in the body (a careless server)

    def payload(self, seen: Seen) -> bytes:
        if self.echo_token:
            return json.dumps(
                [{"$dataCode": "Echo", "$message": f"you sent {seen.headers['authorization']}"}]
            ).encode()
        return self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()


@dataclass(frozen=True)
class Seen:
    method: str
    target: str
    headers: dict[str, str]  # lower-cased names
    body: bytes


Script = Sequence[Reply] | Callable[[Seen], Reply]


class FaultServer:
    def __init__(self, script: Script = (Reply(),)) -> None:
        self.script = script
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.base_url = self.url + "/v3.1"
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> FaultServer:
        self._acceptor.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._acceptor.join(2)
        self._listener.close()
        for thread in self._threads:
            thread.join(2)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _reply_for(self, seen: Seen) -> Reply:
        with self._lock:
            self.requests.append(seen)
            if callable(self.script):
                return self.script(seen)
            return self.script[min(len(self.requests), len(self.script)) - 1]

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                seen = _read_request(conn)
                if seen is None:
                    return
                reply = self._reply_for(seen)
                if reply.delay and self._stop.wait(reply.delay):
                    return
                if reply.drop == "before":
                    return
                conn.sendall(self._response(reply, seen))
            except OSError:  # the client gave up first (a timeout): nothing to answer
                return

    @staticmethod
    def _response(reply: Reply, seen: Seen) -> bytes:
        body = reply.payload(seen)
        headers = {"Content-Type": "application/json"}
        headers.update({k: v() if callable(v) else v for k, v in reply.headers.items()})
        if reply.echo_business and "x-business" in seen.headers:
            headers.setdefault("X-Business", seen.headers["x-business"])
        headers["Content-Length"] = str(len(body))
        headers["Connection"] = "close"
        if reply.drop == "mid":
            body = body[: len(body) // 2]
        head = f"HTTP/1.1 {reply.status} {REASONS.get(reply.status, 'Status')}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
        return head.encode("latin-1") + body


def _read_request(conn: socket.socket) -> Seen | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    request_line, *lines = head.decode("latin-1").split("\r\n")
    method, target, _version = request_line.split(" ", 2)
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return Seen(method, target, headers, body)
