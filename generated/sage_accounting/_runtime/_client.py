"""The base clients: all transport lives here, once, for every generated resource.

A generated method names its operation and passes its arguments; the resource base (``_resource``)
asks the client to ``prepare`` the call (look the operation up in the generated table, check and
encode the arguments, so a wrong argument fails before any HTTP call), ``send`` it (auth, limits,
retries, errors mapped, the answer checked to be for the business asked) and ``parse`` the body
into the model.

``SyncClient`` and ``AsyncClient`` share everything but the sending (``_BaseClient``).

Trust rules kept here, at the one place every request passes:
- the bearer token is attached only to URLs within the base URL (same scheme, host, port and
  base path, no dot segments): ``authorized_headers`` refuses anything else, whatever led to it;
- redirects are never followed (``follow_redirects=False`` on every send, even with a
  user-supplied httpx client that follows them): a 3xx is a ``RedirectError``;
- a closed client (or a copy of one) raises ``ClientClosedError``; copies never close the pool.
"""

from __future__ import annotations

import copy
import importlib
import logging
import os
import threading
import time
import urllib.parse
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Generic, Literal, Self, TypeVar

import httpx

from . import _env, _retry
from ._encoding import dumps, encode_query_value, loads
from ._env import argument_or_env
from ._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    ArgumentTypeError,
    ArgumentValueError,
    BusinessMismatchError,
    ClientClosedError,
    MissingBusinessHeaderError,
    MissingBusinessHeaderWarning,
    RequestValidationError,
    UntrustedURLError,
    body_excerpt,
    is_no_active_subscription,
    parse_error_details,
    status_error,
    validation_problems,
)
from ._limits import DEFAULT_MAX_IN_FLIGHT, RateLimit, business_bucket, in_flight_limit
from ._operation import OperationInfo, idempotency_key
from ._options import RequestOptions
from ._redact import redact, remember
from ._version import __version__

if TYPE_CHECKING:  # pydantic is imported by the models, when first used, not by the client
    from pydantic import BaseModel

    from ..agents.guard import AgentGuard
    from ._auth import OAuthSession
    from ._models import RequestModel

log = logging.getLogger("sage_accounting")

DEFAULT_BASE_URL = "https://api.accounting.sage.com/v3.1"
# Sage's gateway gives up after 45 s; reading waits a little longer to see its 504.
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
DEFAULT_MAX_RETRIES = 2
USER_AGENT = f"sage-accounting-python/{__version__}"
REQUEST_ID_HEADERS = ("x-request-id", "x_request_id", "request-id")
# Sage's ids are 32 hex characters and its keys short codes: a longer one is a mistake, and a
# megabyte of it would only fail later, as an InvalidURL, deep inside httpx.
MAX_ID_LENGTH = 1024
# Operations Sage answers without an X-Business header (they are not about one business).
_NO_BUSINESS_HEADER = ("/businesses", "/user")
MissingBusinessHeader = Literal["warn", "error", "ignore"]

ModelT = TypeVar("ModelT", bound="BaseModel")
H = TypeVar("H", httpx.Client, httpx.AsyncClient)
_OPTION_NAMES = frozenset(RequestOptions.__annotations__)
_TABLES: dict[str, dict[str, OperationInfo]] = {}  # operations module -> its OPERATIONS


@dataclass(frozen=True)
class ClientConfig:
    base_url: str
    business_id: str | None
    timeout: httpx.Timeout
    max_retries: int
    default_headers: Mapping[str, str] = field(default_factory=dict)
    missing_business_header: MissingBusinessHeader = "warn"


@dataclass
class PreparedRequest:
    """One call, checked and encoded; sent (and re-sent on retry) as is."""

    operation_id: str
    method: str
    path: str  # the filled-in path, for messages
    url: str
    headers: dict[str, str]
    content: bytes | None
    business_id: str | None
    timeout: httpx.Timeout
    max_retries: int
    retry_allowed: bool
    operation: OperationInfo  # for the 403 message: which areas and roles grant access
    stream: bool = False  # the body is read by the caller, in chunks (see _streaming)

    def with_url(self, url: str) -> PreparedRequest:
        return replace(self, url=url)


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
            raise ClientClosedError("the client was closed: make a new one")
        instance = self._instance
        if instance is not None and instance.is_closed:  # a user-supplied httpx client
            raise ClientClosedError("the httpx client given as http_client= was closed")
        if instance is None:
            with self._lock:
                instance = self._instance
                if instance is None:
                    instance = self._instance = self.owned_instance = self._make()
        return instance


