"""Where a sync writes: a DuckDB file (the default, ``sage.duckdb``) or a PostgreSQL database,
named by one URL, as dlt destinations."""

from __future__ import annotations

import hashlib
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._runtime import ArgumentValueError

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

    def factory(self, staging_suffix: str) -> Any:
        """The dlt destination. Each business's merge stages its rows in a dataset of its own
        (``sage_staging_<hash>``): workers loading different businesses at once never share a
        staging table."""
        import dlt

        layout = f"%s_staging_{staging_suffix}"
        if self.kind == "duckdb":
            return dlt.destinations.duckdb(self.target, staging_dataset_name_layout=layout)
        return dlt.destinations.postgres(self.target, staging_dataset_name_layout=layout)

    @property
    def file_format(self) -> str | None:
        # jsonl loads into DuckDB ~4x faster than SQL inserts; PostgreSQL keeps dlt's default.
        return "jsonl" if self.kind == "duckdb" else None


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
        shown = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()  # no password
        raise ArgumentValueError(
            "to",
            f"{shown} is not a PostgreSQL URL ({exc}): use postgresql://user:password@host:port/db",
        ) from None
    return url


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]
