"""The base clients: all transport lives here, once, for every generated resource.

A generated method hands the client its operation's facts and its arguments through one of the
client's verbs (``call``, ``call_empty``, ``call_bytes``, ``paginate``, ``changes``). The client
``prepare``\\ s the request (``_prepare``: a wrong argument fails before any HTTP call), ``send``\\ s it
and parses the answer into the model.

Sending is one plan (``_send_plan``, see ``_plan``): auth, the request hooks (the quota ledger
among them: ``_quota.QuotaHook``, installed first by the constructor), the replay after a 401, errors mapped, the answer checked to be for the business asked, retries.
The plan is written once, in ``_BaseClient``; ``SyncClient`` and ``AsyncClient`` only perform its
steps (``_perform``: one ``match`` over the step classes: get a token, transmit, refresh, call,
sleep, close) and keep their own verbs, a line or two each.

Trust rules kept here, at the one place every request passes:
- the bearer token is attached only to URLs within the base URL (same scheme, host, port and
  base path, no dot segments): ``authorized_headers`` refuses anything else, whatever led to it;
- redirects are never followed (``follow_redirects=False`` on every send, even with a
  user-supplied httpx client that follows them): a 3xx is a ``RedirectError``;
- a closed client (or a copy of one) raises ``ClientClosedError``; copies never close the pool.
"""

from __future__ import annotations

import copy
import logging
import os
import sys
import threading
import time
import urllib.parse
import warnings
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Generic, Self, TypedDict, TypeVar, Unpack, assert_never, cast

import httpx

from . import _env, _retry
from . import _errors as errors
from ._encoding import loads
from ._env import argument_or_env
from ._hooks import HoldingHook, RequestHook, hook_steps
from ._limits import DEFAULT_MAX_IN_FLIGHT, RateLimit
from ._operation import Operation
from ._options import RequestOptions, checked_max_retries, checked_timeout
from ._pagination import AsyncPager, SyncPager, with_page_size
from ._plan import (
    Call,
    Close,
    GetToken,
    PlanRun,
    Refresh,
    Sleep,
    Step,
    Transmit,
    perform,
)
from ._prepare import (
    CallParts,
    ClientConfig,
    MissingBusinessHeader,
    PreparedRequest,
    check_base_url,
    check_business_id,
    check_header,
    header_safe,
    is_within,
    prepare,
    refused_header,
)
from ._quota import Quota, QuotaHook, QuotaLimits, QuotaStatus, quota_io
from ._redact import redact, remember
from ._response import holding, record, request_id_of, response_validation_error
from ._streaming import AsyncFileStream, FileStream
from .wire import (
    API_ORIGIN,
    API_VERSION_PATH,
    BUSINESS_HEADER,
    REFUSED_HEADERS,
    takes_business,
)

if TYPE_CHECKING:  # pydantic is imported by the models, when first used, not by the client
    import datetime as dt

    from pydantic import BaseModel

    from ._auth import OAuthSession
    from ._changes import AsyncChangeFeed, ChangeFeed

log = logging.getLogger("sage_accounting")

DEFAULT_BASE_URL = API_ORIGIN + API_VERSION_PATH
# Sage's gateway gives up after 45 s; reading waits a little longer to see its 504.
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
DEFAULT_MAX_RETRIES = 2
OCTET_STREAM = "application/octet-stream"

M = TypeVar("M", bound="BaseModel")


class FeedParts(TypedDict):
    """A change feed's arguments, as generated ``changes`` methods pass them."""

    since: dt.datetime | None
    query: Mapping[str, Any]
    overlap: float
    options: RequestOptions


H = TypeVar("H", httpx.Client, httpx.AsyncClient)
R = TypeVar("R")
A = TypeVar("A")


class _Shared(Generic[H]):
    """The httpx client, made on first use and shared by every copy of a client
    (``with_business``): building one loads httpcore and an SSL context (~30 ms), which a
    script that only imports the SDK, or builds a client it never calls, should not pay."""

    def __init__(self, given: H | None, make: Callable[[], H]) -> None:
        self._instance: H | None = given
        self._make: Callable[[], H] = make
        self.owned_instance: H | None = None
        self.closed = False  # set when the client that made it is closed
        self._lock = threading.Lock()

    def get(self) -> H:
        if self.closed:
            raise errors.ClientClosedError("the client was closed: make a new one")
        instance = self._instance
        if instance is not None and instance.is_closed:  # a user-supplied httpx client
            raise errors.ClientClosedError("the httpx client given as http_client= was closed")
        if instance is None:
            with self._lock:
                instance = self._instance
                if instance is None:
                    instance = self._instance = self.owned_instance = self._make()
        return instance


