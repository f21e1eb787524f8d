"""A shared store named by one URL, as the command line takes it (``--tokens``, ``--quota``,
``--budgets``): ``redis://`` (``rediss://``, ``unix://``) is Redis; any other URL is a SQLAlchemy
URL (``postgresql+psycopg://...``, ``sqlite:///path``), which the SQL classes check."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from .._runtime import ArgumentValueError, QuotaBackend, TokenStore
from ._cipher import TokenCipher
from ._redis_quota import RedisQuotaBackend
from ._redis_tokens import RedisTokenStore
from ._sql_quota import SQLQuotaBackend
from ._sql_tokens import SQLTokenStore

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
KEY_VARIABLE = "SAGE_TOKENS_KEY"  # the Fernet key the stored tokens are encrypted with
ACCEPTED = "redis://host/0, postgresql+psycopg://user@host/db or sqlite:///path"


def quota_backend_at(url: str, argument: str = "url") -> QuotaBackend:
    """The quota ledger's backend at ``url``; an ``ArgumentValueError`` naming ``argument``
    for a URL that names no store."""
    with _named(argument):
        if url.startswith(REDIS_SCHEMES):
            return RedisQuotaBackend(url)
        return SQLQuotaBackend(_sql_url(url, argument))


def token_store_at(url: str, grant: str, argument: str = "url") -> TokenStore:
    """The token store of ``grant`` at ``url``, its tokens encrypted with the key in
    ``SAGE_TOKENS_KEY`` when that is set."""
    key = os.environ.get(KEY_VARIABLE)
    try:
        cipher = TokenCipher(key) if key else None
    except ArgumentValueError:  # the key itself is never repeated
        raise ArgumentValueError(
            argument,
            f"the key in {KEY_VARIABLE} is not a Fernet key (32 url-safe base64-encoded bytes: "
            "TokenCipher.generate_key() makes one)",
        ) from None
    with _named(argument):
        if url.startswith(REDIS_SCHEMES):
            return RedisTokenStore(url, grant, cipher=cipher)
        return SQLTokenStore(_sql_url(url, argument), grant, cipher=cipher)


@contextlib.contextmanager
def _named(argument: str) -> Iterator[None]:
    """The classes' errors about their ``url`` as errors about ``argument`` (the option)."""
    try:
        yield
    except ArgumentValueError as exc:
        if exc.argument != "url":
            raise
        raise ArgumentValueError(argument, str(exc).removeprefix("url: ")) from None


def _sql_url(url: str, argument: str) -> str:
    if "://" not in url:
        raise ArgumentValueError(argument, f"is not a store's URL: use {ACCEPTED}")  # not echoed
    return url
