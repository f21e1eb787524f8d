"""Sage's wire facts: what Sage Business Cloud Accounting v3.1 writes and reads on the wire, in
one place, for the client and the sandbox (``sage_accounting.testing``) alike.

Headers, the list envelope's keys, the page parameters and their limits, the timestamp format
(and its parsing), and the paths that are about the user rather than one business. What the
generator needs of these lives in ``generator/sage_codegen/sage_rules.py`` (a separate package,
which does not import the SDK). Rules *about* these facts live with their users: when to retry
on ``Retry-After`` in ``_retry.py``, how pages are walked in ``_pagination.py``, which headers a
caller may not set in ``_prepare.py`` (from ``REFUSED_HEADERS`` here).

No imports beyond the standard library: everything may import this module.
"""

from __future__ import annotations

import datetime as dt
import time

# -- where ----------------------------------------------------------------------------------------

API_ORIGIN = "https://api.accounting.sage.com"
API_VERSION_PATH = "/v3.1"
"""Every operation's path is below this one; ``$next``, ``$back`` and ``$path`` are relative
to it (so ``urljoin`` with them would drop the version)."""

# -- headers ------------------------------------------------------------------------------------

BUSINESS_HEADER = "X-Business"
"""Selects the business a request is for (absent: the lead business); Sage answers it back on
every business's answer, so the client compares the two."""

REQUEST_ID_HEADER = "X-Request-Id"
"""The request id's usual spelling (the one the sandbox sends)."""

REQUEST_ID_HEADERS = ("x-request-id", "x_request_id", "request-id")
"""Every spelling of the request id Sage has been seen to use, in the order they are read
(Sage writes ``x_request_id``; the exact spelling is unconfirmed)."""

RETRY_AFTER_HEADER = "Retry-After"
"""Seconds or an HTTP date, on 429 and 503 (and the daily quota's 429: seconds to midnight)."""

DATE_HEADER = "Date"
"""Sage's clock, which change cursors take when it is earlier than ours."""

IDEMPOTENCY_FIELD = "idempotency_id"
"""The key inside a POST's body object that makes Sage create the record once, however often
the request is sent. (The tax-return POSTs' header, ``X-Idempotency-Key``, reaches the runtime
as ``Operation.idempotency_header``, from the generator.)"""

REFUSED_HEADERS = {
    **dict.fromkeys(
        ("x-http-method-override", "x-http-method", "x-method-override", "x-original-method"),
        "overrides the request's method",
    ),
    **dict.fromkeys(("x-original-url", "x-rewrite-url"), "overrides the request's path"),
    "host": "is the base URL's host, set by the client",
    **dict.fromkeys(
        (
            "connection",
            "keep-alive",
            "proxy-connection",
            "te",
            "trailer",
            "trailers",
            "transfer-encoding",
            "upgrade",
            "proxy-authorization",
            "proxy-authenticate",
        ),
        "is a hop-by-hop header, set by the transport",
    ),
    **dict.fromkeys(("content-length", "expect"), "frames the body, set by the transport"),
    "authorization": "carries the client's token, set by the client",
}
"""Headers a caller may not set (lowercase), and why: they would change what the token is sent
with. The method or the URL a server acts on (overrides that some gateways and frameworks
honour), the host, hop-by-hop and framing headers (httpx writes those from the request itself),
and the Authorization the client attaches."""

REFUSED_QUERY = {"_method": "overrides the request's method"}
"""Query parameters some frameworks read as the method to act with."""

# -- the list envelope --------------------------------------------------------------------------
# A list answers ``{"$items": [...], "$total", "$page", "$next", "$back", "$itemsPerPage"}``
# although the spec declares a bare array. ``$next`` and ``$back`` are paths relative to the
# version (``/contacts?page=2&items_per_page=20``), or null; ``$next`` is not always present.

ITEMS = "$items"
TOTAL = "$total"
PAGE = "$page"
NEXT = "$next"
BACK = "$back"
ITEMS_PER_PAGE = "$itemsPerPage"
ITEMS_PER_PAGE_BUSINESSES = "$items_per_page"
"""How /businesses spells the page size (its one list, which has no further pages)."""

ERROR_SEVERITY = "$severity"
ERROR_CODE = "$dataCode"
ERROR_MESSAGE = "$message"
ERROR_SOURCE = "$source"
"""The keys of each object of Sage's error body, a JSON array of them."""

# -- records ------------------------------------------------------------------------------------

RECORD_PATH = "$path"
"""A record's own path, relative to the version (``/contacts/{id}``)."""
LINK_FIELDS = ("id", "displayed_as", RECORD_PATH)
"""What a link to a record holds, and all a list's records hold without ``attributes``."""

# -- pages --------------------------------------------------------------------------------------

PAGE_PARAMETER = "page"  # from 1; a page past the end answers the last page again
PAGE_SIZE_PARAMETER = "items_per_page"
MAX_PAGE_SIZE = 200
"""The most records Sage answers in one page (it caps a larger ``items_per_page`` to this)."""
SAGE_DEFAULT_PAGE_SIZE = 20
"""The page size Sage answers when a list names none."""

# -- change filters -----------------------------------------------------------------------------

UPDATED_SINCE = "updated_or_created_since"
"""A list's records created or updated at or after this time (inclusive)."""
DELETED_SINCE = "deleted_since"
"""A list's records deleted after this time (exclusive), instead of the live ones."""
CHANGE_FEED_PARAMETERS = (UPDATED_SINCE, DELETED_SINCE)
"""A list taking both is one a change feed can poll."""

# -- timestamps ---------------------------------------------------------------------------------

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
"""Sage's date-times in UTC to the second (``2026-01-31T09:30:00Z``); fractions and offsets
are read too (``parse_timestamp``)."""


def format_timestamp(value: dt.datetime | float) -> str:
    """RFC 3339 in UTC, ``Z``-suffixed: a datetime (aware; naive ones are refused with a
    ValueError, since a polling window off by the machine's UTC offset loses changes silently)
    with its microseconds when it has any, or epoch seconds to the second."""
    if not isinstance(value, dt.datetime):
        return time.strftime(TIMESTAMP_FORMAT, time.gmtime(value))
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"datetime {value.isoformat()} has no timezone; pass an aware datetime")
    utc = value.astimezone(dt.UTC)
    text = utc.isoformat(timespec="microseconds" if utc.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def parse_timestamp(text: str) -> dt.datetime:
    """An ISO 8601 date-time as Sage and its users write it (``Z`` or ``z`` for UTC, an offset,
    fractions; a bare date is its midnight), or ValueError. Naive when the text has no zone:
    whether that is refused or read as UTC is the caller's rule."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a date-time")
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))


# -- paths --------------------------------------------------------------------------------------

NON_BUSINESS_RESOURCES = frozenset({"businesses", "user"})
"""Sage's user-accounts API (/businesses, /businesses/{key}, /user): about the user, not one
business. These take no ``X-Business`` and answer none."""


def takes_business(path: str) -> bool:
    """Whether the operation at ``path`` (``/contacts/{key}``, relative to the version) acts
    inside one business, and so takes and answers ``X-Business``."""
    return path.lstrip("/").split("/", 1)[0].split("?", 1)[0] not in NON_BUSINESS_RESOURCES
