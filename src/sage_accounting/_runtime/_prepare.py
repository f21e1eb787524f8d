"""Preparing a call: the arguments checked and encoded into one ``PreparedRequest``, before any
HTTP call, so that a wrong argument fails with a ``SageArgumentError`` naming it and nothing is
sent. The request is then sent, and re-sent on retry, as it is.

Also the one rule of where a URL may take the token (``is_within``): the client checks every
send against it, and pagers check ``$next`` with it before following.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypedDict, Unpack

import httpx

from . import _retry
from ._encoding import dumps, encode_query_value
from ._errors import ArgumentTypeError, ArgumentValueError, RequestValidationError
from ._errors import validation_problems as _validation_problems
from ._operation import Operation, idempotency_key
from ._options import RequestOptions, checked_max_retries, checked_timeout
from ._version import __version__
from .wire import (
    BUSINESS_HEADER,
    IDEMPOTENCY_FIELD,
    PAGE_PARAMETER,
    PAGE_SIZE_PARAMETER,
    REFUSED_HEADERS,
    REFUSED_QUERY,
)

if TYPE_CHECKING:
    from ._models import RequestModel

USER_AGENT = f"sage-accounting-python/{__version__}"
# Sage's ids are 32 hex characters and its keys short codes: a longer one is a mistake, and a
# megabyte of it would only fail later, as an InvalidURL, deep inside httpx.
MAX_ID_LENGTH = 1024
MissingBusinessHeader = Literal["warn", "error", "ignore"]
_OPTION_NAMES = frozenset(RequestOptions.__annotations__)


class CallParts(TypedDict, total=False):
    """A call's arguments, as generated methods pass them to the client's verbs."""

    path: Mapping[str, str] | None  # path parameters by name ("key")
    query: Mapping[str, Any] | None  # query parameters by wire name; None values are left out
    body: Any  # the request body (a model or a mapping), wrapped under the operation's body_key
    body_model: type[RequestModel] | None  # the model that checks a mapping body
    options: RequestOptions  # the caller's per-call options


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

    operation: Operation  # its facts: for the 403 message, agents' policies, the business check
    path: str  # the filled-in path, for messages
    url: str
    headers: dict[str, str]
    content: bytes | None
    business_id: str | None
    timeout: httpx.Timeout
    max_retries: int
    retry_allowed: bool
    stream: bool = False  # the body is read by the caller, in chunks (see _streaming)
    # The idempotency id it carries (in its body, or the operation's header), which Sage
    # answers a repeated POST with once; None when it carries none.
    idempotency_id: str | None = None

    @property
    def operation_id(self) -> str:
        return self.operation.id

    @property
    def page(self) -> int | None:
        """The page of a list this request asks for (1 when it names none); None for a request
        that is not a list's."""
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.url).query)
        if PAGE_PARAMETER in query:
            number = query[PAGE_PARAMETER][0]
            return int(number) if number.isdigit() else None
        return 1 if PAGE_SIZE_PARAMETER in query else None

    @property
    def method(self) -> str:
        return self.operation.method

    def with_url(self, url: str) -> PreparedRequest:
        """This request asking for ``url`` (each page of a walk), every other field as it is:
        the fields copied as a whole, without ``dataclasses.replace``'s look at each (~2 us a
        page); ``PreparedRequest`` has no ``__post_init__`` for ``replace`` to run."""
        copied = object.__new__(type(self))
        copied.__dict__.update(self.__dict__)
        copied.url = url
        return copied


