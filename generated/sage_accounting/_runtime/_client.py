"""The base clients: all transport lives here, once, for every generated resource.

A generated method names its operation and passes its arguments; the resource base (``_resource``)
asks the client to ``prepare`` the call (look the operation up in the generated table, check and
encode the arguments, so a wrong argument fails before any HTTP call), ``send`` it (auth, limits,
retries, errors mapped, the answer checked to be for the business asked) and ``parse`` the body
into the model.

``SyncClient`` and ``AsyncClient`` share everything but the sending (``_BaseClient``).
"""

from __future__ import annotations

import copy
import importlib
import logging
import os
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx

from . import _retry
from ._encoding import dumps, encode_query_value, loads
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    BusinessMismatchError,
    is_no_active_subscription,
    parse_error_details,
    status_error,
)
from ._limits import DEFAULT_MAX_IN_FLIGHT, RateLimit, business_bucket, in_flight_limit
from ._operation import OperationInfo, idempotency_key
from ._options import RequestOptions
from ._version import __version__

if TYPE_CHECKING:  # pydantic is imported by the models, when first used, not by the client
    from pydantic import BaseModel

    from ._auth import OAuthSession
    from ._models import RequestModel

log = logging.getLogger("sage_accounting")

DEFAULT_BASE_URL = "https://api.accounting.sage.com/v3.1"
# Sage's gateway gives up after 45 s; reading waits a little longer to see its 504.
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
DEFAULT_MAX_RETRIES = 2
USER_AGENT = f"sage-accounting-python/{__version__}"
REQUEST_ID_HEADERS = ("x-request-id", "x_request_id", "request-id")

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
        self._lock = threading.Lock()

    def get(self) -> H:
        instance = self._instance
        if instance is None:
            with self._lock:
                instance = self._instance
                if instance is None:
                    instance = self._instance = self.owned_instance = self._make()
        return instance


