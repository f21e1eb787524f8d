"""Many workers on many hosts: Sage's quotas and the grant's refreshes shared between them.

Install with ``pip install 'sage-accounting[scale]'``.

- ``RedisQuotaBackend(url)`` / ``SQLQuotaBackend(url)``: the quota ledger's counts, shared by
  every process that uses the same Redis or database: ``Quota(RedisQuotaBackend(url))``.
- ``RedisTokenStore`` / ``SQLTokenStore``: token stores for ``OAuthSession`` that make exactly
  one refresh per grant across hosts (a lease lock with a fencing number, a compare-and-swap
  write); ``TokenCipher`` encrypts the stored tokens with your key.
- ``quota_backend_at(url)`` / ``token_store_at(url, grant)``: either kind named by one URL, as the
  command line's ``--quota``, ``--budgets`` and ``--tokens`` take it.
"""

from __future__ import annotations

from .._runtime._errors import missing_extra

try:
    from ._cipher import TokenCipher
    from ._redis_quota import RedisQuotaBackend
    from ._redis_tokens import RedisTokenStore
    from ._sql_quota import SQLQuotaBackend
    from ._sql_tokens import SQLTokenStore
    from ._urls import quota_backend_at, token_store_at
except ModuleNotFoundError as exc:  # installed without [scale]: say which extra, not which module
    raise missing_extra("sage_accounting.scale", "scale", exc) from exc

__all__ = [
    "RedisQuotaBackend",
    "RedisTokenStore",
    "SQLQuotaBackend",
    "SQLTokenStore",
    "TokenCipher",
    "quota_backend_at",
    "token_store_at",
]