class _BaseClient(Generic[H]):
    """Configuration and every step of a call that does no I/O."""

    def __init__(
        self,
        *,
        access_token: str | None = None,
        session: OAuthSession | None = None,
        business_id: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        rate_limit: RateLimit | None = None,
        quota: Quota | None = None,
        missing_business_header: MissingBusinessHeader = "warn",
        http_client: H | None = None,
    ) -> None:
        """A client for one business (``business_id``; None: the user's lead business).

        Credentials: ``access_token`` (a bare token) or ``session`` (an ``OAuthSession``, which
        refreshes). Absent arguments are read from SAGE_ACCESS_TOKEN, SAGE_BUSINESS_ID and
        SAGE_BASE_URL. ``http_client``: your own httpx client (you close it; no auth= of its own;
        redirects are never followed whatever it says). ``quota``: the ledger of Sage's limits this client counts
        against (default: this process's, with Sage's documented per-app limits; ``Quota()`` adds
        the per-business ones; ``Quota(RedisQuotaBackend(...))`` shares the counts between
        processes and hosts). ``max_in_flight`` (150) and ``rate_limit`` (none) set the default
        ledger's in-flight cap and per-business rate.
        ``missing_business_header``: what to do when an answer lacks ``X-Business``.
        """
        if session is None:
            access_token = argument_or_env(access_token, _env.ACCESS_TOKEN)
        business_id = argument_or_env(business_id, _env.BUSINESS_ID)
        base_url_argument = "base_url" if base_url is not None else _env.BASE_URL
        if base_url == "":  # an empty setting, never taken for Sage's production API
            raise errors.ArgumentValueError(
                "base_url", f"is empty: leave it out (None) for Sage's API, {DEFAULT_BASE_URL}"
            )
        base_url = argument_or_env(base_url, _env.BASE_URL) or DEFAULT_BASE_URL
        check_base_url(base_url, base_url_argument)
        if (access_token is None) == (session is None):
            raise errors.ArgumentTypeError(
                "access_token",
                "pass either access_token= (a bare token, or SAGE_ACCESS_TOKEN in the environment)"
                " or session= (OAuthSession)",
            )
        if access_token is not None and (not isinstance(access_token, str) or not access_token):
            raise errors.ArgumentTypeError("access_token", "must be a non-empty str")
        if access_token is not None and not header_safe(access_token):
            raise errors.ArgumentValueError(
                "access_token", "must be printable ASCII: it is sent in the Authorization header"
            )
        if business_id is not None:
            check_business_id(business_id)
        if missing_business_header not in ("warn", "error", "ignore"):
            raise errors.ArgumentValueError(
                "missing_business_header",
                f"must be 'warn', 'error' or 'ignore', not {missing_business_header!r}",
            )
        for name, value in (default_headers or {}).items():
            check_header("default_headers", name, value)
        if http_client is not None and http_client.auth is not None:
            raise errors.ArgumentValueError(
                "http_client",
                "carries its own auth=, which httpx would send in place of the Bearer token:"
                " pass an httpx client without auth",
            )
        remember(access_token)  # from now on it is removed from any text the SDK raises or logs
        self._access_token = access_token
        self._session = session
        # Sage counts per app: clients of one app (at one base URL) share one ledger scope.
        self._app_key = session.app_key if session is not None else "(access token)"
        self._quota_scope = f"{self._app_key}@{base_url.rstrip('/')}"
        self._quota = _quota_of(quota, self._quota_scope, max_in_flight, rate_limit)
        self._ledger: QuotaHook = QuotaHook(self._quota, self._quota_scope)
        self._config = ClientConfig(
            base_url=base_url.rstrip("/"),
            business_id=business_id,
            timeout=checked_timeout("timeout", timeout),
            max_retries=checked_max_retries("max_retries", max_retries),
            default_headers=dict(default_headers or {}),
            missing_business_header=missing_business_header,
        )
        self._pool: _Shared[H] = _Shared(http_client, self._new_http)
        self._resources: dict[str, Any] = {}
        self._closed = False
        self._owns_pool = True  # copies share the pool and never close it
        self._hooks: tuple[RequestHook, ...] = ()  # with_hooks adds; copies keep them
        self._chain: tuple[RequestHook, ...] = (self._ledger,)  # what the plan calls, in order
        self._holding: tuple[HoldingHook[Any], ...] = (self._ledger,)

    def _new_http(self) -> H:
        raise NotImplementedError  # the sync or async client's own httpx client

    def __repr__(self) -> str:  # never shows the token
        business = self._config.business_id or "lead business"
        return f"{type(self).__name__}(base_url={self._config.base_url!r}, business={business!r})"

    @property
    def business_id(self) -> str | None:
        return self._config.business_id

    @property
    def base_url(self) -> str:
        return self._config.base_url

    @property
    def _http(self) -> H:
        return self._pool.get()

    # -- light copies -------------------------------------------------------------------------------

    def _copy(self, **changes: Any) -> Self:
        clone = copy.copy(self)
        clone._config = replace(self._config, **changes)
        clone._resources = {}
        clone._closed, clone._owns_pool = False, False
        return clone

    def with_business(self, business_id: str) -> Self:
        """A client for another business, sharing this one's connection pool and credentials.
        Closing the copy does not close the pool; closing this client closes it for both."""
        return self._copy(business_id=check_business_id(business_id))

    def with_options(
        self, *, timeout: float | httpx.Timeout | None = None, max_retries: int | None = None
    ) -> Self:
        """A copy with another default timeout or retry count, sharing the pool."""
        changes: dict[str, Any] = {}
        if timeout is not None:
            changes["timeout"] = checked_timeout("timeout", timeout)
        if max_retries is not None:
            changes["max_retries"] = checked_max_retries("max_retries", max_retries)
        return self._copy(**changes)

    @property
    def hooks(self) -> tuple[RequestHook, ...]:
        """The request hooks added with ``with_hooks``, in order: every request of this client
        passes through them, after the client's quota ledger (``quota_hook``) unless it is
        listed among them."""
        return self._hooks

    @property
    def quota_hook(self) -> QuotaHook:
        """The hook through which this client counts against its quota ledger (``quota=``): the
        first every request passes through."""
        return self._ledger

    def with_hooks(self, *hooks: RequestHook) -> Self:
        """A copy whose requests also pass through ``hooks`` (after this client's own), sharing
        the pool; see ``RequestHook``. The client's ``quota_hook`` among ``hooks`` moves the
        ledger to that place (it is first otherwise)."""
        for hook in hooks:
            if not isinstance(hook, RequestHook):
                raise errors.ArgumentTypeError(
                    "hooks", f"must be RequestHook instances, not {type(hook).__name__}"
                )
        added: tuple[RequestHook, ...] = self._hooks + hooks
        placed = sum(hook is self._ledger for hook in added)  # the ledger moved where given
        if placed > 1:
            raise errors.ArgumentValueError(
                "hooks", "the client's quota_hook can take one place in its hooks, not two"
            )
        chain: tuple[RequestHook, ...] = added if placed else (self._ledger, *added)
        holding = tuple(hook for hook in chain if isinstance(hook, HoldingHook))
        clone = self._copy()
        clone._hooks, clone._chain, clone._holding = added, chain, holding
        return clone

    def _resource(self, name: str, cls: Callable[[Self], R]) -> R:
        """The client's one instance of a resource class, made on first use."""
        resource: R | None = self._resources.get(name)
        if resource is None:
            resource = self._resources[name] = cls(self)
        return resource

    # -- preparing ----------------------------------------------------------------------------------

    def prepare(
        self, op: Operation, *, accept: str = "application/json", **parts: Unpack[CallParts]
    ) -> PreparedRequest:
        """``op`` with these arguments, checked and encoded (see ``_prepare``)."""
        return prepare(self._config, op, accept=accept, **parts)

    def _list_request(self, op: Operation, parts: CallParts) -> PreparedRequest:
        listing: CallParts = {**parts, "query": with_page_size(op, parts.get("query"))}
        return self.prepare(op, **listing)

    def _file_request(self, op: Operation, parts: CallParts) -> PreparedRequest | None:
        """The request of an operation answering a file; None when a streaming wrapper holds it
        instead, unsent, as a stream to enter (``with_streaming_response``)."""
        request = self.prepare(op, accept=OCTET_STREAM, **parts)
        capture = holding()
        if capture is None:
            return request
        capture.stream = self._stream(replace(request, stream=True))
        return None

    def _stream(self, request: PreparedRequest) -> FileStream | AsyncFileStream:
        raise NotImplementedError  # the sync or async client's own kind of stream

    def is_within_base(self, url: str) -> bool:
        """Whether ``url`` is under the base URL: same scheme, host and port, a path below the
        base path and no dot segment (a server could normalise ``..`` out of the base)."""
        return is_within(url, self._config.base_url)

    def authorized_headers(self, request: PreparedRequest, token: str) -> dict[str, str]:
        """The request's headers with the bearer token: only for a URL within the base URL."""
        # (No need to remember the token here: a bare one is remembered by __init__, a session's
        # when its TokenSet is made; this runs on every send.)
        if not self.is_within_base(request.url):
            raise errors.UntrustedURLError(request.url, self._config.base_url)
        refused = refused_header(request.headers)  # added to a prepared request's headers
        if refused:
            raise errors.ArgumentValueError(
                "headers", f"header {refused!r} cannot be set: {REFUSED_HEADERS[refused.lower()]}"
            )
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        if not header_safe(token):  # a session's, from a store or the token endpoint
            raise errors.OAuthError(
                "the session's access token is not printable ASCII (CR, LF, ...), so no"
                " Authorization header can carry it: its token store or token endpoint is corrupt"
            )
        headers["Authorization"] = f"Bearer {token}"  # one, whatever spelling was there
        return headers

    def _build(self, request: PreparedRequest, token: str) -> httpx.Request:
        """The httpx request (sent with ``stream=request.stream``: files are read in chunks)."""
        return self._http.build_request(
            request.method,
            request.url,
            headers=self.authorized_headers(request, token),
            content=request.content,
            timeout=request.timeout,
        )

    # -- sending: the plan --------------------------------------------------------------------------

    def _send_plan(self, request: PreparedRequest) -> Generator[Step, Any, httpx.Response]:
        """Everything about sending ``request`` but the I/O, which it yields as steps."""
        self._ensure_open()
        attempt, replayed = 0, False
        while True:
            self._admit(request, attempt + replayed)  # every attempt is admitted
            held: list[tuple[HoldingHook[Any], Any]] = []  # this attempt's tokens, not settled
            try:
                token = self._access_token or (yield from perform(GetToken()))
                started = time.perf_counter()
                for holding in self._holding:  # the quota ledger's admission among them
                    plan = holding.hold(request, retry=attempt + replayed)
                    held.append((holding, (yield from hook_steps(holding, plan))))
                outcome: httpx.Response | httpx.TransportError = (
                    yield from perform(Transmit(request, token))
                )
                while held:
                    hook, held_token = held[0]
                    yield from hook_steps(hook, hook.settle(request, held_token, outcome))
                    del held[0]
            except BaseException as exc:  # refused, no token, interrupted: no answer, no error
                _release_each(held, request, exc)
                _tell_each([hook.on_stopped for hook in self._chain], request, exc)
                raise
            error: errors.SageError
            if isinstance(outcome, httpx.TransportError):
                self._log(request, type(outcome).__name__, started, attempt)
                error = self._connection_error(request, outcome)
            else:
                answer = outcome
                self._log(request, answer.status_code, started, attempt, answer)
                try:  # every hook hears of each answer, the 401 replayed below included
                    _tell_each([h.after_response for h in self._chain], request, answer)
                    replay = self._may_replay(answer, replayed)
                    if not replay:
                        self._check_response(request, answer)
                except errors.APIStatusError as exc:
                    error = exc  # a streamed error's body was read: nothing left open
                except BaseException:
                    if request.stream:  # refused after it arrived (a hook, another business...)
                        yield from perform(Close(answer))
                    raise
                else:
                    if not replay:
                        record(answer)  # for with_raw_response
                        return answer
                    yield from perform(Refresh(token))
                    replayed = True
                    continue
            wait = self._retry_delay(request, attempt, error)
            if wait is None:
                raise error
            log.info(
                "retrying %s %s in %.2f s after %s",
                request.method,
                redact(request.path),
                wait,
                _brief(error),
            )
            yield from perform(Sleep(wait))
            attempt += 1

    # -- the plan's decisions ----------------------------------------------------------------------

    def _mark_closed(self) -> Any:
        """Mark this client closed; the httpx client to close with it: the one its pool made,
        when this client is the original (copies share the pool and never close it)."""
        self._closed = True
        if not self._owns_pool:
            return None
        self._pool.closed = True
        return self._pool.owned_instance

    def _ensure_open(self) -> None:
        if self._closed:
            raise errors.ClientClosedError(f"{self!r} was closed: make a new client (or copy)")

    def _may_replay(self, response: httpx.Response, replayed: bool) -> bool:
        """A 401 is answered by one refresh and one replay, unless refreshing cannot help."""
        if response.status_code != 401 or self._session is None or replayed:
            return False
        return not errors.is_no_active_subscription(
            errors.parse_error_details(_error_body(response))
        )

    # -- reading the answer -------------------------------------------------------------------------

    def _admit(self, request: PreparedRequest, retry: int) -> None:
        """Every hook sees each attempt before it is sent (an agent's guard checks its policy
        and budget there) and may stop it: the hooks before it hear that it stopped."""
        for index, hook in enumerate(self._chain):
            try:
                hook.before_send(request, retry=retry)
            except BaseException as exc:
                earlier = self._chain[:index]
                _tell_each([each.on_stopped for each in earlier], request, exc)
                raise

    def _check_response(self, request: PreparedRequest, response: httpx.Response) -> None:
        """Raise for a status that is not a success (redirects included: they are never
        followed) or an answer about another business (the hooks have seen it)."""
        if response.status_code >= 300:
            raise errors.status_error(
                status_code=response.status_code,
                method=request.method,
                path=request.path,
                request_id=request_id_of(response.headers),
                business_id=request.business_id,
                body=_error_body(response),
                access_hint=request.operation.access_hint(),
                retry_after=_retry.parse_retry_after(response.headers),
                location=response.headers.get("location"),
                response=response,
            )
        if not request.business_id:
            return
        received = response.headers.get(BUSINESS_HEADER)
        if received is None:
            self._missing_business_header(request)
        elif received != request.business_id:
            raise errors.BusinessMismatchError(
                requested=request.business_id,
                received=received,
                method=request.method,
                path=request.path,
            )

    def _missing_business_header(self, request: PreparedRequest) -> None:
        """Sage sends X-Business on every business's answer: without it the check cannot be made."""
        mode = self._config.missing_business_header
        if mode == "ignore" or not takes_business(request.operation.path):
            return
        error = errors.MissingBusinessHeaderError(
            requested=request.business_id or "", method=request.method, path=request.path
        )
        if mode == "error":
            raise error
        warnings.warn(str(error), errors.MissingBusinessHeaderWarning, stacklevel=_user_frame())

    @staticmethod
    def _parsed(response: httpx.Response, model: type[M]) -> M:
        from ._envelope import MalformedBody, parse_model

        if response.status_code == 204 and not response.content:
            # No Content, said outright (a void answered without the voided record): the call
            # succeeded, and the record is empty. An empty 200 is an error (below).
            return model.model_construct()
        try:
            return parse_model(response.content, model)
        except MalformedBody as exc:
            raise response_validation_error(response, str(exc)) from None

    def _retry_delay(
        self, request: PreparedRequest, attempt: int, error: Exception
    ) -> float | None:
        """Seconds to wait before retrying after ``error``, or None to raise it."""
        if attempt >= request.max_retries or not request.retry_allowed:
            return None
        if isinstance(error, errors.DailyLimitReached):
            return None  # a day's quota: retrying only spends what the next day would have
        if isinstance(error, errors.APIConnectionError):
            return _retry.backoff_delay(attempt)
        if isinstance(error, errors.APIStatusError) and error.status_code in _retry.RETRY_STATUSES:
            retry_after = error.retry_after
            if retry_after is not None:
                return retry_after if retry_after <= _retry.MAX_RETRY_AFTER else None
            return _retry.backoff_delay(attempt)
        return None

    def _log(
        self,
        request: PreparedRequest,
        status: int | str,
        started: float,
        attempt: int,
        answer: httpx.Response | None = None,
    ) -> None:
        if log.isEnabledFor(logging.DEBUG):  # the request id looked up only to be logged
            # The path and the page number only: never the headers (the token) or other query.
            log.debug(
                "%s %s -> %s in %.0f ms (business %s, page %s, retries %d, request id %s)",
                request.method,
                redact(request.path),
                status,
                (time.perf_counter() - started) * 1000,
                request.business_id or "lead",
                "-" if request.page is None else request.page,
                attempt,
                (request_id_of(answer.headers) if answer is not None else None) or "-",
            )

    def _connection_error(
        self, request: PreparedRequest, exc: httpx.TransportError
    ) -> errors.APIConnectionError:
        _tell_each([hook.on_error for hook in self._chain], request, exc)
        cls = (
            errors.APITimeoutError
            if isinstance(exc, httpx.TimeoutException)
            else errors.APIConnectionError
        )
        host = urllib.parse.urlsplit(str(request.url)).netloc  # which server, never the query
        reason = " ".join(str(exc).split()) or type(exc).__name__
        what = "no answer in time from" if cls is errors.APITimeoutError else "cannot reach"
        return cls(  # httpx's text may quote the URL: the exception redacts it
            f"{what} {host}: {reason} ({type(exc).__name__})",
            method=request.method,
            path=request.path,
            business_id=request.business_id,
        )