class _BaseClient:
    """Configuration and every step of a call that does no I/O."""

    _operations_module: str = "sage_accounting._operations"

    def __init__(
        self,
        *,
        access_token: str | None = None,
        business_id: str | None = None,
        session: OAuthSession | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        rate_limit: RateLimit | None = None,
    ) -> None:
        if (access_token is None) == (session is None):
            raise TypeError("pass either access_token= (a bare token) or session= (OAuthSession)")
        if access_token is not None and (not isinstance(access_token, str) or not access_token):
            raise TypeError("access_token must be a non-empty str")
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
        )
        self._resources: dict[str, Any] = {}

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

    def _copy(self, **changes: Any) -> Any:
        clone = copy.copy(self)
        clone._config = replace(self._config, **changes)
        clone._resources = {}
        return clone

    def with_business(self, business_id: str) -> Any:
        """A client for another business, sharing this one's connection pool and credentials."""
        if not isinstance(business_id, str) or not business_id:
            raise ValueError("business_id must be a non-empty str")
        return self._copy(business_id=business_id)

    def with_options(
        self, *, timeout: float | httpx.Timeout | None = None, max_retries: int | None = None
    ) -> Any:
        changes: dict[str, Any] = {}
        if timeout is not None:
            changes["timeout"] = (
                timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
            )
        if max_retries is not None:
            changes["max_retries"] = max_retries
        return self._copy(**changes)

    def _resource(self, name: str, cls: Callable[[Any], Any]) -> Any:
        resource = self._resources.get(name)
        if resource is None:
            resource = self._resources[name] = cls(self)
        return resource

    # -- preparing ----------------------------------------------------------------------------------

    def _operation(self, operation_id: str) -> OperationInfo:
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
        op = self._operation(operation_id)
        options = options or {}
        unknown = set(options) - _OPTION_NAMES
        if unknown:
            # Generated methods take per-call options as **kwargs: a misspelt argument lands here.
            raise TypeError(f"unexpected keyword argument {sorted(unknown)[0]!r}")
        path = _fill_path(op.path, path_params or {})
        params = self._encode_query(op, query or {})
        params.update({str(k): str(v) for k, v in (options.get("extra_query") or {}).items()})
        business_id = options.get("business_id", self._config.business_id)
        headers = {"Accept": accept, "User-Agent": USER_AGENT, **self._config.default_headers}
        if business_id:
            headers["X-Business"] = business_id
        content = None
        has_idempotency_id = False
        if body is not None:
            payload, has_idempotency_id = _encode_body(
                op.method, body, body_model, options.get("idempotency_id")
            )
            content = dumps(payload)
            headers["Content-Type"] = "application/json"
        if op.idempotency_header:  # declared as a header (tax returns): filled like the body's id
            body_id = (
                payload[next(iter(payload))].get("idempotency_id") if body is not None else None
            )
            key = idempotency_key(options.get("idempotency_id"), body_id)
            if key:
                headers[op.idempotency_header] = key
                has_idempotency_id = True
        headers.update(options.get("extra_headers") or {})
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
                raise TypeError(f"unknown query parameter {name!r}")
            if value is None:
                if spec.required:
                    raise TypeError(f"{name} is required")
                continue
            params[name] = encode_query_value(name, spec.kind, spec.enum, value)
        return params

    @staticmethod
    def _with_token(request: PreparedRequest, token: str) -> dict[str, str]:
        return {**request.headers, "Authorization": f"Bearer {token}"}

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

    def _check_response(self, request: PreparedRequest, response: httpx.Response) -> None:
        """Raise for an error status or an answer about another business."""
        request_id = request_id_of(response.headers)
        if response.status_code >= 400:
            raise status_error(
                status_code=response.status_code,
                method=request.method,
                path=request.path,
                request_id=request_id,
                business_id=request.business_id,
                body=_error_body(response),
                access_hint=request.operation.access_hint(),
                retry_after=_retry.parse_retry_after(response.headers),
            )
        received = response.headers.get("x-business")
        if request.business_id and received and received != request.business_id:
            raise BusinessMismatchError(
                requested=request.business_id,
                received=received,
                method=request.method,
                path=request.path,
            )

    @staticmethod
    def parse(response: httpx.Response, cast_to: type[ModelT]) -> ModelT:
        from ._envelope import parse_model

        return parse_model(response.content, cast_to)

    def _retry_delay(
        self, request: PreparedRequest, attempt: int, error: Exception
    ) -> float | None:
        """Seconds to wait before retrying after ``error``, or None to raise it."""
        if attempt >= request.max_retries or not request.retry_allowed:
            return None
        if isinstance(error, APIConnectionError):
            return _retry.backoff_delay(attempt)
        if isinstance(error, APIStatusError) and error.status_code in _retry.RETRY_STATUSES:
            retry_after = getattr(error, "retry_after", None)
            if retry_after is not None:
                return retry_after if retry_after <= _retry.MAX_RETRY_AFTER else None
            return _retry.backoff_delay(attempt)
        return None

    def _log(self, request: PreparedRequest, status: int | str, started: float, attempt: int,
             request_id: str | None) -> None:  # fmt: skip
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s -> %s in %.0f ms (retries %d, request id %s)",
                request.method,
                request.path,
                status,
                (time.perf_counter() - started) * 1000,
                attempt,
                request_id or "-",
            )

    def _connection_error(
        self, request: PreparedRequest, exc: httpx.TransportError
    ) -> APIConnectionError:
        cls = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
        return cls(
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
        if self._pool.owned_instance is not None:
            self._pool.owned_instance.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def send(self, request: PreparedRequest) -> httpx.Response:
        attempt, replayed = 0, False
        while True:
            token = self._access_token or self._session.access_token()  # type: ignore[union-attr]
            started = time.perf_counter()
            try:
                with self._in_flight.slot():
                    delay = self._rate_delay(request)
                    if delay:
                        time.sleep(delay)
                    response = self._http.request(
                        request.method,
                        request.url,
                        headers=self._with_token(request, token),
                        content=request.content,
                        timeout=request.timeout,
                    )
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
                request.path,
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
        if self._pool.owned_instance is not None:
            await self._pool.owned_instance.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def send(self, request: PreparedRequest) -> httpx.Response:
        attempt, replayed = 0, False
        while True:
            token = self._access_token or await self._session.aaccess_token()  # type: ignore[union-attr]
            started = time.perf_counter()
            try:
                async with self._in_flight.aslot():
                    delay = self._rate_delay(request)
                    if delay:
                        await _sleep(delay)
                    response = await self._http.request(
                        request.method,
                        request.url,
                        headers=self._with_token(request, token),
                        content=request.content,
                        timeout=request.timeout,
                    )
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
                request.path,
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
    path = template
    for name, value in values.items():
        if not isinstance(value, str) or not value:
            # An empty key would turn GET /contacts/{key} into GET /contacts/: another operation.
            raise ValueError(f"{name} must be a non-empty str, got {value!r}")
        path = path.replace("{" + name + "}", urllib.parse.quote(value, safe=""))
    return path


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
        model = value if isinstance(value, body_model) else body_model.model_validate(value)
        inner = model.to_body()
    else:
        inner = dict(value)
    has_id = False
    if method == "POST" and idempotency_id is not False:
        if idempotency_id is None or idempotency_id is True:
            inner.setdefault("idempotency_id", os.urandom(16).hex())  # 32 hex characters
        else:
            inner["idempotency_id"] = idempotency_id
        has_id = True
    return {key: inner}, has_id


def request_id_of(headers: httpx.Headers) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value: str | None = headers.get(name)
        if value:
            return value
    return None


def _error_body(response: httpx.Response) -> Any:
    try:
        return loads(response.content) if response.content else None
    except ValueError:
        return response.text[:500]


def _brief(error: Exception) -> str:
    if isinstance(error, APIStatusError):
        return f"status {error.status_code}"
    return type(error).__name__
