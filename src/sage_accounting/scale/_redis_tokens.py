"""``RedisTokenStore``: one grant's tokens in Redis, one refresh at a time across hosts.

Three keys per grant: ``<prefix>:<grant>`` (a hash: the pair, its sequence),
``<prefix>-lock:<grant>`` ("owner:fence", expiring with the lease, on Redis's clock) and
``<prefix>-fence:<grant>`` (the counter of fencing numbers). The lock's and the counter's prefixes
differ from the pair's before the grant's name begins, so no grant's name (``acme:lock``) can be
another grant's lock. Each step is one Lua script, so it is atomic. Run Redis with its append-only
file fsynced on every write (``appendonly yes``, ``appendfsync always``): a refreshed pair Redis
acknowledged must survive Redis's restart, since Sage has retired the one before it.
"""

from __future__ import annotations

from typing import Any

from ._cipher import TokenCipher
from ._leased import DEFAULT_LEASE, LeasedTokenStore
from ._redis import client_at, where

_TAKE = """
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, #ARGV[1] + 1) ~= ARGV[1] .. ':' then return 0 end
local fence = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. fence, 'PX', ARGV[2])
return fence
"""
_GIVE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""
_RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""
_SWAP = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return -1 end
local sequence = tonumber(redis.call('HGET', KEYS[1], 'sequence') or '0')
if sequence ~= tonumber(ARGV[2]) then return -2 end
redis.call('HSET', KEYS[1], 'data', ARGV[3], 'sequence', sequence + 1)
return sequence + 1
"""


class RedisTokenStore(LeasedTokenStore):
    """The tokens of ``grant`` (a name you choose: the user, the tenant) in the Redis at
    ``url``. ``lease``: seconds a lock outlives a holder that died (renewed while held, unless
    ``renew=False``); ``cipher``: a ``TokenCipher`` to encrypt the pair at rest."""

    def __init__(
        self,
        url: str,
        grant: str = "default",
        *,
        lease: float = DEFAULT_LEASE,
        wait: float | None = None,
        cipher: TokenCipher | None = None,
        renew: bool = True,
        prefix: str = "sage-tokens",
        **options: Any,
    ) -> None:
        super().__init__(grant, lease=lease, wait=wait, cipher=cipher, renew=renew)
        self.url = url
        self._redis = client_at(url, options)
        self._key = f"{prefix}:{grant}"
        self._lock_key, self._fence_key = f"{prefix}-lock:{grant}", f"{prefix}-fence:{grant}"
        self._take_script = self._redis.register_script(_TAKE)
        self._give_script = self._redis.register_script(_GIVE)
        self._swap_script = self._redis.register_script(_SWAP)
        self._renew_script = self._redis.register_script(_RENEW)

    def __repr__(self) -> str:
        return f"RedisTokenStore({self._where()!r})"

    def _where(self) -> str:
        return f"{where(self._redis, self.url)} {self._key}"  # never a password

    def _take(self, owner: str, lease: float) -> int | None:
        fence = int(
            self._take_script(
                keys=[self._lock_key, self._fence_key], args=[owner, max(1, int(lease * 1000))]
            )
        )
        return fence or None

    def _give(self, owner: str, fence: int) -> None:
        self._give_script(keys=[self._lock_key], args=[f"{owner}:{fence}"])

    def _renew(self, owner: str, fence: int, lease: float) -> bool:
        args: list[str | int] = [f"{owner}:{fence}", max(1, int(lease * 1000))]
        return bool(int(self._renew_script(keys=[self._lock_key], args=args)))

    def _read(self) -> tuple[bytes | None, int]:
        values: Any = self._redis.hmget(self._key, ["data", "sequence"])  # sync client: a list
        data, sequence = values
        return data, int(sequence or 0)

    def _swap(self, data: bytes, expected: int, owner: str, fence: int) -> int | None:
        result = int(
            self._swap_script(
                keys=[self._key, self._lock_key], args=[f"{owner}:{fence}", expected, data]
            )
        )
        return result if result > 0 else None
