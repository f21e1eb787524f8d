"""Request hooks: the public way to take part in every request a client sends.

A hook is an object with four methods, each a no-op unless overridden. The one send plan that
sync and async clients share calls them, so one definition serves both. For each attempt (the
first sending of a request, each retry, the replay after a 401):

- ``before_send(request, retry=n)``: before the attempt; ``n`` is how many times this request
  was sent before it (0 for the first attempt; true for a retry or a 401 replay). Raise a
  ``SageError`` to stop the request unsent.

then, for every hook whose ``before_send`` returned, exactly one of:

- ``after_response(request, response)``: the attempt's answer, before its status is mapped to
  an error (the 401 that is answered by a refresh and a replay included);
- ``on_error(request, error)``: the attempt got no answer (an ``httpx.TransportError``);
- ``on_stopped(request, error)``: the attempt ended with neither, on ``error``: a later hook
  refused it, the quota ledger had no room, the token could not be had, or it was interrupted
  (``KeyboardInterrupt``, an asyncio cancellation).

So a hook may open something in ``before_send`` (a span, a timer) and always close it (a hook
raising in one of these does not keep the hooks after it from hearing; its error is raised once
they all have). The
request's facts a hook may need are on the ``PreparedRequest``: ``operation_id``, ``method``,
``url``, ``business_id``, ``page``, ``idempotency_id`` (its headers carry no token: the
Authorization header is added when it is sent).

``client.with_hooks(hook, ...)`` returns a copy (sharing the pool) whose hooks are the client's
followed by these, called in that order; ``client.hooks`` lists them. The agent guard
(``sage_accounting.agents.for_agent``) and tracing (``sage_accounting.otel.TracingHook``) are
such hooks; the runtime knows none of them by name.

A hook that must wait or do I/O for an attempt (the quota ledger: ``_quota.QuotaHook``) is a
``HoldingHook``: besides the four methods, its ``hold`` is a sub-plan the client performs once
every hook's ``before_send`` has let the attempt through and the token is had, just before it is
sent. A sub-plan yields steps (``HoldingHook.sleep(seconds)``, ``HoldingHook.call(function,
*args)``: in a worker thread on the async client when ``blocking``) and returns the attempt's
token, its own per-attempt state (two sendings of one request object at once get two). Then
exactly one of: ``settle(request, token, outcome)`` (a sub-plan too) with the answer or the
transport error, before any ``after_response``/``on_error``; or ``release(request, token,
error)`` (plain: the plan may be closing, no step can be performed) when the attempt stopped
after its hold returned. The sync and async clients perform the same steps, so one definition
serves both.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from types import GeneratorType
from typing import Any, Generic, TypeAlias, TypeVar, cast

import httpx

from ._errors import ArgumentTypeError
from ._plan import Call, Sleep
from ._prepare import PreparedRequest
from ._response import request_id_of

T = TypeVar("T")
R = TypeVar("R")

# A hook's sub-plan: it yields the steps the client performs (``Sleep``, ``Call``), is sent each
# one's outcome, and returns a ``T``.
Hold: TypeAlias = Generator[Sleep | Call[Any], Any, T]


class RequestHook:
    """Base class of request hooks: override what you need."""

    def before_send(self, request: PreparedRequest, *, retry: int) -> None:
        """Called before each attempt (``retry``: the number of earlier attempts of this
        request); raising stops the request unsent."""

    def after_response(self, request: PreparedRequest, response: httpx.Response) -> None:
        """Called with each answer, before a non-success status is raised as an error."""

    def on_error(self, request: PreparedRequest, error: httpx.TransportError) -> None:
        """Called for each attempt that got no answer."""

    def on_stopped(self, request: PreparedRequest, error: BaseException) -> None:
        """Called for each attempt that ended, on ``error``, with no answer and no transport
        error, after this hook's ``before_send`` let it through."""

    @staticmethod
    def request_id_of(response: httpx.Response) -> str | None:
        """Sage's id of the request an answer is for (whichever of its spellings Sage sent),
        to quote to Sage's support; None when the answer carries none."""
        return request_id_of(response.headers)


class HoldingHook(RequestHook, Generic[T]):
    """A request hook that takes part in the plan's I/O: ``hold`` before each attempt is sent
    (its value, a ``T``, is the attempt's token), then ``settle`` or ``release`` with that token
    (see the module's docstring). Override ``hold``; ``settle`` and ``release`` do nothing
    unless overridden."""

    def hold(self, request: PreparedRequest, *, retry: int) -> Hold[T]:
        """The sub-plan run before the attempt is sent; raising stops it unsent (the hooks whose
        ``before_send`` let it through hear ``on_stopped``, earlier holds ``release``)."""
        raise NotImplementedError

    def settle(
        self,
        request: PreparedRequest,
        token: T,
        outcome: httpx.Response | httpx.TransportError,
    ) -> Hold[None]:
        """The sub-plan run when the attempt has its answer or transport error."""
        return
        yield  # a generator that yields nothing

    def release(self, request: PreparedRequest, token: T, error: BaseException) -> None:
        """The attempt stopped on ``error`` after ``hold`` returned ``token`` and before
        ``settle`` ended (no step can be performed here)."""

    @staticmethod
    def sleep(seconds: float) -> Sleep:
        """A step: wait ``seconds`` (``asyncio.sleep`` on the async client)."""
        return Sleep(seconds)

    @staticmethod
    def call(function: Callable[..., R], *args: Any, blocking: bool = True) -> Call[R]:
        """A step: ``function(*args)``, whose value is sent back to the sub-plan; on the async
        client in a worker thread when ``blocking`` (it talks to Redis or a database), else in
        the loop."""
        return Call(function, args, blocking=blocking)


def hook_steps(hook: HoldingHook[Any], plan: Hold[T]) -> Generator[Sleep | Call[Any], Any, T]:
    """``plan``, a sub-plan of ``hook``'s, stepped through as ``yield from`` would (outcomes sent
    in, failures thrown in), refusing anything that is not a sub-plan of ``Sleep``/``Call``
    steps with an error naming the hook, before any of it is performed."""
    # A plain generator is told by its type (~15 ns) before the ABC's isinstance (~180 ns, twice
    # a request), which any other Generator a hook hands back still passes.
    if type(plan) is not GeneratorType and not isinstance(plan, Generator):
        raise ArgumentTypeError(
            "hooks",
            f"{type(hook).__name__}'s hold and settle must be generators (sub-plans that"
            f" yield self.sleep(...) or self.call(...)), not {type(plan).__name__}",
        )
    outcome: Any = None
    failure: BaseException | None = None
    while True:
        try:
            step = plan.send(outcome) if failure is None else plan.throw(failure)
        except StopIteration as done:
            return cast(T, done.value)
        if not isinstance(step, (Sleep, Call)):
            plan.close()
            raise ArgumentTypeError(
                "hooks",
                f"{type(hook).__name__} yielded {type(step).__name__}: a sub-plan may"
                " yield only self.sleep(...) or self.call(...) steps",
            )
        try:
            outcome, failure = (yield step), None
        except BaseException as exc:  # Ctrl-C, a cancellation, the plan closed: the hook sees it
            outcome, failure = None, exc
