"""The shared token stores against real servers (Redis, PostgreSQL, SQLite): one refresh per
grant across store objects (as across hosts), a holder whose lease ran out cannot overwrite a
newer pair, tokens encrypted at rest, a dead grant declared once, a server gone is an error.

The many-process runs (8 hosts for 60 s, kill -9, restarts) are in ``test_scale_race.py``."""

from __future__ import annotations

import concurrent.futures
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from sage_accounting import (
    OAuthApp,
    OAuthSession,
    Quota,
    QuotaLimits,
    RateLimit,
    ReauthorizationRequired,
    TokenSet,
    TokenStoreError,
)
from sage_accounting.testing import SageSandbox

pytest.importorskip("redis")
from sage_accounting.scale import RedisTokenStore, SQLTokenStore, TokenCipher  # noqa: E402


@pytest.fixture(params=["redis", "postgresql", "sqlite"])
def make_store(request: Any, tmp_path: Path) -> Any:
    """A factory of store objects for one grant: each call is another host's store."""
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        return lambda **kw: RedisTokenStore(url, "user-1", **kw)
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        return lambda **kw: SQLTokenStore(url, "user-1", **kw)
    path = tmp_path / "tokens.db"
    return lambda **kw: SQLTokenStore(f"sqlite:///{path}", "user-1", **kw)


def _pair(sage: SageSandbox) -> TokenSet:
    return TokenSet.from_response(sage.issue_tokens(), sage.clock.now())


def test_a_pair_saved_by_one_host_is_read_by_another(make_store: Any) -> None:
    with SageSandbox(demo_data=False) as sage:
        pair = _pair(sage)
        make_store().save(pair)
        assert make_store().load() == pair
        assert make_store(lease=5).load() == pair


def test_many_hosts_refresh_one_grant_once(make_store: Any) -> None:
    with SageSandbox(demo_data=False, access_token_seconds=300) as sage:
        app = sage.oauth_app()
        OAuthSession(app, make_store(), tokens=_pair(sage))
        sessions = [OAuthSession(app, make_store()) for _ in range(8)]
        for session in sessions:
            session.access_token()  # each has the pair in memory now
        sage.clock.advance(290)  # every one of them sees it about to expire
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            tokens = set(pool.map(lambda s: s.access_token(), sessions))
        assert len(tokens) == 1
        assert sage.count("refresh") == sage.count("rotation") == 1
        assert sage.count("grant killed") == 0


def test_a_holder_whose_lease_ran_out_cannot_overwrite_a_newer_pair(make_store: Any) -> None:
    with SageSandbox(demo_data=False) as sage:
        first, second = _pair(sage), _pair(sage)
        # renew=False: the holder's process stands still, its renewing thread too.
        slow, fast = make_store(lease=0.3, renew=False), make_store(lease=30)
        slow.save(_pair(sage))
        with slow.lock():
            assert slow.load() is not None
            time.sleep(0.5)  # paused past its lease: another host takes the lock
            with fast.lock():
                fast.load()
                fast.save(second)
            with pytest.raises(TokenStoreError, match="lock on the grant ran out"):
                slow.save(first)
        assert make_store().load() == second


def test_a_refresh_slower_than_the_lease_keeps_the_other_hosts_out(make_store: Any) -> None:
    """The lease is renewed while the lock is held: Sage taking 3 leases to answer a refresh
    does not let a second host refresh the same (by then spent) refresh token."""
    with SageSandbox(demo_data=False, access_token_seconds=300) as sage:

        class SlowApp(OAuthApp):
            def refresh(self, refresh_token: str) -> TokenSet:
                if threading.current_thread().name == "slow":
                    time.sleep(3.0)  # three leases
                return super().refresh(refresh_token)

        state = sage.state
        app = SlowApp(state.client_id, state.client_secret, state.redirect_uri,
                      token_url=sage.token_url, clock=sage.clock.now)  # fmt: skip
        OAuthSession(app, make_store(lease=1.0), tokens=_pair(sage))
        slow, other = OAuthSession(app, make_store(lease=1.0)), OAuthSession(app, make_store())
        slow.access_token(), other.access_token()  # each has the pair in memory
        sage.clock.advance(290)  # both see it about to expire
        first = threading.Thread(target=slow.access_token, name="slow")
        first.start()
        time.sleep(1.5)  # the slow refresh is under way, past its first lease
        token = other.access_token()
        first.join()
        assert sage.count("grant killed") == 0
        assert sage.count("refresh") == sage.count("rotation") == 1
        assert token == slow.access_token()


def test_tokens_are_encrypted_at_rest_and_a_wrong_key_is_an_error(make_store: Any) -> None:
    key = TokenCipher.generate_key()
    with SageSandbox(demo_data=False) as sage:
        pair = _pair(sage)
        store = make_store(cipher=TokenCipher(key))
        store.save(pair)
        raw, _ = store._read()
        assert raw is not None and pair.access_token.encode() not in raw
        assert pair.refresh_token and pair.refresh_token.encode() not in raw
        assert make_store(cipher=TokenCipher([TokenCipher.generate_key(), key])).load() == pair
        with pytest.raises(TokenStoreError, match="cannot be decrypted") as caught:
            make_store(cipher=TokenCipher(TokenCipher.generate_key())).load()
        assert pair.access_token not in str(caught.value)
        with pytest.raises(TokenStoreError, match="encrypted and no key was given"):
            make_store().load()  # encrypted bytes read without a key: refused, not guessed


