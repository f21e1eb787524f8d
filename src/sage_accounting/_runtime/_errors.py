"""Every exception the SDK raises, and the one place HTTP responses are mapped to them.

    SageError
    ├── SageArgumentError             a wrong argument, raised before any HTTP call (``.argument``)
    │   ├── ArgumentTypeError         ... of the wrong type (also a TypeError)
    │   └── ArgumentValueError        ... with a value that cannot be sent (also a ValueError)
    │       └── RequestValidationError  a request body that fails its model (``.errors``)
    ├── MissingExtraError             an extra is not installed (``.extra``; also an ImportError)
    ├── ClientClosedError             the client (or the client it was copied from) was closed
    ├── UntrustedURLError             a URL outside the client's base URL (a foreign ``$next``)
    ├── APIConnectionError            the request did not get a response
    │   └── APITimeoutError
    ├── APIResponseValidationError    a success answer that is not what the operation returns
    ├── BusinessMismatchError         the response is for another business than requested
    ├── MissingBusinessHeaderError    the response does not say which business it is for
    ├── ReauthorizationRequired       the user must authorize the app again (invalid_grant, ...)
    ├── OAuthError                    the OAuth flow failed (bad client credentials, ...)
    ├── DailyLimitReached             a day's requests are used (``.resets_at``): never retried
    ├── QuotaExceededError            the quota ledger had no room: nothing was sent (``.limit``)
    │   └── DailyQuotaExceededError   ... a day's total (also a DailyLimitReached)
    ├── QuotaBackendError             the quota ledger's Redis or database cannot be reached
    │   └── StateMismatchError        the callback's state is not the one sent
    └── APIStatusError                Sage answered with a status that is not a success
        ├── RedirectError             3xx: never followed (the token would go with it)
        ├── BadRequestError           400
        ├── AuthenticationError       401
        │   └── NoActiveSubscriptionError   401 "No active subscription": renew, not refresh
        ├── PermissionDeniedError     403 (names the areas and roles the operation needs)
        ├── NotFoundError             404
        ├── ConflictError             409
        ├── UnprocessableEntityError  422 (``.errors`` lists each field problem)
        ├── RateLimitError            429 (``.limit``: "minute", "day", "concurrency" or None)
        │   └── DailyRateLimitError   429 for the day (also a DailyLimitReached)
        └── InternalServerError       5xx

Messages never contain tokens, secrets or authorization codes: everything that comes from
outside (Sage's error text, bodies, URLs, headers) passes through ``_redact.redact`` first.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

from . import wire
from ._closest import closest_field
from ._redact import redact

# How much of a body an exception quotes: enough to see what came back, never megabytes.
BODY_EXCERPT_CHARS = 500


@dataclass(frozen=True)
class ErrorDetail:
    """One entry of Sage's error array: ``{"$severity", "$dataCode", "$message", "$source"}``."""

    severity: str | None
    data_code: str | None
    message: str | None
    source: str | None

    def __str__(self) -> str:
        where = f" ({self.source})" if self.source else ""
        return f"{self.data_code or 'Error'}: {self.message or ''}{where}".strip()


class SageError(Exception):
    """Base class of every error raised by sage_accounting."""


class SageArgumentError(SageError):
    """An argument that cannot be sent, found before any HTTP call; ``.argument`` names it."""

    def __init__(self, argument: str, message: str) -> None:
        self.argument = argument
        super().__init__(f"{argument}: {redact(message)}")


class ArgumentTypeError(SageArgumentError, TypeError):
    """An argument of the wrong type (``get(123)`` where an id is a str)."""


class ArgumentValueError(SageArgumentError, ValueError):
    """An argument whose value cannot be sent (an empty id, CR/LF in a header, ...)."""