class _BaseClient:
    """Configuration and every step of a call that does no I/O."""

    _operations_module: str = "sage_accounting._operations"
    _pool: _Shared[Any]  # made by the sync or async subclass, shared by every copy

    def __init__(
        self,
        *,
        access_token: str | None = None,
        business_id: str | None = None,
        session: OAuthSession | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        rate_limit: RateLimit | None = None,
        missing_business_header: MissingBusinessHeader = "warn",
    ) -> None:
        # Arguments absent: SAGE_ACCESS_TOKEN, SAGE_BUSINESS_ID, SAGE_BASE_URL (see _env).
        if session is None:
            access_token = argument_or_env(access_token, _env.ACCESS_TOKEN)
        business_id = argument_or_env(business_id, _env.BUSINESS_ID)
        base_url = argument_or_env(base_url, _env.BASE_URL) or DEFAULT_BASE_URL
        if (access_token is None) == (session is None):
            raise ArgumentTypeError(
                "access_token",
                "pass either access_token= (a bare token, or SAGE_ACCESS_TOKEN in the environment)"
                " or session= (OAuthSession)",
            )
        if access_token is not None and (not isinstance(access_token, str) or not access_token):
            raise ArgumentTypeError("access_token", "must be a non-empty str")
        if business_id is not None:
            _check_business_id(business_id)
        if missing_business_header not in ("warn", "error", "ignore"):
            raise ArgumentValueError(
                "missing_business_header",
                f"must be 'warn', 'error' or 'ignore', not {missing_business_header!r}",
            )
        for name, value in (default_headers or {}).items():
            _check_header("default_headers", name, value)
        remember(access_token)  # from now on it is removed from any text the SDK raises or logs
        self._access_token = access_token
        self._session = session
        # Sage counts concurrent requests per app: clients of one app share one cap.
        self._app_key = session.app_key if session is not None else "(access token)"
        self._in_flight = in_flight_limit(self._app_key, max_in_flight)
        self._rate_limit = rate_limit
        self._config = ClientConfig(
            base_url=base_url.rstrip("/"),
            business_id=business_id,
            timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
            max_retries=max_retries,
            default_headers=dict(default_headers or {}),
            missing_business_header=missing_business_header,
        )
        self._resources: dict[str, Any] = {}
        self._closed = False
        self._owns_pool = True  # copies share the pool and never close it
        self._agent_guard: AgentGuard | None = None  # set by for_agent; copies keep it

    def __repr__(self) -> str:  # never shows the token
        business = self._config.business_id or "lead business"
        return f"{type(self).__name__}(base_url={self._config.base_url!r}, business={business!r})"

    @property
    def business_id(self) -> str | None:
        return self._config.business_id

    @property
    def base_url(self) -> str:
        return self._config.base_url

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
        return self._copy(business_id=_check_business_id(business_id))

    def with_options(
        self, *, timeout: float | httpx.Timeout | None = None, max_retries: int | None = None
    ) -> Self:
        """A copy with another default timeout or retry count, sharing the pool."""
        changes: dict[str, Any] = {}
        if timeout is not None:
            changes["timeout"] = (
                timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
            )
        if max_retries is not None:
            changes["max_retries"] = max_retries
        return self._copy(**changes)

    def for_agent(self, policy: Any, agent: str, **options: Any) -> Self:
        """This client acting as one agent of a policy: every call checked against it before
        any request, and audited. See ``sage_accounting.agents`` (the ``[agents]`` extra)."""
        from ..agents.guard import guard_client

        return guard_client(self, policy, agent, **options)

    def _resource(self, name: str, cls: Callable[[Any], Any]) -> Any:
        resource = self._resources.get(name)
        if resource is None:
            resource = self._resources[name] = cls(self)
        return resource

    # -- preparing ----------------------------------------------------------------------------------

    def operation(self, operation_id: str) -> OperationInfo:
        """The generated facts of one operation (method, path, query parameter kinds, ...)."""
        table = _TABLES.get(self._operations_module)
        if table is None:  # imported on the first call, then kept: prepare() is on every call
            module = importlib.import_module(self._operations_module)
            table = _TABLES[self._operations_module] = module.OPERATIONS
        return table[operation_id]

    def prepare(
        self,
        operation_id: str,
        *,
        path_params: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        body_model: type[RequestModel] | None = None,
        options: RequestOptions | None = None,
        accept: str = "application/json",
    ) -> PreparedRequest:
        op = self.operation(operation_id)
        options = options or {}
        unknown = set(options) - _OPTION_NAMES
        if unknown:
            # Generated methods take per-call options as **kwargs: a misspelt argument lands here.
            name = sorted(unknown)[0]
            raise ArgumentTypeError(name, f"unexpected keyword argument {name!r}")
        path = _fill_path(op.path, path_params or {})
        params = self._encode_query(op, query or {})
        params.update({str(k): str(v) for k, v in (options.get("extra_query") or {}).items()})
        # None (or absent) means the client's business; "" is refused, never "no header".
        business_id = options.get("business_id")
        if business_id is None:
            business_id = self._config.business_id
        else:
            _check_business_id(business_id)
        headers = {"Accept": accept, "User-Agent": USER_AGENT}
        for name, value in self._config.default_headers.items():
            _set_header(headers, name, value)
        if business_id:
            headers["X-Business"] = business_id
        content = None
        has_idempotency_id = False
        if body is not None:
            payload, has_idempotency_id = _encode_body(
                op.method, body, body_model, options.get("idempotency_id")
            )
            try:
                content = dumps(payload)
            except TypeError as exc:  # a float, or a value JSON cannot carry
                raise ArgumentTypeError(next(iter(body)), str(exc)) from None
            except ValueError as exc:  # Decimal("NaN")
                raise ArgumentValueError(next(iter(body)), str(exc)) from None
            headers["Content-Type"] = "application/json"
        if op.idempotency_header:  # declared as a header (tax returns): filled like the body's id
            body_id = (
                payload[next(iter(payload))].get("idempotency_id") if body is not None else None
            )
            key = idempotency_key(options.get("idempotency_id"), body_id)
            if key:
                headers[op.idempotency_header] = key
                has_idempotency_id = True
        for name, value in (options.get("extra_headers") or {}).items():
            _check_header("extra_headers", name, value)
            _set_header(headers, name, value)
        # extra_headers may name the business too: the one sent is the one checked
        business_id = headers.get("X-Business")
        url = self._config.base_url + path
        if params:
            url += "?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
        timeout = options.get("timeout", self._config.timeout)
        return PreparedRequest(
            operation_id=operation_id,
            method=op.method,
            path=path,
            url=url,
            headers=headers,
            content=content,
            business_id=business_id,
            timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
            max_retries=options.get("max_retries", self._config.max_retries),
            retry_allowed=_retry.may_retry(op.method, has_idempotency_id),
            operation=op,
        )

    @staticmethod
    def _encode_query(op: OperationInfo, query: Mapping[str, Any]) -> dict[str, str]:
        params: dict[str, str] = {}
        for name, value in query.items():
            spec = op.query.get(name)
            if spec is None:
                raise ArgumentTypeError(name, f"unknown query parameter {name!r}")
            if value is None:
                if spec.required:
                    raise ArgumentTypeError(name, "is required")
                continue
            params[name] = encode_query_value(name, spec.kind, spec.enum, value)
        return params

    def is_within_base(self, url: str) -> bool:
        """Whether ``url`` is under the base URL: same scheme, host and port, a path below the
        base path and no dot segment (a server could normalise ``..`` out of the base)."""
        return is_within(url, self._config.base_url)

    def authorized_headers(self, request: PreparedRequest, token: str) -> dict[str, str]:
        """The request's headers with the bearer token: only for a URL within the base URL."""
        # (No need to remember the token here: a bare one is remembered by __init__, a session's
        # when its TokenSet is made; this runs on every send.)
        if not self.is_within_base(request.url):
            raise UntrustedURLError(request.url, self._config.base_url)
        return {**request.headers, "Authorization": f"Bearer {token}"}

    def _build(
        self, http: httpx.Client | httpx.AsyncClient, request: PreparedRequest, token: str
    ) -> httpx.Request:
        """The httpx request (sent with ``stream=request.stream``: files are read in chunks)."""
        return http.build_request(
            request.method,
            request.url,
            headers=self.authorized_headers(request, token),
            content=request.content,
            timeout=request.timeout,
        )

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
            raise ClientClosedError(f"{self!r} was closed: make a new client (or copy)")

    def _may_replay(self, response: httpx.Response, replayed: bool) -> bool:
        """A 401 is answered by one refresh and one replay, unless refreshing cannot help."""
        if response.status_code != 401 or self._session is None or replayed:
            return False
        return not is_no_active_subscription(parse_error_details(_error_body(response)))

    def _rate_delay(self, request: PreparedRequest) -> float:
        if self._rate_limit is None:
            return 0.0
        return business_bucket(self._app_key, request.business_id, self._rate_limit).reserve()

    # -- reading the answer -------------------------------------------------------------------------

    def _admit(self, request: PreparedRequest) -> None:
        """An agent's client checks every request against its policy before sending it."""
        if self._agent_guard is not None:
            self._agent_guard.admit(request)

    def _check_response(self, request: PreparedRequest, response: httpx.Response) -> None:
        """Raise for a status that is not a success (redirects included: they are never
        followed) or an answer about another business."""
        if self._agent_guard is not None:
            self._agent_guard.observe(request, response)
        request_id = request_id_of(response.headers)
        if response.status_code >= 300:
            raise status_error(
                status_code=response.status_code,
                method=request.method,
                path=request.path,
                request_id=request_id,
                business_id=request.business_id,
                body=_error_body(response),
                access_hint=request.operation.access_hint(),
                retry_after=_retry.parse_retry_after(response.headers),
                location=response.headers.get("location"),
                response=response,
            )
        if not request.business_id:
            return
        received = response.headers.get("x-business")
        if received is None:
            self._missing_business_header(request)
        elif received != request.business_id:
            raise BusinessMismatchError(
                requested=request.business_id,
                received=received,
                method=request.method,
                path=request.path,
            )

    def _missing_business_header(self, request: PreparedRequest) -> None:
        """Sage sends X-Business on every business's answer: without it the check cannot be made."""
        mode = self._config.missing_business_header
        if mode == "ignore" or request.operation.path.startswith(_NO_BUSINESS_HEADER):
            return
        error = MissingBusinessHeaderError(
            requested=request.business_id or "", method=request.method, path=request.path
        )
        if mode == "error":
            raise error
        warnings.warn(str(error), MissingBusinessHeaderWarning, stacklevel=5)

    @staticmethod
    def parse(response: httpx.Response, cast_to: type[ModelT]) -> ModelT:
        from ._envelope import MalformedBody, parse_model

        if response.status_code == 204 and not response.content:
            # No Content, said outright (a void answered without the voided record): the call
            # succeeded, and the record is empty. An empty 200 is an error (below).
            return cast_to.model_construct()
        try:
            return parse_model(response.content, cast_to)
        except MalformedBody as exc:
            raise response_validation_error(response, str(exc)) from None

    def _retry_delay(
        self, request: PreparedRequest, attempt: int, error: Exception
    ) -> float | None:
        """Seconds to wait before retrying after ``error``, or None to raise it."""
        if attempt >= request.max_retries or not request.retry_allowed:
            return None
        if isinstance(error, APIConnectionError):
            return _retry.backoff_delay(attempt)
        if isinstance(error, APIStatusError) and error.status_code in _retry.RETRY_STATUSES:
            retry_after = error.retry_after
            if retry_after is not None:
                return retry_after if retry_after <= _retry.MAX_RETRY_AFTER else None
            return _retry.backoff_delay(attempt)
        return None

    def _log(self, request: PreparedRequest, status: int | str, started: float, attempt: int,
             request_id: str | None) -> None:  # fmt: skip
        if log.isEnabledFor(logging.DEBUG):
            # The path and the page number only: never the headers (the token) or other query.
            log.debug(
                "%s %s -> %s in %.0f ms (business %s, page %s, retries %d, request id %s)",
                request.method,
                redact(request.path),
                status,
                (time.perf_counter() - started) * 1000,
                request.business_id or "lead",
                _page_of(request.url),
                attempt,
                request_id or "-",
            )

    def _connection_error(
        self, request: PreparedRequest, exc: httpx.TransportError
    ) -> APIConnectionError:
        if self._agent_guard is not None:
            self._agent_guard.observe_error(request, exc)
        cls = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
        return cls(  # httpx's text may quote the URL: the exception redacts it
            type(exc).__name__ + (f": {exc}" if str(exc) else ""),
            method=request.method,
            path=request.path,
            business_id=request.business_id,
        )