def test_a_dead_grant_is_declared_once_and_not_refreshed_again(make_store: Any) -> None:
    with SageSandbox(demo_data=False) as sage:
        app = sage.oauth_app()
        pair = _pair(sage)
        session = OAuthSession(app, make_store(), tokens=pair)
        assert pair.refresh_token
        app.revoke(pair.refresh_token)
        sage.clock.advance(290)
        for _ in range(3):
            with pytest.raises(ReauthorizationRequired):
                session.access_token()
        assert sage.count("refresh") == 1


def test_an_unreachable_redis_is_a_token_store_error() -> None:
    from servers import free_port

    store = RedisTokenStore(f"redis://:hunter2@127.0.0.1:{free_port()}/0", socket_timeout=0.5)
    with pytest.raises(TokenStoreError, match="cannot read") as caught:
        store.load()
    assert "hunter2" not in str(caught.value) and "hunter2" not in repr(store)
    with pytest.raises(TokenStoreError, match="lock"):
        with store.lock():
            pass


def test_postgres_connections_dropped_are_replaced(postgres_server: Any, postgres_url: str) -> None:
    with SageSandbox(demo_data=False) as sage:
        store = SQLTokenStore(postgres_url, "user-1")
        pair = _pair(sage)
        store.save(pair)
        assert postgres_server.drop_connections() >= 1
        assert store.load() == pair  # the pool's dead connection is found and replaced
        store.save(_pair(sage))


def test_a_worker_started_while_connections_drop_starts_and_fails_typed(
    postgres_server: Any, postgres_url: str
) -> None:
    """The race's flake (a worker exiting 1, 2 runs in 9 under load): a store or quota backend
    made while PostgreSQL's connections were being terminated raised SQLAlchemy's untyped
    OperationalError from its constructor (it made the tables there). Now the objects are made
    without the database and each step fails typed until it is back."""
    from sage_accounting import QuotaBackendError
    from sage_accounting._runtime._quota import Ask, Window
    from sage_accounting.scale import SQLQuotaBackend

    database = postgres_url.rsplit("/", 1)[1]
    SQLTokenStore(postgres_url, "user-1").load()  # the tables exist, as when workers start
    stop = threading.Event()

    def terminate() -> None:
        while not stop.is_set():
            postgres_server.drop_connections(database)
            time.sleep(0.005)

    dropping = threading.Thread(target=terminate)
    dropping.start()
    failures: set[type[BaseException]] = set()
    try:
        for _ in range(5):
            store = SQLTokenStore(postgres_url, "user-1")  # never raises: no I/O
            backend = SQLQuotaBackend(postgres_url)
            quota = Quota(backend, QuotaLimits(business_rate=RateLimit(1000)))
            for step in (store.load, lambda q=quota: q.try_admit("app", "biz")):
                try:
                    step()
                except (TokenStoreError, QuotaBackendError) as exc:
                    failures.add(type(exc))
    finally:
        stop.set()
        dropping.join()
    assert failures  # the drops were met, and met as the SDK's typed errors only
    with SageSandbox(demo_data=False) as sage:
        store = SQLTokenStore(postgres_url, "user-1")
        store.save(_pair(sage))  # back to work once the database is
        assert store.load() is not None
    assert SQLQuotaBackend(postgres_url).admit(Ask(windows=(Window("w", 1, 61),)), time.time())


def test_a_save_that_meets_a_restart_is_retried_while_the_lock_is_held(
    redis_server: Any, redis_url: str
) -> None:
    """Found by the race (PostgreSQL, connections terminated as a refreshed pair was saved): a
    save that failed once let the holder give the lock back with the new pair in its memory
    only, and the next worker refreshed the stale pair: the grant died. The holder now tries the
    compare-and-swap again while it holds the lock (its lease renewed)."""
    with SageSandbox(demo_data=False) as sage:
        store, old, new = RedisTokenStore(redis_url, "user-1", lease=30), _pair(sage), _pair(sage)
        store.save(old)
        with store.lock():
            assert store.load() == old
            restarting = threading.Thread(target=redis_server.restart, kwargs={"down": 1.0})
            restarting.start()
            time.sleep(0.3)  # Redis is down now
            store.save(new)  # before: TokenStoreError at once
            restarting.join()
        assert RedisTokenStore(redis_url, "user-1").load() == new


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="grant"):
        SQLTokenStore("sqlite://", "")
    with pytest.raises(ValueError, match="generate_key"):
        TokenCipher("not a key")
    with pytest.raises(ValueError, match="url="):
        SQLTokenStore()