class RequestValidationError(ArgumentValueError):
    """A request body that fails its model; ``.errors`` holds ``(field, problem)`` pairs."""

    def __init__(self, argument: str, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__(argument, "; ".join(f"{loc}: {msg}" for loc, msg in errors))


class MissingExtraError(SageError, ImportError):
    """A part of the SDK whose extra is not installed: ``.extra`` names it (``pip install
    'sage-accounting[extra]'``), ``.module`` the module that is missing."""

    def __init__(self, feature: str, extra: str, module: str | None) -> None:
        self.extra, self.module = extra, module
        super().__init__(
            f"{feature} needs the [{extra}] extra (missing module {module!r}):"
            f" pip install 'sage-accounting[{extra}]'",
            name=module,
        )


def missing_extra(feature: str, extra: str, error: ModuleNotFoundError) -> Exception:
    """``error`` (raised importing ``feature``) as a ``MissingExtraError`` when the module missing
    is a third party's, which the extra installs; else ``error`` itself (a missing module of
    the SDK's own is a broken installation, not a missing extra)."""
    missing = error.name or ""
    if not missing or missing.split(".")[0] == "sage_accounting":
        return error
    return MissingExtraError(feature, extra, missing.split(".")[0])


class ClientClosedError(SageError):
    """The client was closed (or the client it was copied from, which owns the connections)."""


class OutOfOrderError(SageError, RuntimeError):
    """A one-use object used out of its order: a change feed's cursor read before the feed was
    iterated to its end, a feed iterated twice, a download's response read outside its ``with``
    block. A bug in the calling code, like a ``SageArgumentError``; also a ``RuntimeError``."""


class UntrustedURLError(SageError):
    """A URL outside the client's base URL: the token is never sent there.

    Raised for a ``$next`` link naming another scheme, host, port or path, and by ``send`` for
    any request whose URL left the base URL, whatever led to it."""

    def __init__(self, url: str, base_url: str, what: str = "URL") -> None:
        self.url, self.base_url = redact(url), base_url
        super().__init__(
            f"refusing to follow {what} {_short(self.url)!r}: it is outside the client's base URL "
            f"{base_url} (same scheme, host, port and base path required)"
        )


class APIResponseValidationError(SageError):
    """A success status whose body is not what the operation returns (empty, not JSON, HTML,
    a list where an object is due, nested beyond reason, ...). Carries the status, the request
    id and a bounded, redacted excerpt of the body."""

    def __init__(
        self,
        reason: str,
        *,
        status_code: int,
        method: str,
        path: str,
        request_id: str | None,
        body_excerpt: str,
    ) -> None:
        self.reason, self.status_code, self.method = reason, status_code, method
        self.path, self.request_id, self.body_excerpt = redact(path), request_id, body_excerpt
        where = f" [request {request_id}]" if request_id else ""
        super().__init__(
            f"{status_code} on {method} {self.path}{where}: unexpected response body: {reason}"
            + (f"; body starts {body_excerpt!r}" if body_excerpt else "")
        )


class MissingBusinessHeaderError(SageError):
    """The response carries no ``X-Business`` although the request named a business: Sage
    always sends it there, so the answer cannot be shown to be for that business.
    (``missing_business_header="error"``; the default only warns.)"""

    def __init__(self, *, requested: str, method: str, path: str) -> None:
        self.requested, self.method, self.path = requested, method, redact(path)
        super().__init__(
            f"{method} {self.path}: the response has no X-Business header, so it cannot be "
            f"checked to be for business {requested}"
        )


class MissingBusinessHeaderWarning(UserWarning):
    """The warning form of ``MissingBusinessHeaderError`` (the default)."""


# How pydantic names the member of a lenient date's union that reads "" as None (_types.py).
EMPTY_AS_NONE_MEMBER = "function-after[_empty_to_none()"


def validation_problems(exc: Any, whole: str) -> list[tuple[str, str]]:
    """A pydantic ``ValidationError``'s ``(field, problem)`` pairs, never the input it was given
    (a request body the caller holds, or a response body); ``whole`` names a problem at the top."""
    problems = exc.errors(include_url=False, include_input=False, include_context=False)
    # A lenient date (_types: a date, or "" read as None) fails as a union of two members, each
    # with its own problem at <field>.<member>: the date member's is the one to report, at the
    # field; the "" member's says only that "" was not sent.
    lenient = {p["loc"][:-1] for p in problems if _is_empty_branch(p["loc"])}
    return [
        (
            ".".join(str(part) for part in loc) or whole,
            _message(exc, p["type"], loc, p["msg"]),
        )
        for p in problems
        if not _is_empty_branch(p["loc"])
        for loc in [p["loc"][:-1] if p["loc"][:-1] in lenient else p["loc"]]
    ]


def _is_empty_branch(loc: tuple[int | str, ...]) -> bool:
    return bool(loc) and str(loc[-1]).startswith(EMPTY_AS_NONE_MEMBER)


def _message(exc: Any, kind: str, loc: tuple[int | str, ...], msg: str) -> str:
    """pydantic's message, but an unknown key in a request body also names the closest valid one."""
    if kind not in ("extra_forbidden", "no_such_attribute") or not loc:
        return msg
    closest = closest_field(exc.title, loc)
    return "unknown field" + (f"; did you mean {closest!r}?" if closest else "")


def body_excerpt(content: bytes) -> str:
    """The start of a body for a message: bounded, decoded leniently, secrets removed."""
    text = content[: BODY_EXCERPT_CHARS * 4].decode("utf-8", errors="replace")
    text = redact(text)
    return text if len(text) <= BODY_EXCERPT_CHARS else text[: BODY_EXCERPT_CHARS - 3] + "..."


class ReauthorizationRequired(SageError):
    """The stored grant can no longer be used: send the user through authorization again."""


class OAuthError(SageError):
    """The OAuth flow failed: wrong client credentials, a refused authorization, ..."""


class StateMismatchError(OAuthError):
    """The callback's ``state`` is not the one this flow sent: the code is refused."""


class BusinessMismatchError(SageError):
    """Sage answered for a different business than the request named (data must never mix)."""

    def __init__(self, *, requested: str, received: str, method: str, path: str) -> None:
        received, path = redact(received), redact(path)
        self.requested, self.received, self.method, self.path = requested, received, method, path
        super().__init__(
            f"{method} {path}: asked for business {requested} but the response is for {received}"
        )


class APIConnectionError(SageError):
    def __init__(self, message: str, *, method: str, path: str, business_id: str | None) -> None:
        self.method, self.path, self.business_id = method, redact(path), business_id
        super().__init__(f"{method} {self.path}: {redact(message)}")


class APITimeoutError(APIConnectionError):
    pass


class APIStatusError(SageError):
    """Sage answered with an error status. ``str()`` is one readable line."""

    status_code: int

    def __init__(
        self,
        *,
        status_code: int,
        method: str,
        path: str,
        request_id: str | None,
        business_id: str | None,
        errors: list[ErrorDetail],
        body: Any,
        hint: str | None = None,
        retry_after: float | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        self.status_code = status_code
        # The HTTP answer itself (status, headers such as Retry-After or X-Request-Id), as in
        # openai-python; its body was read already and is in ``body``.
        self.response = response
        self.method = method
        self.path = redact(path)
        self.request_id = request_id
        self.business_id = business_id
        self.errors = errors
        self.body = body
        self.hint = hint
        self.retry_after = retry_after  # seconds, when the answer carried a usable Retry-After
        super().__init__(redact(self._line()))

    @property
    def headers(self) -> httpx.Headers | None:
        return self.response.headers if self.response is not None else None

    @property
    def data_code(self) -> str | None:
        return self.errors[0].data_code if self.errors else None

    def _line(self) -> str:
        what = "; ".join(str(e) for e in self.errors) or _short(self.body)
        context = [f"business {self.business_id}"] if self.business_id else []
        if self.request_id:
            context.append(f"request {self.request_id}")
        where = f" [{', '.join(context)}]" if context else ""
        if self.hint:  # a sentence of its own, after Sage's words
            what = what.rstrip()
            if not what.endswith((".", "!", "?")):
                what += "."
            what = f"{what} {self.hint}"
        return f"{self.status_code} on {self.method} {self.path}{where}: {what}"


class RedirectError(APIStatusError):
    """A 3xx. Redirects are never followed: the bearer token would go with the request."""


class BadRequestError(APIStatusError):
    pass


class AuthenticationError(APIStatusError):
    pass


class NoActiveSubscriptionError(AuthenticationError):
    """The business has no active Sage subscription: refreshing the token will not help; the
    subscription must be renewed (or the user must pick another business)."""


class PermissionDeniedError(APIStatusError):
    pass


class NotFoundError(APIStatusError):
    pass


class ConflictError(APIStatusError):
    pass


class UnprocessableEntityError(APIStatusError):
    pass


class DailyLimitReached(SageError):
    """A day's requests are used up (the business's or the app's): waiting minutes will not help,
    so it is never retried. ``resets_at``: when the day's count starts again (UTC)."""

    resets_at: dt.datetime


class QuotaExceededError(SageError):
    """The quota ledger had no room for the call, so nothing was sent: ``limit`` names which
    ("in_flight", "business_rate", "business_day", "app_day"); ``retry_at`` when to try again."""

    def __init__(self, limit: str, business_id: str | None, retry_at: float, why: str) -> None:
        self.limit = limit
        self.business_id = business_id
        self.retry_at = retry_at
        self.resets_at = dt.datetime.fromtimestamp(retry_at, dt.UTC)
        where = f"business {business_id}" if business_id else "the lead business"
        when = self.resets_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        super().__init__(redact(f"quota for {where}: {why}; try again at {when}"))


class QuotaBackendError(SageError):
    """The quota ledger's backend (Redis, the database) cannot be reached: the call is not sent
    uncounted (the cause is chained)."""


class DailyQuotaExceededError(QuotaExceededError, DailyLimitReached):
    """A day's total is used (``limit`` "business_day" or "app_day"); it resets at midnight UTC."""


class RateLimitError(APIStatusError):
    """429. ``limit`` is which of Sage's limits it was, when Sage's answer says so: "minute",
    "day" or "concurrency" (None: it does not say; retried with backoff like a 503)."""

    @property
    def limit(self) -> str | None:
        return rate_limit_kind(self.errors)


class DailyRateLimitError(RateLimitError, DailyLimitReached):
    """Sage's 429 for a day's quota: raised at once, never retried into. ``scope`` is "app"
    when Sage says the app's quota, else "business"; ``resets_at`` Sage's Retry-After when it
    gives one, else the next midnight UTC."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        words = " ".join(f"{e.data_code or ''} {e.message or ''}" for e in self.errors).lower()
        self.scope = "app" if re.search(r"\bapp(lication)?\b", words) else "business"
        now = time.time()
        if self.retry_after is not None:
            at = now + self.retry_after
        else:
            today = dt.datetime.fromtimestamp(now, dt.UTC).date()
            at = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), dt.UTC).timestamp()
        self.resets_at = dt.datetime.fromtimestamp(at, dt.UTC)


# Words in a 429's $dataCode/$message that say which limit it was (Sage documents none: these
# are the phrasings its gateway and guides use; an answer that matches none is left unclassified).
_KIND_WORDS = (
    ("concurrency", re.compile(r"concurren|in flight|simultaneous|parallel")),
    ("day", re.compile(r"\bday\b|daily|per day|24 hours|quota")),
    ("minute", re.compile(r"minute|per min\b|/min")),
)


def rate_limit_kind(details: list[ErrorDetail]) -> str | None:
    """Which limit a 429 names: "concurrency", "day", "minute", or None."""
    words = " ".join(f"{e.data_code or ''} {e.message or ''}" for e in details).lower()
    for kind, pattern in _KIND_WORDS:
        if pattern.search(words):
            return kind
    return None


class InternalServerError(APIStatusError):
    pass


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def parse_error_details(body: Any) -> list[ErrorDetail]:
    """Sage's error body is a JSON array of objects; tolerate a single object too."""
    entries = body if isinstance(body, list) else [body] if isinstance(body, dict) else []
    details = []
    for entry in entries:
        if isinstance(entry, Mapping):
            details.append(
                ErrorDetail(  # Sage's text may echo what it was sent: a code, a token
                    severity=_str(entry.get(wire.ERROR_SEVERITY)),
                    data_code=_str(entry.get(wire.ERROR_CODE)),
                    message=_str(entry.get(wire.ERROR_MESSAGE)),
                    source=_str(entry.get(wire.ERROR_SOURCE)) or None,
                )
            )
    return details


def status_error(
    *,
    status_code: int,
    method: str,
    path: str,
    request_id: str | None,
    business_id: str | None,
    body: Any,
    access_hint: str | None = None,
    retry_after: float | None = None,
    location: str | None = None,
    response: httpx.Response | None = None,
) -> APIStatusError:
    """The exception for an error response: by status, with Sage's details parsed."""
    details = parse_error_details(body)
    cls = _BY_STATUS.get(status_code)
    if cls is None:
        cls = (
            InternalServerError
            if status_code >= 500
            else RedirectError if 300 <= status_code < 400 else APIStatusError
        )
    if status_code == 401 and is_no_active_subscription(details):
        cls = NoActiveSubscriptionError
    if status_code == 429 and rate_limit_kind(details) == "day":
        cls = DailyRateLimitError
    kwargs: dict[str, Any] = {
        "status_code": status_code,
        "method": method,
        "path": path,
        "request_id": request_id,
        "business_id": business_id,
        "errors": details,
        "body": _redacted_body(body),
        "retry_after": retry_after,
        "response": response,
    }
    if cls is NoActiveSubscriptionError:
        kwargs["hint"] = "The business has no active subscription: refreshing will not help."
    if cls is PermissionDeniedError and access_hint and not _roles_irrelevant(details):
        kwargs["hint"] = f"This operation needs one of these roles: {access_hint}."
    if cls is RedirectError:
        kwargs["hint"] = (
            f"Redirects are not followed (Location: {_short(redact(location or '(none)'))})."
        )
    return cls(**kwargs)


# 403s that no role would cure: naming the roles the operation needs would mislead.
_ROLE_IRRELEVANT_CODES = frozenset({"BusinessNotFound"})


def _roles_irrelevant(details: list[ErrorDetail]) -> bool:
    return any(d.data_code in _ROLE_IRRELEVANT_CODES for d in details)


def is_no_active_subscription(details: list[ErrorDetail]) -> bool:
    return any("no active subscription" in (d.message or "").lower() for d in details)


def _str(value: Any) -> str | None:
    return None if value is None else redact(str(value))


def _short(body: Any) -> str:
    text = body if isinstance(body, str) else repr(body)
    return text if len(text) <= 200 else text[:197] + "..."


def _redacted_body(body: Any) -> Any:
    """The error body as kept on the exception: its strings with secrets removed."""
    if body is None:
        return None
    if isinstance(body, str):
        return redact(body)
    try:
        return json.loads(redact(json.dumps(body, default=str)))
    except (ValueError, RecursionError):  # redaction broke the JSON text: keep the text
        return redact(repr(body))
