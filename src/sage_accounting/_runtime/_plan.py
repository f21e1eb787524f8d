"""A call as a plan: every decision once, the I/O left to the sync or async client.

``_BaseClient._send_plan`` is a generator. It decides everything about sending a request:
- the token rule and the agent's admission,
- the quota ledger's admission and what it learns from the answer (``_quota``),
- the replay after a 401,
- the mapping of statuses to errors,
- the business check,
- whether and when to retry.

It yields a ``Step`` each time it needs I/O and is sent back the step's outcome. A client runs a
plan by performing each step with its own method named in ``Step.io``:
``SyncClient._io_sleep`` calls ``time.sleep``, ``AsyncClient._io_sleep`` awaits
``asyncio.sleep``. So the two clients differ only in those few methods, and the logic of a call
cannot drift between them (it did, when each kept its own copy).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

if TYPE_CHECKING:
    import httpx

    from ._prepare import PreparedRequest

R = TypeVar("R")


class Step(NamedTuple):
    """One piece of I/O the plan needs: the client method that performs it, and its arguments."""

    io: str
    args: tuple[Any, ...] = ()


# The access token to send (a session refreshes it first when it is about to expire).
GET_TOKEN = Step("_io_token")


def transmit(request: PreparedRequest, token: str) -> Step:
    """Send once. The outcome is the response, or the ``httpx.TransportError`` that stopped it
    (returned, not raised: the plan decides whether to retry)."""
    return Step("_io_transmit", (request, token))


def refresh(token: str) -> Step:
    """Refresh the session's tokens after Sage refused ``token`` (401)."""
    return Step("_io_refresh", (token,))


def quota_io(quota: Any, function: Any, *args: Any) -> Step:
    """Call ``function(*args)`` of the quota ledger: in the async client's loop when its backend
    does no I/O, in a worker thread when it talks to Redis or a database."""
    return Step("_io_quota", (quota, function, args))


def sleep(seconds: float) -> Step:
    return Step("_io_sleep", (seconds,))


def close(response: httpx.Response) -> Step:
    """Close a streamed response the caller will never get (its connection goes back)."""
    return Step("_io_close", (response,))


class PlanRun(Generic[R]):
    """Steps through a plan: iterate it for the steps, set ``outcome`` after performing each;
    ``result`` is the plan's return value once the iteration ends. An exception raised by a
    step's I/O is raised to the caller (the plan is closed with it)."""

    def __init__(self, plan: Generator[Step, Any, R]) -> None:
        self._plan = plan
        self.outcome: Any = None
        self._result: tuple[R] | None = None

    def __iter__(self) -> Iterator[Step]:
        try:
            while True:
                outcome, self.outcome = self.outcome, None
                yield self._plan.send(outcome)
        except StopIteration as done:
            self._result = (done.value,)
        finally:
            self._plan.close()

    @property
    def result(self) -> R:
        assert self._result is not None, "the plan has not finished"
        return self._result[0]
