"""``login``: the OAuth code flow with PKCE through a one-shot callback server on 127.0.0.1.

The server listens on the redirect URI's port (0: any free port, for providers that accept any;
Sage needs the exact URI registered with the app), answers exactly one request on the redirect
path, and is closed. The code is exchanged by the SDK's ``OAuthApp`` (state checked in constant
time, PKCE verifier sent); the tokens go to a ``FileTokenStore`` in the config directory.
"""

from __future__ import annotations

import html
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
_PAGE = (
    "<!doctype html><meta charset=utf-8><title>sage-accounting</title>"
    "<p>{message}</p><p>You can close this window.</p>"
)


class CallbackServer:
    """Serves the redirect path once; ``wait`` returns the full callback URL it received."""

    def __init__(self, redirect_uri: str) -> None:
        parts = urllib.parse.urlsplit(redirect_uri)
        if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS:
            raise ValueError(
                f"the redirect URI must be http://127.0.0.1:PORT/... for `login`; got {redirect_uri}"
            )
        self._parts = parts
        self._received: str | None = None
        self._done = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # the URL holds the code
                pass

            def do_GET(self) -> None:
                path = urllib.parse.urlsplit(self.path).path
                if path != (owner._parts.path or "/") or owner._done.is_set():
                    self.send_error(404)
                    return
                owner._received = owner.redirect_uri + (
                    "?" + urllib.parse.urlsplit(self.path).query if "?" in self.path else ""
                )
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                message = (
                    f"Sage did not authorize the app: {query['error']}"
                    if "error" in query
                    else "Logged in: sage-accounting has your tokens."
                )
                body = _PAGE.format(message=html.escape(message)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                owner._done.set()

        self._server = HTTPServer(("127.0.0.1", parts.port or 0), Handler)
        self._server.timeout = 0.2

    @property
    def redirect_uri(self) -> str:
        """The redirect URI with the port actually listened on."""
        port = self._server.server_address[1]
        return urllib.parse.urlunsplit(
            self._parts._replace(netloc=f"{self._parts.hostname}:{port}", query="", fragment="")
        )

    def wait(self, timeout: float) -> str | None:
        """Serve until the callback came (its URL) or ``timeout`` seconds passed (None)."""
        deadline = time.monotonic() + timeout
        try:
            while not self._done.is_set() and time.monotonic() < deadline:
                self._server.handle_request()
        finally:
            self._server.server_close()
        return self._received
