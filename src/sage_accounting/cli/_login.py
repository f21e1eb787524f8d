"""``login``: the OAuth code flow with PKCE through a one-shot callback server on 127.0.0.1.

The server listens on the redirect URI's port (0: any free port, for providers that accept any;
Sage needs the exact URI registered with the app), serves the redirect path until the callback
carrying this login's ``state`` came (others are ignored), and is closed. The code is exchanged by the SDK's ``OAuthApp`` (state checked in constant
time, PKCE verifier sent); the tokens go to a ``FileTokenStore`` in the config directory.
"""

from __future__ import annotations

import hmac
import html
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from .._runtime._redact import redact

LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
REQUEST_SECONDS = 2.0
_PAGE = (
    "<!doctype html><meta charset=utf-8><title>sage-accounting</title>"
    "<p>{message}</p><p>You can close this window.</p>"
)


class CallbackServer:
    """Serves the redirect path until the callback of *this* login came; ``wait`` returns what
    the login's ``complete`` made of it.

    A request whose ``state`` is not this login's (a forged or stale link, another tab) is
    answered with a page saying it was ignored, and the server goes on waiting: it cannot end
    the real login. The callback's page is written only once ``complete`` (the code exchange and
    saving the tokens) has finished, so it says what really happened: logged in, or why not.
    """

    def __init__(self, redirect_uri: str) -> None:
        parts = urllib.parse.urlsplit(redirect_uri)
        if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS:
            raise ValueError(
                f"the redirect URI must be http://127.0.0.1:PORT/... for `login`; got {redirect_uri}"
            )
        self._parts = parts
        self._done = threading.Event()
        self._expected_state = ""
        self._complete: Callable[[str], str] = lambda url: url
        self._outcome: str | None = None
        self._failure: BaseException | None = None
        self.ignored = 0  # callbacks refused for their state
        owner = self

        class Handler(BaseHTTPRequestHandler):
            # One request at a time: a connection that sends nothing (a browser's speculative
            # one, any local process) is dropped after this many seconds, not waited on forever.
            timeout = REQUEST_SECONDS

            def log_message(self, format: str, *args: Any) -> None:  # the URL holds the code
                pass

            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                if url.path != (owner._parts.path or "/") or owner._done.is_set():
                    self.send_error(404)
                    return
                status, message = owner._answer(url.query)
                body = _PAGE.format(message=html.escape(message)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

        self._server = HTTPServer(("127.0.0.1", parts.port or 0), Handler)
        self._server.timeout = 0.2

    def _answer(self, query_text: str) -> tuple[int, str]:
        query = dict(urllib.parse.parse_qsl(query_text))
        if not hmac.compare_digest(query.get("state", "").encode(), self._expected_state.encode()):
            self.ignored += 1
            return 400, (
                "This sign-in link is not from the login sage-accounting is waiting for, so it "
                "was ignored. Finish the login in the window it opened."
            )
        self._done.set()
        callback_url = self.redirect_uri + ("?" + query_text if query_text else "")
        try:
            self._outcome = self._complete(callback_url)
        except Exception as exc:  # reported on the page, then raised again by ``wait``
            self._failure = exc
            return 400, f"Login failed: {redact(' '.join(str(exc).split()))}"
        return 200, self._outcome

    @property
    def redirect_uri(self) -> str:
        """The redirect URI with the port actually listened on."""
        port = self._server.server_address[1]
        return urllib.parse.urlunsplit(
            self._parts._replace(netloc=f"{self._parts.hostname}:{port}", query="", fragment="")
        )

    def wait(
        self, timeout: float, expected_state: str, complete: Callable[[str], str]
    ) -> str | None:
        """Serve until this login's callback came and ``complete(callback_url)`` ran: its answer
        (or its exception, raised); None when ``timeout`` seconds passed first."""
        self._expected_state = expected_state
        self._complete = complete
        deadline = time.monotonic() + timeout
        try:
            while not self._done.is_set() and time.monotonic() < deadline:
                self._server.handle_request()
        finally:
            self._server.server_close()
        if self._failure is not None:
            raise self._failure
        return self._outcome
