"""Request hooks (``client.with_hooks``): the public way into every request, sync and async."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sage_accounting import (
    APIConnectionError,
    ArgumentTypeError,
    AsyncSageAccounting,
    NotFoundError,
    PreparedRequest,
    RequestHook,
    SageAccounting,
    SageError,
)


class Recorder(RequestHook):
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, Any]] = []

    def before_send(self, request: PreparedRequest, *, retry: bool) -> None:
        self.seen.append(("before", request.path, retry))

    def after_response(self, request: PreparedRequest, response: httpx.Response) -> None:
        self.seen.append(("after", request.path, response.status_code))

    def on_error(self, request: PreparedRequest, error: httpx.TransportError) -> None:
        self.seen.append(("error", request.path, type(error).__name__))


class Refuse(RequestHook):
    def before_send(self, request: PreparedRequest, *, retry: bool) -> None:
        raise SageError(f"refused by the user's own check: {request.method} {request.path}")


def clients(fake_sage: Any) -> tuple[SageAccounting, AsyncSageAccounting]:
    token = fake_sage.issue_tokens()["access_token"]
    return (
        SageAccounting(access_token=token, base_url=fake_sage.base_url),
        AsyncSageAccounting(access_token=token, base_url=fake_sage.base_url),
    )


async def test_a_hook_sees_each_request_and_answer_sync_and_async(fake_sage: Any) -> None:
    sync, async_ = clients(fake_sage)
    for client in (sync, async_):
        recorder = Recorder()
        hooked = client.with_hooks(recorder)
        if isinstance(hooked, SageAccounting):
            hooked.user.get()
            with pytest.raises(NotFoundError):
                hooked.contacts.get("no-such-contact")
        else:
            await hooked.user.get()
            with pytest.raises(NotFoundError):
                await hooked.contacts.get("no-such-contact")
        assert recorder.seen == [
            ("before", "/user", False),
            ("after", "/user", 200),
            ("before", "/contacts/no-such-contact", False),
            ("after", "/contacts/no-such-contact", 404),
        ]
        # The copy has the hook; the client it came from does not, and copies of it keep it.
        assert client.hooks == () and hooked.hooks == (recorder,)
        assert hooked.with_business("b2").hooks == (recorder,)
    await async_.close()
    sync.close()


def test_a_hook_that_raises_stops_the_request_unsent(fake_sage: Any) -> None:
    sync, _ = clients(fake_sage)
    recorder = Recorder()
    hooked = sync.with_hooks(recorder, Refuse())
    with pytest.raises(SageError, match="refused by the user's own check: GET /user"):
        hooked.user.get()
    assert recorder.seen == [("before", "/user", False)]  # hooks run in order
    assert fake_sage.state.requests == []


def test_a_request_without_an_answer_reaches_on_error_on_each_attempt() -> None:
    recorder = Recorder()
    # Nothing listens on port 9 of 127.0.0.1: every attempt fails to connect.
    client = SageAccounting(access_token="t", base_url="http://127.0.0.1:9", max_retries=1)
    with pytest.raises(APIConnectionError):
        client.with_hooks(recorder).user.get()
    assert [event for event, _path, _detail in recorder.seen] == [
        "before",
        "error",
        "before",
        "error",
    ]
    assert recorder.seen[2] == ("before", "/user", True)


def test_with_hooks_takes_hooks_only() -> None:
    client = SageAccounting(access_token="t")
    with pytest.raises(
        ArgumentTypeError, match="hooks: must be RequestHook instances, not function"
    ):
        client.with_hooks(lambda request: None)  # type: ignore[arg-type]
