"""Where a sync writes: a DuckDB file (the default, ``sage.duckdb``) or a PostgreSQL database,
named by one URL, as dlt destinations."""

from __future__ import annotations

import contextlib
import hashlib
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._runtime import ArgumentValueError
from ._errors import DestinationError

DEFAULT_DUCKDB = "sage.duckdb"
DEFAULT_DATASET = "books"


@dataclass(frozen=True)
class Destination:
    kind: str  # "duckdb" or "postgres"
    target: str  # the DuckDB file, or the PostgreSQL URL
    dataset: str = DEFAULT_DATASET

    @classmethod
    def parse(cls, url: str | None, dataset: str = DEFAULT_DATASET) -> Destination:
        """``None`` or a path (``ledger.duckdb``, ``duckdb:///ledger.duckdb``): DuckDB;
        ``postgresql://user:password@host:port/db``: PostgreSQL."""
        text = url or DEFAULT_DUCKDB
        scheme = urllib.parse.urlsplit(text).scheme
        if scheme in ("postgres", "postgresql"):
            return cls("postgres", _checked_postgres_url(text), dataset)
        if scheme == "duckdb":
            path = text[len("duckdb://") :].lstrip("/") or DEFAULT_DUCKDB
            return cls("duckdb", path, dataset)._checked()
        if scheme and len(scheme) > 1:  # a Windows drive letter is not a scheme
            raise ArgumentValueError(
                "to", f"{scheme}:// is not a destination: use a .duckdb file or postgresql://..."
            )
        return cls("duckdb", str(Path(text)), dataset)._checked()

    def _checked(self) -> Destination:
        if Path(self.target).stem == self.dataset:  # DuckDB names its catalog after the file
            raise ArgumentValueError(
                "dataset",
                f"{self.dataset!r} is also the DuckDB file's name ({self.target}): DuckDB could "
                "not tell the two apart; pick another dataset or file name",
            )
        return self

    def __str__(self) -> str:
        if self.kind == "duckdb":
            return self.target
        parts = urllib.parse.urlsplit(self.target)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return f"postgresql://{parts.username or ''}@{host}{port}{parts.path}"  # no password

    @contextlib.contextmanager
    def opened(self) -> Iterator[Any]:
        """What dlt connects with for the length of a sync: for DuckDB one connection, opened
        once (dlt opening and closing the file for each step cost ~half of its load: DuckDB
        writes its log into the file at each close); for PostgreSQL the URL. A DuckDB file
        another process has open is a ``DestinationError`` naming it."""
        if self.kind != "duckdb":
            yield self.target
            return
        import duckdb

        try:
            connection = duckdb.connect(self.target)
        except duckdb.Error as exc:
            raise DestinationError(f"cannot open {self.target}: {exc}") from None
        try:
            yield connection
        finally:
            connection.close()

    @contextlib.contextmanager
    def locked(self, businesses: list[str]) -> Iterator[None]:
        """Hold the businesses for the length of one load: into PostgreSQL, a session advisory
        lock per (dataset, business), taken in one order (no deadlock), so that two syncs of
        one business without leases take turns: two delete-inserts of the same keys at once
        can both insert. Into DuckDB the open file is already one process's (``opened``)."""
        if self.kind != "postgres":
            yield
            return
        import psycopg2

        try:
            connection = psycopg2.connect(self.target, connect_timeout=10)
            connection.autocommit = True
            with connection.cursor() as cursor:
                for business in sorted(set(businesses)):
                    key = int(short_hash(f"{self.dataset}\0{business}")[:15], 16)
                    cursor.execute("SELECT pg_advisory_lock(%s)", (key,))
        except psycopg2.Error as exc:
            raise DestinationError(f"cannot lock the businesses in {self}: {exc}".strip()) from None
        try:
            yield
        finally:
            connection.close()  # the locks go with the session

    def factory(self, credentials: Any, staging_suffix: str) -> Any:
        """The dlt destination (``credentials`` from ``opened()``). Each business's merge
        stages its rows in a dataset of its own (``sage_staging_<hash>``): workers loading
        different businesses at once never share a staging table."""
        import dlt

        layout = f"%s_staging_{staging_suffix}"
        if self.kind == "duckdb":
            return dlt.destinations.duckdb(credentials, staging_dataset_name_layout=layout)
        return dlt.destinations.postgres(credentials, staging_dataset_name_layout=layout)

    @property
    def file_format(self) -> str:
        # The files dlt writes from Arrow tables: Parquet, which DuckDB reads natively;
        # CSV, which PostgreSQL takes with COPY (dlt's SQL inserts are many times slower).
        return "parquet" if self.kind == "duckdb" else "csv"


def _checked_postgres_url(url: str) -> str:
    """The URL when its host and port can be connected to; else one line naming what is wrong
    (a placeholder such as ``postgresql://...`` used to end in a traceback from the IDNA codec)."""
    parts = urllib.parse.urlsplit(url)
    try:
        host = parts.hostname
        parts.port  # noqa: B018  (raises ValueError when out of range or not a number)
        if not host:
            raise ValueError("no host")
        host.encode("idna")
    except (ValueError, UnicodeError) as exc:
        # Shown without anything before the last @ and without the query: a password holding a
        # "/" (unquoted) ends urllib's netloc early, so the "port" it complains of is the
        # password; its complaint is repeated only for a URL with no credentials in it.
        scheme, _, rest = url.partition("://")
        shown = f"{scheme}://{rest.rpartition('@')[2].split('?')[0]}"
        reason = "" if "@" in url else f" ({exc})"
        raise ArgumentValueError(
            "to",
            f"{shown} is not a PostgreSQL URL{reason}: use postgresql://user:password@host:port/db",
        ) from None
    return url


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]
