"""Request hooks: the public way to take part in every request a client sends.

A hook is an object with three methods, each a no-op unless overridden. The one send plan that
sync and async clients share calls them, so one definition serves both:

- ``before_send(request, retry=...)``: before each attempt (``retry`` for a retry or a 401
  replay); raise a ``SageError`` to stop the request unsent;
- ``after_response(request, response)``: for each answer, before its status is mapped to an
  error;
- ``on_error(request, error)``: for each attempt that got no answer (a transport error).

``client.with_hooks(hook, ...)`` returns a copy (sharing the pool) whose hooks are the client's
followed by these; ``client.hooks`` lists them. The agent guard
(``sage_accounting.agents.for_agent``) is one such hook; the runtime knows none of them by name.
"""

from __future__ import annotations

import httpx

from ._prepare import PreparedRequest


class RequestHook:
    """Base class of request hooks: override what you need."""

    def before_send(self, request: PreparedRequest, *, retry: bool) -> None:
        """Called before each attempt; raising stops the request unsent."""

    def after_response(self, request: PreparedRequest, response: httpx.Response) -> None:
        """Called with each answer, before a non-success status is raised as an error."""

    def on_error(self, request: PreparedRequest, error: httpx.TransportError) -> None:
        """Called for each attempt that got no answer."""