def prepare(
    config: ClientConfig,
    op: Operation,
    *,
    accept: str = "application/json",
    **parts: Unpack[CallParts],
) -> PreparedRequest:
    """``op`` called with these arguments, as a request for ``config``'s base URL and business."""
    options = parts.get("options") or {}
    body, body_model = parts.get("body"), parts.get("body_model")
    unknown = set(options) - _OPTION_NAMES
    if unknown:
        # Generated methods take per-call options as **kwargs: a misspelt argument lands here.
        name = sorted(unknown)[0]
        raise ArgumentTypeError(name, f"unexpected keyword argument {name!r}")
    filled_path = fill_path(op.path, parts.get("path") or {})
    params = encode_query(op, parts.get("query") or {})
    for name, value in (options.get("extra_query") or {}).items():
        why = REFUSED_QUERY.get(str(name).lower())
        if why:
            raise ArgumentValueError("extra_query", f"query parameter {name!r} {why}")
        params[str(name)] = str(value)
    # None (or absent) means the client's business; "" is refused, never "no header".
    business_id = options.get("business_id")
    if business_id is None:
        business_id = config.business_id
    else:
        check_business_id(business_id)
    headers = {"Accept": accept, "User-Agent": USER_AGENT}
    for name, value in config.default_headers.items():  # checked by the client's constructor
        set_header(headers, name, value)
    if business_id:
        headers[BUSINESS_HEADER] = business_id
    content = None
    payload: dict[str, Any] = {}
    has_idempotency_id = False
    if op.body_key is not None and body is None and body_model is not None:
        raise ArgumentTypeError(op.body_key, "is required")
    if op.body_key is not None and body is not None:
        payload, has_idempotency_id = _encode_body(
            op, body, body_model, options.get("idempotency_id")
        )
        content = _dumps(op.body_key, payload)
        headers["Content-Type"] = "application/json"
    if op.idempotency_header:  # declared as a header (tax returns): filled like the body's id
        body_id = payload[op.body_key].get(IDEMPOTENCY_FIELD) if op.body_key else None
        key = idempotency_key(options.get("idempotency_id"), body_id)
        if key:
            headers[op.idempotency_header] = key
            has_idempotency_id = True
    for name, value in (options.get("extra_headers") or {}).items():
        check_header("extra_headers", name, value)
        set_header(headers, name, value)
    idempotency_id = _idempotency_id(op, payload, headers) if has_idempotency_id else None
    url = config.base_url + filled_path
    if params:
        url += "?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
    if len(url) > MAX_URL_LENGTH:
        longest = max(params, key=lambda name: len(params[name]), default="path")
        raise ArgumentValueError(
            longest,
            f"makes the URL too long: {len(url)} characters, at most {MAX_URL_LENGTH} can be sent",
        )
    timeout = options.get("timeout", config.timeout)
    max_retries = options.get("max_retries", config.max_retries)
    return PreparedRequest(
        operation=op,
        path=filled_path,
        url=url,
        headers=headers,
        content=content,
        # extra_headers may name the business too: the one sent is the one checked
        business_id=headers.get(BUSINESS_HEADER),
        timeout=checked_timeout("timeout", timeout),
        max_retries=checked_max_retries("max_retries", max_retries),
        retry_allowed=_retry.may_retry(op.method, has_idempotency_id),
        idempotency_id=idempotency_id,
    )


def _idempotency_id(op: Operation, payload: dict[str, Any], headers: dict[str, str]) -> str | None:
    """The idempotency id a request carries: its header's (the one sent), else its body's."""
    if op.idempotency_header:
        lower = op.idempotency_header.lower()
        sent = next((value for name, value in headers.items() if name.lower() == lower), None)
        if sent:
            return sent
    inner = payload.get(op.body_key) if op.body_key else None
    found = inner.get(IDEMPOTENCY_FIELD) if isinstance(inner, dict) else None
    return found if isinstance(found, str) else None


def encode_query(op: Operation, query: Mapping[str, Any]) -> dict[str, str]:
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


def fill_path(template: str, values: Mapping[str, str]) -> str:
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
    if "{" in path:  # a placeholder left unfilled would be sent as text: /contacts/{key}
        missing = path[path.index("{") + 1 : path.index("}")]
        raise ArgumentTypeError(missing, "is required")
    return path


def check_header(argument: str, name: object, value: object) -> None:
    """A header httpx can send as given: ASCII text without CR/LF (no header injection), and
    none of ``REFUSED_HEADERS`` (no changing the method, host, framing or Authorization)."""
    if not isinstance(name, str) or not isinstance(value, str):
        raise ArgumentTypeError(argument, f"header names and values must be str: {name!r}")
    why = REFUSED_HEADERS.get(name.lower())
    if why:
        raise ArgumentValueError(argument, f"header {name!r} {why}: it cannot be set")
    for what, text in (("name", name), ("value", value)):
        if not text.isascii() or any(ch in text for ch in "\r\n\0"):
            raise ArgumentValueError(
                argument, f"header {name!r}: the {what} must be ASCII without CR, LF or NUL"
            )


def refused_header(headers: Mapping[str, str]) -> str | None:
    """The first of ``headers`` no caller may set (Authorization aside: the client replaces it),
    e.g. one added to a ``PreparedRequest``'s headers after ``prepare``."""
    for name in headers:
        lower = name.lower()
        if lower in REFUSED_HEADERS and lower != "authorization":
            return name
    return None


def check_business_id(business_id: object) -> str:
    if not isinstance(business_id, str):
        raise ArgumentTypeError("business_id", f"must be a str, not {type(business_id).__name__}")
    if not business_id:
        raise ArgumentValueError(
            "business_id", "must not be empty (pass None, or leave it out, for the client's)"
        )
    if not business_id.isascii() or not business_id.isprintable():
        raise ArgumentValueError("business_id", "must be printable ASCII (no CR, LF, ...)")
    return business_id


def set_header(headers: dict[str, str], name: str, value: str) -> None:
    """Set a header, replacing any spelling of it: HTTP header names are case-insensitive."""
    lower = name.lower()
    for existing in [key for key in headers if key.lower() == lower]:
        del headers[existing]
    headers[BUSINESS_HEADER if lower == BUSINESS_HEADER.lower() else name] = value