class SyncClient(_BaseClient[httpx.Client]):
    """The synchronous client: performs the plan's steps and answers with values."""

    def _new_http(self) -> httpx.Client:
        return httpx.Client(timeout=self._config.timeout)

    def close(self) -> None:
        """Close this client. The original also closes the pool it made (copies never do); an
        ``http_client=`` given by the caller is left for the caller to close."""
        owned = self._mark_closed()
        if owned is not None:
            owned.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def send(self, request: PreparedRequest) -> httpx.Response:
        run = PlanRun(self._send_plan(request))
        for step in run:
            try:
                run.outcome = self._perform(step)
            except BaseException as exc:  # thrown into the plan, which raises it
                run.failure = exc
        return run.result

    def _perform(self, step: Step) -> object:
        """One step of the plan, done (see ``_plan``)."""
        match step:
            case GetToken():
                assert self._session is not None
                return step.answer(self._session.access_token())
            case Transmit(request=request, token=token):
                return step.answer(self._transmit(request, token))
            case Refresh(token=token):
                assert self._session is not None
                self._session.refresh_after_unauthorized(token)
            case Call(function=function, args=args):
                return step.answer(function(*args))
            case Sleep(seconds=seconds):
                time.sleep(seconds)
            case Close(response=response):
                response.close()
            case _:
                assert_never(step)
        return None

    # The verbs generated methods call.

    def call(self, op: Operation, returns: type[M], **parts: Unpack[CallParts]) -> M:
        """Send ``op`` and parse the answer as ``returns``."""
        return self._parsed(self.send(self.prepare(op, **parts)), returns)

    def call_empty(self, op: Operation, **parts: Unpack[CallParts]) -> None:
        """Send ``op``, whose answer has no body (a DELETE's 204)."""
        self.send(self.prepare(op, **parts))

    def call_bytes(self, op: Operation, **parts: Unpack[CallParts]) -> bytes:
        """Send ``op``, whose answer is a file, and read it whole."""
        request = self._file_request(op, parts)
        return b"" if request is None else self.send(request).content

    def paginate(self, op: Operation, item: type[M], **parts: Unpack[CallParts]) -> SyncPager[M]:
        """A pager over ``op``'s pages (nothing is sent until it is iterated)."""
        return SyncPager(self, self._list_request(op, parts), item)

    def changes(self, op: Operation, item: type[M], **feed: Unpack[FeedParts]) -> ChangeFeed[M]:
        """The change feed of the list ``op`` (see ``_changes``)."""
        from ._changes import ChangeFeed  # only for resources that are polled

        options = feed["options"]
        pagers = lambda q: self.paginate(op, item, query=q, options=options)  # noqa: E731
        return ChangeFeed(pagers, feed["since"], feed["query"], feed["overlap"])

    # The plan's steps.

    def _stream(self, request: PreparedRequest) -> FileStream:
        return FileStream(self, request)

    @property
    def quota(self) -> QuotaStatus:
        """What remains of Sage's limits for this client's business, from the ledger now (a
        shared ledger is read over the network: one round trip)."""
        return self._ledger.status(self._config.business_id)

    def _transmit(
        self, request: PreparedRequest, token: str
    ) -> httpx.Response | httpx.TransportError:
        try:
            sent = self._http.send(
                self._build(request, token),
                stream=request.stream,
                follow_redirects=False,  # the token must not go where a 3xx points
                auth=None,  # never the http_client's own auth, which would replace the Bearer
            )
            if request.stream and sent.status_code >= 300:
                sent.read()  # an error body is small and is parsed into the error
            return sent
        except httpx.TransportError as exc:
            return exc


