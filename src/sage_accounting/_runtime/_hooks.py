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
"""

from __future__ import annotations

import httpx

from ._prepare import PreparedRequest
from ._response import request_id_of


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