# httpx refuses longer URLs (httpx._urlparse.MAX_URL_LENGTH) with a raw InvalidURL.
MAX_URL_LENGTH = 65536


def header_safe(text: str) -> bool:
    """Whether ``text`` can be sent as a header value as it is: printable ASCII (no CR or LF)."""
    return text.isascii() and text.isprintable()


_LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


def check_base_url(url: str, argument: str) -> str:
    """``url`` if the token may be sent to it: https (http only on loopback, where the sandbox
    runs), a host, no userinfo (which would change where, and how, it is sent), no query or
    fragment; else ``ArgumentValueError`` naming ``argument`` (``base_url`` or SAGE_BASE_URL)."""
    if not isinstance(url, str):
        raise ArgumentTypeError(argument, f"must be a str, not {type(url).__name__}")
    if any(ch.isspace() for ch in url):
        raise ArgumentValueError(argument, f"must not contain a space or line break: {url!r}")
    try:
        parsed = httpx.URL(url)
        port = parsed.port
    except (httpx.InvalidURL, TypeError, ValueError) as error:
        raise ArgumentValueError(argument, f"is not a URL ({error})") from None
    if port is not None and not 0 < port < 65536:
        raise ArgumentValueError(argument, f"has no valid port: {url!r}")
    if any(segment in (".", "..") for segment in url.split("?")[0].split("/")[3:]):
        raise ArgumentValueError(argument, f"must not hold a dot segment (. or ..): {url!r}")
    if parsed.scheme not in ("https", "http") or (
        parsed.scheme == "http" and parsed.host not in _LOOPBACK_HOSTS
    ):
        raise ArgumentValueError(
            argument, f"must be an https URL (http only on 127.0.0.1, ::1 or localhost): {url!r}"
        )
    if parsed.userinfo:
        raise ArgumentValueError(
            argument, "must not carry user information (user:password@ before the host)"
        )
    if not parsed.host:
        raise ArgumentValueError(argument, f"has no host: {url!r}")
    if parsed.query or parsed.fragment or url.rstrip("/").endswith(("?", "#")):
        raise ArgumentValueError(argument, f"must not carry a query or fragment: {url!r}")
    return url


def is_within(url: str, base_url: str) -> bool:
    """Whether ``url`` is at or below ``base_url`` (no trailing slash): same scheme, host and
    port, no userinfo, a path below the base path (decoded, so %2E%2E counts as ..) and no dot
    segment."""
    if url.startswith(base_url + "/") and "/." not in url and "%2e" not in url.lower():
        return True  # the common case, without parsing: the authority ends where the path starts
    try:
        target, base = httpx.URL(url), httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return False
    if (target.scheme, target.host, target.port) != (base.scheme, base.host, base.port):
        return False
    if target.userinfo:  # httpx would send it as Basic auth, in place of the token
        return False
    base_path = base.path.rstrip("/")
    if target.path != base_path and not target.path.startswith(base_path + "/"):
        return False
    return not any(segment in (".", "..") for segment in target.path.split("/"))


def _encode_body(
    op: Operation,
    value: Any,
    body_model: type[RequestModel] | None,
    idempotency_id: str | bool | None,
) -> tuple[dict[str, Any], bool]:
    """The wrapped payload (``{"contact": {...}}``), validated, and for POSTs with the
    idempotency id inside; and whether it carries one (which makes a POST retryable)."""
    key = op.body_key
    assert key is not None
    if body_model is not None:
        from pydantic import ValidationError  # loaded with the models, already in memory

        try:
            model = value if isinstance(value, body_model) else body_model.model_validate(value)
        except ValidationError as exc:
            raise RequestValidationError(key, _validation_problems(exc, key)) from None
        inner = model.to_body()
    elif isinstance(value, Mapping):
        inner = dict(value)
    else:
        raise ArgumentTypeError(key, f"must be a mapping, not {type(value).__name__}")
    has_id = False
    if op.method == "POST" and idempotency_id is not False:
        if idempotency_id is None or idempotency_id is True:
            inner.setdefault(IDEMPOTENCY_FIELD, os.urandom(16).hex())  # 32 hex characters
        elif not isinstance(idempotency_id, str) or not idempotency_id.isascii():
            raise ArgumentValueError("idempotency_id", "must be a str of 32 hex characters")
        else:
            inner[IDEMPOTENCY_FIELD] = idempotency_id
        has_id = True
    return {key: inner}, has_id


def _dumps(key: str, payload: dict[str, Any]) -> bytes:
    try:
        return dumps(payload)
    except TypeError as exc:  # a float, or a value JSON cannot carry
        raise ArgumentTypeError(key, str(exc)) from None
    except ValueError as exc:  # Decimal("NaN")
        raise ArgumentValueError(key, str(exc)) from None
