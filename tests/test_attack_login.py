"""`login`'s callback server attacked: a connection that sends nothing. The test failed before
its fix."""

from __future__ import annotations

import socket
import threading
import time
import urllib.parse

import httpx

from sage_accounting.cli._login import CallbackServer


def test_an_idle_connection_cannot_hold_up_the_login() -> None:
    """Browsers open speculative connections they may never use, and any local process can
    connect: the one-request-at-a-time server read the first connection's request line with no
    time limit, so the real callback waited behind it, past ``wait``'s own timeout, forever."""
    server = CallbackServer("http://127.0.0.1:0/callback")
    port = int(urllib.parse.urlsplit(server.redirect_uri).port or 0)
    idle = socket.create_connection(("127.0.0.1", port))  # connected, sends nothing
    pages: list[int] = []

    def real_callback() -> None:
        time.sleep(0.3)
        url = f"http://127.0.0.1:{port}/callback?code=GB%2Fcode&state=the-state"
        pages.append(httpx.get(url, timeout=30).status_code)

    browser = threading.Thread(target=real_callback, daemon=True)
    browser.start()
    outcome: list[str | None] = []
    waiter = threading.Thread(
        target=lambda: outcome.append(server.wait(20, "the-state", lambda url: "Logged in.")),
        daemon=True,
    )
    started = time.monotonic()
    waiter.start()
    waiter.join(15)
    idle.close()
    assert not waiter.is_alive(), "the login is stuck behind an idle connection"
    assert outcome == ["Logged in."] and time.monotonic() - started < 15
    browser.join(5)
    assert pages == [200]
