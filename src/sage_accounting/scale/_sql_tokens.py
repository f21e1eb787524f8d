"""``SQLTokenStore``: one grant's tokens in a SQL database (PostgreSQL, or SQLite on one host),
one refresh at a time across hosts.

Two tables: ``sage_tokens`` (grant, sequence, the pair) and ``sage_token_locks`` (grant, owner,
fencing number, lease end on the database's clock). Taking the lock, giving it back and the
compare-and-swap write are each one transaction that locks the grant's lock row first.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, LargeBinary, MetaData, String, Table, select, update
from sqlalchemy.engine import Engine

from ._cipher import TokenCipher
from ._leased import DEFAULT_LEASE, LeasedTokenStore
from ._sql import Tables, database_now, engine_for, lock_key, shown, transaction

metadata = MetaData()
tokens_table = Table(
    "sage_tokens",
    metadata,
    Column("grant_key", String(255), primary_key=True),
    Column("sequence", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
)
locks_table = Table(
    "sage_token_locks",
    metadata,
    Column("grant_key", String(255), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("fence", Integer, nullable=False),
    Column("expires_at", Float, nullable=False),
)
_FREE = {"owner": "", "fence": 0, "expires_at": 0.0}


class SQLTokenStore(LeasedTokenStore):
    """The tokens of ``grant`` in the database at ``url`` (``postgresql+psycopg://...`` or
    ``sqlite:///path``) or ``engine``; the tables are made when missing (on first use). ``lease``,
    ``renew`` and ``cipher`` as for ``RedisTokenStore``."""

    def __init__(
        self,
        url: str | None = None,
        grant: str = "default",
        *,
        engine: Engine | None = None,
        lease: float = DEFAULT_LEASE,
        wait: float | None = None,
        cipher: TokenCipher | None = None,
        renew: bool = True,
    ) -> None:
        super().__init__(grant, lease=lease, wait=wait, cipher=cipher, renew=renew)
        self.engine = engine_for(url, engine)
        self._tables = Tables(self.engine, metadata)

    def __repr__(self) -> str:
        return f"SQLTokenStore({self._where()!r})"

    def _where(self) -> str:
        return f"{shown(self.engine)} grant {self.grant}"

    def _take(self, owner: str, lease: float) -> int | None:
        self._tables.ensure()
        with transaction(self.engine) as connection:
            row = lock_key(connection, locks_table, locks_table.c.grant_key, self.grant, _FREE)
            now = database_now(connection)
            if row.owner not in ("", owner) and row.expires_at > now:
                return None
            fence = int(row.fence) + 1
            connection.execute(
                update(locks_table)
                .where(locks_table.c.grant_key == self.grant)
                .values(owner=owner, fence=fence, expires_at=now + lease)
            )
            return fence

    def _give(self, owner: str, fence: int) -> None:
        self._tables.ensure()
        with transaction(self.engine) as connection:
            connection.execute(
                update(locks_table)
                .where(
                    locks_table.c.grant_key == self.grant,
                    locks_table.c.owner == owner,
                    locks_table.c.fence == fence,
                )
                .values(owner="", expires_at=0.0)
            )

    def _renew(self, owner: str, fence: int, lease: float) -> bool:
        self._tables.ensure()
        with transaction(self.engine) as connection:
            now = database_now(connection)
            renewed = connection.execute(
                update(locks_table)
                .where(
                    locks_table.c.grant_key == self.grant,
                    locks_table.c.owner == owner,
                    locks_table.c.fence == fence,
                    locks_table.c.expires_at > now,
                )
                .values(expires_at=now + lease)
            )
            return bool(renewed.rowcount == 1)

    def _read(self) -> tuple[bytes | None, int]:
        self._tables.ensure()
        with self.engine.connect() as connection:
            row = connection.execute(
                select(tokens_table.c.data, tokens_table.c.sequence).where(
                    tokens_table.c.grant_key == self.grant
                )
            ).first()
        return (None, 0) if row is None else (bytes(row.data), int(row.sequence))

    def _swap(self, data: bytes, expected: int, owner: str, fence: int) -> int | None:
        self._tables.ensure()
        with transaction(self.engine) as connection:
            held = lock_key(connection, locks_table, locks_table.c.grant_key, self.grant, _FREE)
            if held.owner != owner or held.fence != fence:
                return None
            row = lock_key(
                connection,
                tokens_table,
                tokens_table.c.grant_key,
                self.grant,
                {"sequence": 0, "data": b""},
            )
            if row.sequence != expected:
                return None
            connection.execute(
                update(tokens_table)
                .where(tokens_table.c.grant_key == self.grant)
                .values(sequence=expected + 1, data=data)
            )
            return expected + 1
