"""``RedisQuotaBackend``: the quota ledger's counts in Redis, shared by every process using it.

Each step of the ledger is one Lua script, so one round trip and atomic whoever else is
counting: ``admit`` checks every counter, window and the slots of an ``Ask`` and counts all of
them or none; ``settle`` gives a slot back and fills what a 429 said is full; ``read`` reads. The
scripts are registered once per backend and run by their SHA (``EVALSHA``; redis-py loads a
script again when a restarted Redis no longer knows it).

Keys (under ``prefix``): a day's counter is a string (``INCR``, expiring two days after its first
count); a moving window is a sorted set of entries scored by when they were admitted; the slots
in flight a sorted set scored by when each slot's lease ends (a slot of a process that died
leaves then). The scripts touch several keys, so they need one Redis, not a cluster.

(Our own scripts, not the ``limits`` library's storages as before: ``limits`` counts one limit
per call, so an admission of four limits was five round trips, 1.2-2.2 ms on this machine against
the 1 ms target; one script is one round trip: ``bench/bench_quota.py``.)
"""

from __future__ import annotations

import secrets
from typing import Any

from .._runtime._quota import Ask, Reading, Verdict
from ._redis import client_at, where

# ARGV: now, a nonce (this admission's slot and entries), #counters, #windows, #slots (0 or 1),
# then each counter's limit and expiry, each window's limit and seconds, the slots' limit and
# lease. KEYS: the counters', the windows', the slots'. Returns {what is full (0: nothing,
# 1 counter, 2 window, 3 slots), its index (0-based), when the window's oldest leaves}.
_HEAD = """
local now, nonce = tonumber(ARGV[1]), ARGV[2]
local nc, nw, ns = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local function limit(i) return tonumber(ARGV[4 + 2 * i]) end
local function span(i) return tonumber(ARGV[5 + 2 * i]) end
local function ms(seconds) return math.ceil(seconds * 1000) + 1000 end
"""
_ADMIT = _HEAD + """
for i = 1, nc do
  if tonumber(redis.call('GET', KEYS[i]) or '0') >= limit(i) then return {1, i - 1, ''} end
end
for i = nc + 1, nc + nw do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - span(i))
  if redis.call('ZCARD', KEYS[i]) >= limit(i) then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    return {2, i - nc - 1, string.format('%.6f', tonumber(oldest[2]) + span(i))}
  end
end
local s = nc + nw + 1
if ns == 1 then
  redis.call('ZREMRANGEBYSCORE', KEYS[s], '-inf', now)
  if redis.call('ZCARD', KEYS[s]) >= limit(s) then return {3, 0, ''} end
  redis.call('ZADD', KEYS[s], now + span(s), nonce)
  redis.call('PEXPIRE', KEYS[s], ms(span(s)))
end
for i = 1, nc do
  if redis.call('INCR', KEYS[i]) == 1 then redis.call('EXPIRE', KEYS[i], span(i)) end
end
for i = nc + 1, nc + nw do
  redis.call('ZADD', KEYS[i], now, nonce)
  redis.call('PEXPIRE', KEYS[i], ms(span(i)))
end
return {0, 0, ''}
"""
# ARGV as for _ADMIT, the nonce naming the entries that fill windows, then the slot to give
# back ('' for none).
_SETTLE = _HEAD + """
local s = nc + nw + 1
if ns == 1 and ARGV[6 + 2 * s] ~= '' then redis.call('ZREM', KEYS[s], ARGV[6 + 2 * s]) end
for i = 1, nc do
  local count = tonumber(redis.call('GET', KEYS[i]) or '0')
  if count < limit(i) then
    redis.call('INCRBY', KEYS[i], limit(i) - count)
    if redis.call('TTL', KEYS[i]) < 0 then redis.call('EXPIRE', KEYS[i], span(i)) end
  end
end
for i = nc + 1, nc + nw do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - span(i))
  for j = redis.call('ZCARD', KEYS[i]) + 1, limit(i) do
    redis.call('ZADD', KEYS[i], now, nonce .. ':' .. j)
  end
  redis.call('PEXPIRE', KEYS[i], ms(span(i)))
end
return 1
"""
# ARGV as for _ADMIT. Returns {slots taken, then each window's entries and when its oldest
# leaves ('' when empty), then each counter's value}; changes nothing.
_READ = _HEAD + """
local out = {}
local s = nc + nw + 1
out[1] = ns == 1 and redis.call('ZCOUNT', KEYS[s], '(' .. now, '+inf') or 0
for i = nc + 1, nc + nw do
  local since = '(' .. (now - span(i))
  table.insert(out, redis.call('ZCOUNT', KEYS[i], since, '+inf'))
  local oldest = redis.call('ZRANGEBYSCORE', KEYS[i], since, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  table.insert(out, oldest[2] and string.format('%.6f', tonumber(oldest[2]) + span(i)) or '')
end
for i = 1, nc do table.insert(out, tonumber(redis.call('GET', KEYS[i]) or '0')) end
return out
"""
_FULL: dict[int, Any] = {1: "counter", 2: "window", 3: "slots"}


class RedisQuotaBackend:
    """The ledger in Redis at ``url`` (``redis://host:port/db``); ``prefix`` namespaces the keys
    (one per app or environment sharing a Redis); ``options`` go to ``redis.Redis.from_url``."""

    local = False

    def __init__(self, url: str, *, prefix: str = "sage-quota", **options: Any) -> None:
        self.url = url
        self.prefix = prefix
        self._redis = client_at(url, options)
        self._admit = self._redis.register_script(_ADMIT)
        self._settle = self._redis.register_script(_SETTLE)
        self._read = self._redis.register_script(_READ)

    def __repr__(self) -> str:
        return f"RedisQuotaBackend({where(self._redis, self.url)!r})"  # never the password

    def _call(self, ask: Ask, now: float, nonce: str) -> tuple[list[str], list[Any]]:
        """The keys and arguments of ``ask`` for a script (see _ADMIT)."""
        keys = [c.key for c in ask.counters] + [w.key for w in ask.windows]
        args: list[Any] = [repr(now), nonce, len(ask.counters), len(ask.windows)]
        args.append(0 if ask.slots is None else 1)
        for counter in ask.counters:
            args += [counter.limit, counter.expiry]
        for window in ask.windows:
            args += [window.limit, repr(float(window.seconds))]
        if ask.slots is not None:
            keys.append(ask.slots.key)
            args += [ask.slots.limit, repr(float(ask.slots.lease))]
        return [f"{self.prefix}:{key}" for key in keys], args

    def admit(self, ask: Ask, now: float) -> Verdict:
        slot = secrets.token_hex(8)
        keys, args = self._call(ask, now, slot)
        full, index, retry_at = self._admit(keys=keys, args=args)
        if full == 0:
            return Verdict(slot=slot if ask.slots is not None else None)
        return Verdict(full=_FULL[full], index=int(index), retry_at=float(retry_at or 0.0))

    def settle(self, ask: Ask, now: float, slot: str | None = None) -> None:
        keys, args = self._call(ask, now, secrets.token_hex(8))
        self._settle(keys=keys, args=[*args, slot or ""])

    def read(self, ask: Ask, now: float) -> Reading:
        keys, args = self._call(ask, now, "")
        out = self._read(keys=keys, args=args)
        windows = tuple(
            (int(out[1 + 2 * i]), float(out[2 + 2 * i]) if out[2 + 2 * i] else None)
            for i in range(len(ask.windows))
        )
        counters = tuple(int(v) for v in out[1 + 2 * len(ask.windows) :])
        return Reading(int(out[0]), windows, counters)
