"""`login` tells the truth on its page, and a forged callback cannot end it (issue 23, point 4)."""

from __future__ import annotations

import socket
import threading
import webbrowser
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_support import one_error_line, run


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Browser:
    """``webbrowser.open`` replaced by a browser that follows the authorize URL to the
    command's callback server, keeping each page it was shown; ``before`` runs first (a forged
    link opened in another tab)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, before: Any = None) -> None:
        self.pages: list[tuple[int, str]] = []
        self.forged: list[tuple[int, str]] = []
        self._before = before
        self._threads: list[threading.Thread] = []
        monkeypatch.setattr(webbrowser, "open", self.open)

    def open(self, url: str, *args: Any, **kwargs: Any) -> bool:
        def browse() -> None:
            if self._before is not None:
                answer = self._before()
                self.forged.append((answer.status_code, answer.text))
            answer = httpx.get(url, follow_redirects=True, timeout=10)
            self.pages.append((answer.status_code, answer.text))

        thread = threading.Thread(target=browse, daemon=True)
        thread.start()
        self._threads.append(thread)
        return True

    def done(self) -> Browser:
        """Once the browser has shown what it was sent (the command may return first)."""
        for thread in self._threads:
            thread.join(timeout=10)
        return self


def login(fake_sage: Any, secret: str, port: int = 0) -> Any:
    return run(
        "login", "--base-url", fake_sage.base_url,
        "--client-id", fake_sage.state.client_id, "--client-secret", secret,
        "--redirect-uri", f"http://127.0.0.1:{port}/callback",
        "--authorize-url", fake_sage.authorize_url, "--token-url", fake_sage.token_url,
        "--revoke-url", fake_sage.revoke_url, "--timeout", "10",
    )  # fmt: skip


@pytest.fixture(autouse=True)
def config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("SAGE_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path / "config"


def test_a_failed_exchange_says_so_on_the_page_and_exits_3(
    fake_sage: Any, monkeypatch: pytest.MonkeyPatch, config: Path
) -> None:
    browser = Browser(monkeypatch)
    result = login(fake_sage, "the-wrong-client-secret")
    assert result.exit_code == 3 and "invalid_client" in one_error_line(result)
    [(status, page)] = browser.done().pages
    assert status == 400 and "Login failed" in page and "invalid_client" in page
    assert "Logged in" not in page
    assert "the-wrong-client-secret" not in page + result.output
    assert not (config / "tokens.json").exists()


def test_a_forged_callback_is_ignored_and_the_real_login_completes(
    fake_sage: Any, monkeypatch: pytest.MonkeyPatch, config: Path
) -> None:
    port = free_port()

    def forged() -> httpx.Response:  # an attacker's link: its own code, a state of its own
        url = f"http://127.0.0.1:{port}/callback?code=GB%2Fattacker&state=forged-state"
        return httpx.get(url, timeout=10)

    browser = Browser(monkeypatch, before=forged)
    result = login(fake_sage, fake_sage.state.client_secret, port)
    assert result.exit_code == 0, result.output
    [(status, page)] = browser.done().forged
    assert status == 400 and "ignored" in page and "Logged in" not in page
    [(status, page)] = browser.pages
    assert status == 200 and "Logged in" in page
    assert fake_sage.count("exchange") == 1  # the attacker's code was never exchanged
    assert (config / "tokens.json").exists()
    assert "ignored 1 callback" in result.stderr
