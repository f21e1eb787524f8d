"""A call as a plan: every decision once, the I/O left to the sync or async client.

``_BaseClient._send_plan`` is a generator. It decides everything about sending a request:
- the token rule and the request hooks' admission, their holds (the quota ledger's admission,
  ``_quota.QuotaHook``) and settling,
- the replay after a 401,
- the mapping of statuses to errors,
- the business check,
- whether and when to retry.

It yields a step each time it needs I/O and is sent back the step's outcome. A step is a small
frozen class (``GetToken``, ``Transmit``, ``Refresh``, ``Call``, ``Sleep``, ``Close``); ``Step``
is their union. Each client performs a step in one ``match`` (``SyncClient._perform`` calls
``time.sleep`` for ``Sleep``, ``AsyncClient._perform`` awaits ``asyncio.sleep``), which ends in
``assert_never``: mypy checks that every step is handled, with fields of the right types. A step
declares its outcome's type (``StepOf[R]``): the client hands the outcome back through
``step.answer(value)``, checked against ``R``, and the plan receives it through ``perform(step)``,
typed ``R``. So the two clients differ only in how they perform steps, and the logic of a call
cannot drift between them (it did, when each kept its own copy).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar, cast

if TYPE_CHECKING:
    import httpx

    from ._prepare import PreparedRequest

R = TypeVar("R")


class StepOf(Generic[R]):
    """A step whose outcome is an ``R``."""

    __slots__ = ()

    def answer(self, outcome: R) -> R:
        """The outcome of this step, as a client hands it back (type-checked against ``R``)."""
        return outcome


@dataclass(frozen=True, slots=True)
class GetToken(StepOf[str]):
    """The access token to send (a session refreshes it first when it is about to expire)."""


@dataclass(frozen=True, slots=True)
class Transmit(StepOf["httpx.Response | httpx.TransportError"]):
    """Send once. The outcome is the response, or the ``httpx.TransportError`` that stopped it
    (returned, not raised: the plan decides whether to retry)."""

    request: PreparedRequest
    token: str


@dataclass(frozen=True, slots=True)
class Refresh(StepOf[None]):
    """Refresh the session's tokens after Sage refused ``token`` (401)."""

    token: str


@dataclass(frozen=True, slots=True)
class Call(StepOf[R]):
    """``function(*args)``: in the async client's loop when it does no I/O (``blocking`` False),
    in a worker thread when it talks to Redis or a database."""

    function: Callable[..., R]
    args: tuple[Any, ...]
    blocking: bool


@dataclass(frozen=True, slots=True)
class Sleep(StepOf[None]):
    seconds: float


@dataclass(frozen=True, slots=True)
class Close(StepOf[None]):
    """Close a streamed response the caller will never get (its connection goes back)."""

    response: httpx.Response


# Every step a plan may yield: each client's ``match`` handles each one.
Step: TypeAlias = GetToken | Transmit | Refresh | Call[Any] | Sleep | Close


def perform(step: StepOf[R]) -> Generator[Step, Any, R]:
    """A sub-plan of one step: yields it and returns its outcome, typed as the step declares."""
    outcome = yield cast(Step, step)
    return cast(R, outcome)  # the client made it with step.answer (see above)


class PlanRun(Generic[R]):
    """Steps through a plan: iterate it for the steps; after performing each, set ``outcome``,
    or ``failure`` to the exception its I/O raised (``KeyboardInterrupt`` and cancellation
    included), which is thrown into the plan where it yielded the step, so that the plan sees
    what stopped it (its hooks hear of it, the ledger's slot is given back) and raises it.
    ``result`` is the plan's return value once the iteration ends."""

    def __init__(self, plan: Generator[Step, Any, R]) -> None:
        self._plan = plan
        self.outcome: object = None
        self.failure: BaseException | None = None
        self._result: tuple[R] | None = None

    def __iter__(self) -> Iterator[Step]:
        try:
            step = self._plan.send(None)
            while True:
                yield step
                outcome, failure = self.outcome, self.failure
                self.outcome = self.failure = None
                step = self._plan.send(outcome) if failure is None else self._plan.throw(failure)
        except StopIteration as done:
            self._result = (done.value,)
        finally:
            self._plan.close()

    @property
    def result(self) -> R:
        assert self._result is not None, "the plan has not finished"
        return self._result[0]