class AsyncClient(_BaseClient[httpx.AsyncClient]):
    """The asynchronous client: the same plan, its steps awaited."""

    def _new_http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self._config.timeout)

    async def close(self) -> None:
        """Close this client. The original also closes the pool it made (copies never do); an
        ``http_client=`` given by the caller is left for the caller to close."""
        owned = self._mark_closed()
        if owned is not None:
            await owned.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def send(self, request: PreparedRequest) -> httpx.Response:
        run = PlanRun(self._send_plan(request))
        for step in run:
            try:
                run.outcome = await self._perform(step)
            except BaseException as exc:  # thrown into the plan, which raises it
                run.failure = exc
        return run.result

    async def _perform(self, step: Step) -> object:
        """One step of the plan, awaited (see ``_plan``)."""
        match step:
            case GetToken():
                assert self._session is not None
                return step.answer(await self._session.aaccess_token())
            case Transmit(request=request, token=token):
                return step.answer(await self._transmit(request, token))
            case Refresh(token=token):
                assert self._session is not None
                await self._session.arefresh_after_unauthorized(token)
            case Call(function=function, args=args, blocking=blocking):
                if not blocking:
                    return step.answer(function(*args))
                import asyncio  # imported here: sync users should not pay for asyncio at import

                return step.answer(await asyncio.to_thread(function, *args))
            case Sleep(seconds=seconds):
                await _sleep(seconds)
            case Close(response=response):
                await response.aclose()
            case _:
                assert_never(step)
        return None

    async def call(self, op: Operation, returns: type[M], **parts: Unpack[CallParts]) -> M:
        return self._parsed(await self.send(self.prepare(op, **parts)), returns)

    async def call_empty(self, op: Operation, **parts: Unpack[CallParts]) -> None:
        await self.send(self.prepare(op, **parts))

    async def call_bytes(self, op: Operation, **parts: Unpack[CallParts]) -> bytes:
        request = self._file_request(op, parts)
        return b"" if request is None else (await self.send(request)).content

    def paginate(self, op: Operation, item: type[M], **parts: Unpack[CallParts]) -> AsyncPager[M]:
        return AsyncPager(self, self._list_request(op, parts), item)

    def changes(
        self, op: Operation, item: type[M], **feed: Unpack[FeedParts]
    ) -> AsyncChangeFeed[M]:
        from ._changes import AsyncChangeFeed

        options = feed["options"]
        pagers = lambda q: self.paginate(op, item, query=q, options=options)  # noqa: E731
        return AsyncChangeFeed(pagers, feed["since"], feed["query"], feed["overlap"])

    def _stream(self, request: PreparedRequest) -> AsyncFileStream:
        return AsyncFileStream(self, request)

    @property
    def quota(self) -> Awaitable[QuotaStatus]:
        """``await client.quota``: what remains of Sage's limits for this client's business,
        from the ledger now (a shared ledger is read in a worker thread, the loop not blocked)."""
        step = quota_io(self._quota, self._ledger.status, self._config.business_id)
        return cast("Awaitable[QuotaStatus]", self._perform(step))

    async def _transmit(
        self, request: PreparedRequest, token: str
    ) -> httpx.Response | httpx.TransportError:
        try:
            sent = await self._http.send(
                self._build(request, token),
                stream=request.stream,
                follow_redirects=False,  # the token must not go where a 3xx points
                auth=None,  # never the http_client's own auth, which would replace the Bearer
            )
            if request.stream and sent.status_code >= 300:
                await sent.aread()  # an error body is small and is parsed into the error
            return sent
        except httpx.TransportError as exc:
            return exc


