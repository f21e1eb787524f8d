"""Every exception the SDK raises, and the one place HTTP responses are mapped to them.

    SageError
    ├── APIConnectionError            the request did not get a response
    │   └── APITimeoutError
    ├── BusinessMismatchError         the response is for another business than requested
    ├── ReauthorizationRequired       the user must authorize the app again (invalid_grant, ...)
    ├── OAuthError                    the OAuth flow failed (bad client credentials, ...)
    │   └── StateMismatchError        the callback's state is not the one sent
    └── APIStatusError                Sage answered with an error status
        ├── BadRequestError           400
        ├── AuthenticationError       401
        │   └── NoActiveSubscriptionError   401 "No active subscription": renew, not refresh
        ├── PermissionDeniedError     403 (names the areas and roles the operation needs)
        ├── NotFoundError             404
        ├── ConflictError             409
        ├── UnprocessableEntityError  422 (``.errors`` lists each field problem)
        ├── RateLimitError            429 (``.retry_after`` when Sage said)
        └── InternalServerError       5xx

Messages never contain tokens, secrets or authorization codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx


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


class ReauthorizationRequired(SageError):
    """The stored grant can no longer be used: send the user through authorization again."""


class OAuthError(SageError):
    """The OAuth flow failed: wrong client credentials, a refused authorization, ..."""


class StateMismatchError(OAuthError):
    """The callback's ``state`` is not the one this flow sent: the code is refused."""


class BusinessMismatchError(SageError):
    """Sage answered for a different business than the request named (data must never mix)."""

    def __init__(self, *, requested: str, received: str, method: str, path: str) -> None:
        self.requested, self.received, self.method, self.path = requested, received, method, path
        super().__init__(
            f"{method} {path}: asked for business {requested} but the response is for {received}"
        )


class APIConnectionError(SageError):
    def __init__(self, message: str, *, method: str, path: str, business_id: str | None) -> None:
        self.method, self.path, self.business_id = method, path, business_id
        super().__init__(f"{method} {path}: {message}")


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
        response: httpx.Response | None = None,
    ) -> None:
        self.status_code = status_code
        # The HTTP answer itself (status, headers such as Retry-After or X-Request-Id), as in
        # openai-python; its body was read already and is in ``body``.
        self.response = response
        self.method = method
        self.path = path
        self.request_id = request_id
        self.business_id = business_id
        self.errors = errors
        self.body = body
        self.hint = hint
        super().__init__(self._line())

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


class RateLimitError(APIStatusError):
    def __init__(self, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(**kwargs)


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
                ErrorDetail(
                    severity=_str(entry.get("$severity")),
                    data_code=_str(entry.get("$dataCode")),
                    message=_str(entry.get("$message")),
                    source=_str(entry.get("$source")) or None,
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
    response: httpx.Response | None = None,
) -> APIStatusError:
    """The exception for an error response: by status, with Sage's details parsed."""
    details = parse_error_details(body)
    cls = _BY_STATUS.get(status_code)
    if cls is None:
        cls = InternalServerError if status_code >= 500 else APIStatusError
    if status_code == 401 and is_no_active_subscription(details):
        cls = NoActiveSubscriptionError
    kwargs: dict[str, Any] = {
        "status_code": status_code,
        "method": method,
        "path": path,
        "request_id": request_id,
        "business_id": business_id,
        "errors": details,
        "body": body,
        "response": response,
    }
    if cls is NoActiveSubscriptionError:
        kwargs["hint"] = "The business has no active subscription: refreshing will not help."
    if cls is PermissionDeniedError and access_hint and not _roles_irrelevant(details):
        kwargs["hint"] = f"This operation needs one of these roles: {access_hint}."
    if cls is RateLimitError:
        kwargs["retry_after"] = retry_after
    return cls(**kwargs)


# 403s that no role would cure: naming the roles the operation needs would mislead.
_ROLE_IRRELEVANT_CODES = frozenset({"BusinessNotFound"})


def _roles_irrelevant(details: list[ErrorDetail]) -> bool:
    return any(d.data_code in _ROLE_IRRELEVANT_CODES for d in details)


def is_no_active_subscription(details: list[ErrorDetail]) -> bool:
    return any("no active subscription" in (d.message or "").lower() for d in details)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _short(body: Any) -> str:
    text = body if isinstance(body, str) else repr(body)
    return text if len(text) <= 200 else text[:197] + "..."