class SyncClient(_BaseClient):
    def __init__(self, *, http_client: httpx.Client | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        timeout = self._config.timeout
        self._pool: _Shared[httpx.Client] = _Shared(
            http_client, lambda: httpx.Client(timeout=timeout)
        )

    @property
    def _http(self) -> httpx.Client:
        return self._pool.get()

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
        self._ensure_open()
        self._admit(request)
        attempt, replayed = 0, False
        while True:
            token = self._access_token or self._session.access_token()  # type: ignore[union-attr]
            started = time.perf_counter()
            try:
                with self._in_flight.slot():
                    delay = self._rate_delay(request)
                    if delay:
                        time.sleep(delay)
                    response = self._http.send(
                        self._build(self._http, request, token),
                        stream=request.stream,
                        follow_redirects=False,  # the token must not go where a 3xx points
                    )
                    if request.stream and response.status_code >= 300:
                        response.read()  # an error body is small and is parsed into the error
                self._log(
                    request, response.status_code, started, attempt, request_id_of(response.headers)
                )
                if self._may_replay(response, replayed):
                    self._session.refresh_after_unauthorized(token)  # type: ignore[union-attr]
                    replayed = True
                    continue
                self._check_response(request, response)
                return response
            except httpx.TransportError as exc:
                self._log(request, type(exc).__name__, started, attempt, None)
                error: Exception = self._connection_error(request, exc)
            except APIStatusError as exc:
                error = exc
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
            time.sleep(wait)
            attempt += 1


class AsyncClient(_BaseClient):
    def __init__(self, *, http_client: httpx.AsyncClient | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        timeout = self._config.timeout
        self._pool: _Shared[httpx.AsyncClient] = _Shared(
            http_client, lambda: httpx.AsyncClient(timeout=timeout)
        )

    @property
    def _http(self) -> httpx.AsyncClient:
        return self._pool.get()

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
        self._ensure_open()
        self._admit(request)
        attempt, replayed = 0, False
        while True:
            token = self._access_token or await self._session.aaccess_token()  # type: ignore[union-attr]
            started = time.perf_counter()
            try:
                async with self._in_flight.aslot():
                    delay = self._rate_delay(request)
                    if delay:
                        await _sleep(delay)
                    response = await self._http.send(
                        self._build(self._http, request, token),
                        stream=request.stream,
                        follow_redirects=False,  # the token must not go where a 3xx points
                    )
                    if request.stream and response.status_code >= 300:
                        await response.aread()  # an error body is small: parsed into the error
                self._log(
                    request, response.status_code, started, attempt, request_id_of(response.headers)
                )
                if self._may_replay(response, replayed):
                    await self._session.arefresh_after_unauthorized(token)  # type: ignore[union-attr]
                    replayed = True
                    continue
                self._check_response(request, response)
                return response
            except httpx.TransportError as exc:
                self._log(request, type(exc).__name__, started, attempt, None)
                error: Exception = self._connection_error(request, exc)
            except APIStatusError as exc:
                error = exc
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
            await _sleep(wait)
            attempt += 1


# -- helpers ----------------------------------------------------------------------------------------


async def _sleep(seconds: float) -> None:
    import asyncio  # imported here: sync users should not pay for asyncio at import

    await asyncio.sleep(seconds)


def _fill_path(template: str, values: Mapping[str, str]) -> str:
    """The path with each id percent-encoded as one segment.

    Ids that would name another resource are refused, not encoded: "" (GET /contacts/{key}
    would become GET /contacts/) and "." or ".." (dot segments are removed by httpx, proxies and
    servers, so ``delete("..")`` would reach /v3.1; percent-encoding them as %2E does not help,
    as RFC 3986 lets any hop decode and normalise it)."""
    path = template
    for name, value in values.items():
        if not isinstance(value, str):
            raise ArgumentTypeError(name, f"must be a str, not {type(value).__name__}")
        if value in ("", ".", ".."):
            raise ArgumentValueError(name, f"{value!r} is not an id")
        if len(value) > MAX_ID_LENGTH:
            raise ArgumentValueError(
                name, f"is {len(value)} characters long; ids are at most {MAX_ID_LENGTH}"
            )
        path = path.replace("{" + name + "}", urllib.parse.quote(value, safe=""))
    return path


def _check_header(argument: str, name: object, value: object) -> None:
    """A header httpx can send as given: ASCII text without CR/LF (no header injection)."""
    if not isinstance(name, str) or not isinstance(value, str):
        raise ArgumentTypeError(argument, f"header names and values must be str: {name!r}")
    for what, text in (("name", name), ("value", value)):
        if not text.isascii() or any(ch in text for ch in "\r\n\0"):
            raise ArgumentValueError(
                argument, f"header {name!r}: the {what} must be ASCII without CR, LF or NUL"
            )


def _check_business_id(business_id: object) -> str:
    if not isinstance(business_id, str):
        raise ArgumentTypeError("business_id", f"must be a str, not {type(business_id).__name__}")
    if not business_id:
        raise ArgumentValueError(
            "business_id", "must not be empty (pass None, or leave it out, for the client's)"
        )
    if not business_id.isascii() or not business_id.isprintable():
        raise ArgumentValueError("business_id", "must be printable ASCII (no CR, LF, ...)")
    return business_id


def _set_header(headers: dict[str, str], name: str, value: str) -> None:
    """Set a header, replacing any spelling of it: HTTP header names are case-insensitive."""
    lower = name.lower()
    for existing in [key for key in headers if key.lower() == lower]:
        del headers[existing]
    headers["X-Business" if lower == "x-business" else name] = value


def is_within(url: str, base_url: str) -> bool:
    """Whether ``url`` is at or below ``base_url`` (no trailing slash): same scheme, host and
    port, a path below the base path (decoded, so %2E%2E counts as ..) and no dot segment."""
    if url.startswith(base_url + "/") and "/." not in url and "%2e" not in url.lower():
        return True  # the common case, without parsing: the authority ends where the path starts
    try:
        target, base = httpx.URL(url), httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return False
    if (target.scheme, target.host, target.port) != (base.scheme, base.host, base.port):
        return False
    base_path = base.path.rstrip("/")
    if target.path != base_path and not target.path.startswith(base_path + "/"):
        return False
    return not any(segment in (".", "..") for segment in target.path.split("/"))


def _encode_body(
    method: str,
    body: Mapping[str, Any],
    body_model: type[RequestModel] | None,
    idempotency_id: str | bool | None,
) -> tuple[dict[str, Any], bool]:
    """Validate the wrapped object and, for POSTs, put the idempotency id inside it.

    Returns the payload and whether it carries an idempotency id (which makes a POST retryable).
    """
    ((key, value),) = body.items()
    if body_model is not None:
        from pydantic import ValidationError  # loaded with the models, already in memory

        try:
            model = value if isinstance(value, body_model) else body_model.model_validate(value)
        except ValidationError as exc:
            raise _body_error(key, exc) from None
        inner = model.to_body()
    elif isinstance(value, Mapping):
        inner = dict(value)
    else:
        raise ArgumentTypeError(key, f"must be a mapping, not {type(value).__name__}")
    has_id = False
    if method == "POST" and idempotency_id is not False:
        if idempotency_id is None or idempotency_id is True:
            inner.setdefault("idempotency_id", os.urandom(16).hex())  # 32 hex characters
        elif not isinstance(idempotency_id, str) or not idempotency_id.isascii():
            raise ArgumentValueError("idempotency_id", "must be a str of 32 hex characters")
        else:
            inner["idempotency_id"] = idempotency_id
        has_id = True
    return {key: inner}, has_id


def _page_of(url: str) -> str:
    """The ``page`` a list request asks for ("-" for other requests)."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    if "page" in query:
        return query["page"][0]
    return "1" if "items_per_page" in query else "-"


def _body_error(argument: str, exc: Any) -> RequestValidationError:
    """A pydantic ValidationError as ours (never the input: it may be anything the caller holds)."""
    return RequestValidationError(argument, validation_problems(exc, argument))


def response_validation_error(response: httpx.Response, reason: str) -> APIResponseValidationError:
    request = response.request
    return APIResponseValidationError(
        reason,
        status_code=response.status_code,
        method=request.method,
        path=request.url.raw_path.decode("ascii", errors="replace"),
        request_id=request_id_of(response.headers),
        body_excerpt=body_excerpt(response.content),
    )


def request_id_of(headers: httpx.Headers) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value: str | None = headers.get(name)
        if value:
            return value
    return None


def _error_body(response: httpx.Response) -> Any:
    """An error answer's body: JSON when it is (Sage's error array), else a bounded excerpt."""
    try:
        return loads(response.content) if response.content else None
    except ValueError:  # not JSON, not UTF-8, or nested too deep to decode
        return body_excerpt(response.content)


def _brief(error: Exception) -> str:
    if isinstance(error, APIStatusError):
        return f"status {error.status_code}"
    return type(error).__name__