# -- helpers ----------------------------------------------------------------------------------------


_default_quotas: dict[str, Quota] = {}
_default_quotas_lock = threading.Lock()


def _quota_of(
    quota: Quota | None, scope: str, max_in_flight: int, rate_limit: RateLimit | None
) -> Quota:
    """The client's ledger: the one given, or this process's for the app (``scope``), made by
    the app's first client and shared by the rest, so that every client of one app counts
    against one cap. It counts Sage's documented per-app limits (requests in flight, per day)
    and, when ``rate_limit`` asks, a business rate; the third-party per-business figures (100 a
    minute, 2,500 a day) are counted with ``quota=Quota()`` (whose defaults are all four)."""
    if max_in_flight < 1:
        raise errors.ArgumentValueError("max_in_flight", "must be at least 1")
    explicit = max_in_flight != DEFAULT_MAX_IN_FLIGHT or rate_limit is not None
    if quota is not None:
        if explicit:
            raise errors.ArgumentValueError(
                "quota", "set max_in_flight and rate_limit in its QuotaLimits, not beside it"
            )
        if not isinstance(quota, Quota):
            raise errors.ArgumentTypeError("quota", f"must be a Quota, not {type(quota).__name__}")
        return quota
    limits = QuotaLimits(
        in_flight=max_in_flight,
        app_per_day=QuotaLimits().app_per_day,
        business_rate=rate_limit,
        business_per_day=None,
    )
    with _default_quotas_lock:
        existing = _default_quotas.get(scope)
        if existing is None:
            existing = _default_quotas[scope] = Quota(limits=limits)
        elif explicit and existing.limits != limits:
            raise errors.ArgumentValueError(
                "max_in_flight",
                f"this app's ledger in this process already has {existing.limits!r} (set by its"
                " first client); pass quota=Quota(limits=...) to count separately",
            )
        return existing


