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

    def before_send(self, request: PreparedRequest, *, retry: int) -> None:
        self.seen.append(("before", request.path, retry))

    def after_response(self, request: PreparedRequest, response: httpx.Response) -> None:
        self.seen.append(("after", request.path, response.status_code))

    def on_error(self, request: PreparedRequest, error: httpx.TransportError) -> None:
        self.seen.append(("error", request.path, type(error).__name__))


class Refuse(RequestHook):
    def before_send(self, request: PreparedRequest, *, retry: int) -> None:
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


class EndRecorder(Recorder):
    """Records the fourth end of an attempt too."""

    def on_stopped(self, request: PreparedRequest, error: BaseException) -> None:
        self.seen.append(("stopped", request.path, type(error).__name__))


def test_retry_counts_the_earlier_attempts_of_the_request() -> None:
    recorder = Recorder()
    client = SageAccounting(access_token="t", base_url="http://127.0.0.1:9", max_retries=2)
    with pytest.raises(APIConnectionError):
        client.with_hooks(recorder).user.get()
    retries = [detail for event, _path, detail in recorder.seen if event == "before"]
    assert retries == [0, 1, 2] and all(type(n) is int for n in retries)


def test_every_attempt_a_hook_let_through_ends_once_even_when_a_later_hook_refuses(
    fake_sage: Any,
) -> None:
    sync, _ = clients(fake_sage)
    first, last = EndRecorder(), EndRecorder()
    with pytest.raises(SageError, match="refused"):
        sync.with_hooks(first, Refuse(), last).user.get()
    assert first.seen == [("before", "/user", 0), ("stopped", "/user", "SageError")]
    assert last.seen == []  # never asked: the request stopped before it


async def test_an_interrupted_attempt_ends_in_on_stopped_sync_and_async() -> None:
    def interrupted(request: httpx.Request) -> httpx.Response:
        raise KeyboardInterrupt

    sync_http = httpx.Client(transport=httpx.MockTransport(interrupted))
    sync = SageAccounting(
        access_token="t", base_url="https://sage.test/v3.1", http_client=sync_http
    )
    recorder = EndRecorder()
    with pytest.raises(KeyboardInterrupt):
        sync.with_hooks(recorder).user.get()
    assert recorder.seen == [("before", "/user", 0), ("stopped", "/user", "KeyboardInterrupt")]

    async def refused(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("a transport bug, not a TransportError")

    async_http = httpx.AsyncClient(transport=httpx.MockTransport(refused))
    async_ = AsyncSageAccounting(
        access_token="t", base_url="https://sage.test/v3.1", http_client=async_http
    )
    recorder = EndRecorder()
    with pytest.raises(RuntimeError, match="a transport bug"):
        await async_.with_hooks(recorder).user.get()
    assert recorder.seen == [("before", "/user", 0), ("stopped", "/user", "RuntimeError")]
    sync_http.close()
    await async_http.aclose()


def test_the_401_answered_by_a_refresh_and_a_replay_reaches_after_response(
    fake_sage: Any, session: Any
) -> None:
    from sage_accounting import OAuthSession, TokenSet

    tokens = session.store.load()
    # The client believes the token is still good (as after clock skew): Sage says 401.
    stale = OAuthSession(
        session.app, tokens=TokenSet(tokens.access_token, tokens.refresh_token, expires_at=0)
    )
    fake_sage.clock.advance(301)
    recorder = EndRecorder()
    client = SageAccounting(session=stale, base_url=fake_sage.base_url).with_hooks(recorder)
    client.user.get()
    assert recorder.seen == [
        ("before", "/user", 0),
        ("after", "/user", 401),
        ("before", "/user", 1),
        ("after", "/user", 200),
    ]


class Faulty(RequestHook):
    def after_response(self, request: PreparedRequest, response: httpx.Response) -> None:
        raise SageError("a hook's own bug")


def test_a_hook_raising_on_the_answer_does_not_keep_later_hooks_from_hearing(
    fake_sage: Any,
) -> None:
    sync, _ = clients(fake_sage)
    later = EndRecorder()
    with pytest.raises(SageError, match="a hook's own bug"):
        sync.with_hooks(Faulty(), later).user.get()
    assert later.seen == [("before", "/user", 0), ("after", "/user", 200)]
