"""Holding hooks (``HoldingHook``): a hook that takes part in the plan's I/O (sleeps and calls,
in a worker thread on the async client), with a token per attempt; the quota ledger is one."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Generator
from typing import Any

import httpx
import pytest

from sage_accounting import (
    ArgumentTypeError,
    ArgumentValueError,
    AsyncSageAccounting,
    HoldingHook,
    PreparedRequest,
    Quota,
    QuotaExceededError,
    QuotaHook,
    QuotaLimits,
    RateLimit,
    RequestHook,
    SageAccounting,
    SageError,
)
from sage_accounting._runtime import Hold


class Gate(HoldingHook[int]):
    """Holds each attempt ``pause`` seconds (a sleep step), after one call (blocking or not) that
    says which thread performed it; tokens are numbers, one per attempt."""

    def __init__(self, pause: float = 0.0, blocking: bool = True) -> None:
        self.pause, self.blocking = pause, blocking
        self.numbers = itertools.count(1)
        self.threads: list[int] = []
        self.held: list[int] = []
        self.settled: list[tuple[int, Any]] = []
        self.released: list[tuple[int, str]] = []

    def hold(self, request: PreparedRequest, *, retry: int) -> Hold[int]:
        thread: int = yield self.call(threading.get_ident, blocking=self.blocking)
        self.threads.append(thread)
        if self.pause:
            yield self.sleep(self.pause)
        number = next(self.numbers)
        self.held.append(number)
        return number

    def settle(
        self, request: PreparedRequest, token: int, outcome: httpx.Response | httpx.TransportError
    ) -> Hold[None]:
        self.settled.append((token, getattr(outcome, "status_code", type(outcome).__name__)))
        return
        yield

    def release(self, request: PreparedRequest, token: int, error: BaseException) -> None:
        self.released.append((token, type(error).__name__))


class Capture(RequestHook):
    def __init__(self) -> None:
        self.requests: list[PreparedRequest] = []
        self.stopped: list[str] = []

    def before_send(self, request: PreparedRequest, *, retry: int) -> None:
        self.requests.append(request)

    def on_stopped(self, request: PreparedRequest, error: BaseException) -> None:
        self.stopped.append(type(error).__name__)


class RefuseHold(HoldingHook[None]):
    def hold(self, request: PreparedRequest, *, retry: int) -> Hold[None]:
        raise SageError("no room, says the user's own ledger")
        yield


def token_of(fake_sage: Any) -> str:
    return str(fake_sage.issue_tokens()["access_token"])


async def test_one_request_object_sent_twice_at_once_gets_a_token_per_attempt(
    fake_sage: Any,
) -> None:
    gate, capture = Gate(pause=0.2), Capture()
    client = AsyncSageAccounting(access_token=token_of(fake_sage), base_url=fake_sage.base_url)
    hooked = client.with_hooks(capture, gate)
    await hooked.user.get()
    request = capture.requests[0]
    ticks = 0

    async def ticking() -> None:  # the loop keeps running while both attempts are held
        nonlocal ticks
        for _ in range(10):
            await asyncio.sleep(0.02)
            ticks += 1

    started = time.perf_counter()
    await asyncio.gather(hooked.send(request), hooked.send(request), ticking())
    assert time.perf_counter() - started < 0.39  # the two holds overlapped: not 2 x 0.2 s
    assert ticks == 10
    assert sorted(gate.held) == [1, 2, 3]
    assert sorted(gate.settled) == [(1, 200), (2, 200), (3, 200)]  # each token settled once
    assert gate.released == []
    await client.close()


async def test_a_blocking_call_runs_in_a_worker_thread_on_the_async_client_only(
    fake_sage: Any,
) -> None:
    here = threading.get_ident()
    token = token_of(fake_sage)
    blocking, inline = Gate(blocking=True), Gate(blocking=False)
    async with AsyncSageAccounting(access_token=token, base_url=fake_sage.base_url) as client:
        await client.with_hooks(blocking, inline).user.get()
    assert blocking.threads[0] != here and inline.threads == [here]
    sync_gate = Gate(blocking=True)
    with SageAccounting(access_token=token, base_url=fake_sage.base_url) as sync:
        sync.with_hooks(sync_gate).user.get()
    assert sync_gate.threads == [here]


def test_a_later_hold_refusing_releases_the_earlier_ones_and_sends_nothing(
    fake_sage: Any,
) -> None:
    gate, capture = Gate(), Capture()
    client = SageAccounting(access_token=token_of(fake_sage), base_url=fake_sage.base_url)
    with pytest.raises(SageError, match="no room, says the user's own ledger"):
        client.with_hooks(capture, gate, RefuseHold()).user.get()
    assert gate.released == [(1, "SageError")] and gate.settled == []
    assert capture.stopped == ["SageError"]
    assert fake_sage.state.requests == []
    client.close()


def test_an_interrupted_send_releases_the_hold_sync_and_settles_nothing() -> None:
    def interrupted(request: httpx.Request) -> httpx.Response:
        raise KeyboardInterrupt

    http = httpx.Client(transport=httpx.MockTransport(interrupted))
    client = SageAccounting(access_token="t", base_url="https://sage.test/v3.1", http_client=http)
    gate = Gate()
    with pytest.raises(KeyboardInterrupt):
        client.with_hooks(gate).user.get()
    assert gate.released == [(1, "KeyboardInterrupt")] and gate.settled == []
    http.close()


async def test_a_cancelled_hold_ends_in_on_stopped_and_holds_nothing(fake_sage: Any) -> None:
    gate, capture = Gate(pause=5.0), Capture()
    client = AsyncSageAccounting(access_token=token_of(fake_sage), base_url=fake_sage.base_url)
    task = asyncio.ensure_future(client.with_hooks(capture, gate).user.get())
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gate.held == [] and gate.released == [] and capture.stopped == ["CancelledError"]
    assert fake_sage.state.requests == []
    await client.close()


def test_the_client_counts_through_its_quota_hook_first(fake_sage: Any) -> None:
    quota = Quota(limits=QuotaLimits(business_rate=RateLimit(1, per=60)), on_limit="raise")
    client = SageAccounting(
        access_token=token_of(fake_sage), base_url=fake_sage.base_url, quota=quota
    )
    assert isinstance(client.quota_hook, QuotaHook) and client.quota_hook.quota is quota
    assert client.with_hooks(Gate()).quota_hook is client.quota_hook
    client.user.get()
    gate = Gate()
    with pytest.raises(QuotaExceededError):  # the ledger (first) refuses: the gate never holds
        client.with_hooks(gate).user.get()
    assert gate.held == [] and client.quota.business_rate.used == 1
    assert client.quota.in_flight.used == 0
    client.close()


class Garbage(HoldingHook[None]):
    def __init__(self, yields: object) -> None:
        self.yields = yields

    def hold(self, request: PreparedRequest, *, retry: int) -> Hold[None]:
        yield self.yields  # type: ignore[misc]  # what a careless hook might do


class NotAPlan(HoldingHook[None]):
    def hold(self, request: PreparedRequest, *, retry: int) -> Hold[None]:
        return None  # type: ignore[return-value]  # forgot that hold is a sub-plan


@pytest.mark.parametrize("hook", [Garbage("sleep 1"), Garbage(None), NotAPlan()])
def test_a_hold_that_is_no_sub_plan_of_steps_is_a_typed_error_naming_the_hook(
    hook: HoldingHook[None], fake_sage: Any
) -> None:
    gate = Gate()
    client = SageAccounting(access_token=token_of(fake_sage), base_url=fake_sage.base_url)
    with pytest.raises(ArgumentTypeError, match=type(hook).__name__):
        client.with_hooks(gate, hook).user.get()
    assert gate.released == [(1, "ArgumentTypeError")]
    assert fake_sage.state.requests == []
    client.close()


def test_the_quota_hook_given_to_with_hooks_takes_that_place_once(fake_sage: Any) -> None:
    quota = Quota(limits=QuotaLimits(business_rate=RateLimit(1, per=60)), on_limit="raise")
    client = SageAccounting(
        access_token=token_of(fake_sage), base_url=fake_sage.base_url, quota=quota
    )
    client.user.get()
    gate = Gate()
    reordered = client.with_hooks(gate, client.quota_hook)
    assert reordered.hooks == (gate, client.quota_hook)
    with pytest.raises(QuotaExceededError):  # the gate holds first now: released, not leaked
        reordered.user.get()
    assert gate.released == [(1, "QuotaExceededError")]
    assert client.quota.business_rate.used == 1  # counted once per attempt, not twice
    with pytest.raises(ArgumentValueError, match="quota_hook"):
        reordered.with_hooks(client.quota_hook)
    client.close()


class _CountedPlan(Generator[Any, Any, int]):
    """A sub-plan that is a Generator without being a generator function's (no steps)."""

    def send(self, value: Any) -> Any:
        raise StopIteration(7)

    def throw(self, *args: Any, **kwargs: Any) -> Any:
        raise args[0] if isinstance(args[0], BaseException) else args[0]()


class _ClassPlanned(HoldingHook[int]):
    def __init__(self) -> None:
        self.tokens: list[int] = []

    def hold(self, request: PreparedRequest, *, retry: int) -> Hold[int]:
        return _CountedPlan()

    def release(self, request: PreparedRequest, token: int, error: BaseException) -> None:
        self.tokens.append(token)

    def settle(self, request: PreparedRequest, token: int, outcome: Any) -> Hold[None]:
        self.tokens.append(token)
        return
        yield


def test_a_hold_may_be_any_generator_not_only_a_generator_functions(fake_sage: Any) -> None:
    hook = _ClassPlanned()
    client = SageAccounting(access_token=token_of(fake_sage), base_url=fake_sage.base_url)
    client.with_hooks(hook).user.get()
    assert hook.tokens == [7]  # held with the plan's value, settled with it
    client.close()