async def _sleep(seconds: float) -> None:
    import asyncio  # imported here: sync users should not pay for asyncio at import

    await asyncio.sleep(seconds)


def _error_body(response: httpx.Response) -> Any:
    """An error answer's body: JSON when it is (Sage's error array), else a bounded excerpt."""
    try:
        return loads(response.content) if response.content else None
    except ValueError:  # not JSON, not UTF-8, or nested too deep to decode
        return errors.body_excerpt(response.content)


# Every folder of the package: in a checkout its generated and hand-written roots, in a wheel one.
_PACKAGE_DIRS = tuple(
    os.path.join(os.path.abspath(path), "") for path in sys.modules[__name__.split(".")[0]].__path__
)


def _user_frame() -> int:
    """The ``stacklevel`` of the caller's first frame outside this package, so that a warning
    points at the user's line whatever path (method, pager, feed, sync or async) led to it."""
    frame, level = sys._getframe(2), 2
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIRS):
        frame, level = frame.f_back, level + 1
    return level


def _tell_each(
    methods: list[Callable[[PreparedRequest, A], None]], request: PreparedRequest, what: A
) -> None:
    """``method(request, what)`` for every hook's method, in order, even after one raised (each
    hook hears how an attempt it let through ended); the first error is raised once all heard."""
    failure: BaseException | None = None
    for method in methods:
        try:
            method(request, what)
        except BaseException as exc:
            failure = failure or exc
    if failure is not None:
        raise failure


def _release_each(
    held: list[tuple[HoldingHook[Any], Any]], request: PreparedRequest, error: BaseException
) -> None:
    """``release`` for every hold not settled, in order, even after one raised (the first error
    is raised once all have released)."""
    failure: BaseException | None = None
    for hook, token in held:
        try:
            hook.release(request, token, error)
        except BaseException as exc:
            failure = failure or exc
    if failure is not None:
        raise failure


def _brief(error: Exception) -> str:
    if isinstance(error, errors.APIStatusError):
        return f"status {error.status_code}"
    return type(error).__name__
