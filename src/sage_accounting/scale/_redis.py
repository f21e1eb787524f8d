"""What the Redis ledger and token store share: a client for a URL, and where it points.

redis-py reads a URL leniently: a port that is not a number is a bare ``ValueError`` (with a
piece of the URL in it, a password's where the password holds an unquoted ``/``), a database
path that is not a number is database 0 (``/1/2`` is database 12), and ``?password=`` and
``?db=`` in the query override what the rest says. So the URL is checked here, refused as an
``ArgumentValueError`` that repeats nothing of a URL with credentials in it, and a store names
where it is from what redis-py will connect to (host, port, database), never from the URL's text.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import redis

from .._runtime._errors import ArgumentValueError

FORM = "redis://[[user]:password@]host[:port][/db]"
_DATABASE_PATH = re.compile(r"/?\d*")


def client_at(url: str, options: dict[str, Any]) -> redis.Redis:
    """The client for ``url``, with 5 s timeouts unless ``options`` say otherwise."""
    options.setdefault("socket_timeout", 5.0)
    options.setdefault("socket_connect_timeout", 5.0)
    # A reason redis-py gives may quote the URL: repeated only for a URL without credentials.
    quiet = "@" in url
    try:
        parts = urlsplit(url)
        if parts.scheme in ("redis", "rediss") and not _DATABASE_PATH.fullmatch(parts.path):
            raise ValueError("the path is not a database number")
        return redis.Redis.from_url(url, **options)
    except ValueError as exc:
        reason = "" if quiet else f" ({exc})"
        raise ArgumentValueError("url", f"is not a Redis URL{reason}: use {FORM}") from None


def where(client: redis.Redis, url: str) -> str:
    """Where ``client`` connects, as a URL without credentials or options."""
    kwargs = client.connection_pool.connection_kwargs
    scheme = url.split("://", 1)[0]
    if "path" in kwargs:  # unix://
        return f"{scheme}://{kwargs['path']}?db={kwargs.get('db', 0)}"
    host, port = kwargs.get("host", "localhost"), kwargs.get("port", 6379)
    return f"{scheme}://{host}:{port}/{kwargs.get('db', 0)}"
