"""``RedisQuotaBackend``: the quota ledger's counts in Redis, shared by every process using it.

Windows and day counters are the ``limits`` library's (its moving window and counters run as
Lua scripts, so each step is atomic whoever else is counting); the slots in flight, which
``limits`` has no notion of, are a sorted set of leases changed by one script each (a slot of a
process that died leaves when its lease ends).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from limits import RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

_TAKE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""
_COUNT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZCARD', KEYS[1])
"""


class RedisQuotaBackend:
    """The ledger in Redis at ``url`` (``redis://host:port/db``); ``prefix`` namespaces the keys
    (one per app or environment sharing a Redis)."""

    local = False

    def __init__(self, url: str, *, prefix: str = "sage-quota", **options: Any) -> None:
        self.url = url
        self.prefix = prefix
        self._storage = RedisStorage(url, **options)
        self._windows = MovingWindowRateLimiter(self._storage)
        self._redis = self._storage.storage  # limits' redis-py client (its connection pool)
        self._take = self._redis.register_script(_TAKE)
        self._count = self._redis.register_script(_COUNT)

    def __repr__(self) -> str:
        where = self.url.split("@")[-1]  # never the password
        return f"RedisQuotaBackend({where!r})"

    def _key(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    def window_hit(self, key: str, limit: int, seconds: int, cost: int = 1) -> bool:
        item = RateLimitItemPerSecond(limit, seconds, namespace=self.prefix)
        return self._windows.hit(item, key, cost=cost)

    def window_stats(self, key: str, limit: int, seconds: int) -> tuple[float, int]:
        item = RateLimitItemPerSecond(limit, seconds, namespace=self.prefix)
        stats = self._windows.get_window_stats(item, key)
        return float(stats.reset_time), int(stats.remaining)

    def counter_add(self, key: str, amount: int, expiry: int) -> int:
        return int(self._storage.incr(self._key(key), expiry, amount))

    def counter_get(self, key: str) -> int:
        return int(self._storage.get(self._key(key)))

    def slot_take(self, key: str, limit: int, lease: float) -> str | None:
        now, slot = time.time(), secrets.token_hex(8)
        args = [now, limit, now + lease, slot, int(lease * 1000) + 1000]
        return slot if self._take(keys=[self._key(key)], args=args) else None

    def slot_give(self, key: str, slot: str) -> None:
        self._redis.zrem(self._key(key), slot)

    def slot_count(self, key: str) -> int:
        return int(self._count(keys=[self._key(key)], args=[time.time()]))
