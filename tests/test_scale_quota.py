"""The shared quota backends against real servers: Redis, PostgreSQL and SQLite hold the same
counts for every process (here: two ledgers, as two hosts would have), atomically."""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path
from typing import Any

import pytest

from sage_accounting import Quota, QuotaExceededError, QuotaLimits, RateLimit
from sage_accounting.testing import SageSandbox

pytest.importorskip("redis")
pytest.importorskip("sqlalchemy")
from sage_accounting._runtime._quota import Ask, Counter, Slots, Window  # noqa: E402
from sage_accounting.agents import for_agent  # noqa: E402
from sage_accounting.scale import RedisQuotaBackend, SQLQuotaBackend  # noqa: E402


@pytest.fixture(params=["redis", "postgresql", "sqlite"])
def backend_factory(request: Any, tmp_path: Path) -> Any:
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        return lambda: RedisQuotaBackend(url)
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        return lambda: SQLQuotaBackend(url)
    return lambda: SQLQuotaBackend(f"sqlite:///{tmp_path / 'quota.db'}")


def test_two_ledgers_share_one_window_and_one_day(backend_factory: Any) -> None:
    limits = QuotaLimits(business_rate=RateLimit(5), business_per_day=8, in_flight=3)
    first = Quota(backend_factory(), limits, on_limit="raise")
    second = Quota(backend_factory(), limits, on_limit="raise")
    with SageSandbox(demo_data=False) as sage:
        a, b = sage.client(quota=first), sage.client(quota=second)
        for client in (a, b, a, b, a):
            client.contacts.list().first_page()
        with pytest.raises(QuotaExceededError) as caught:
            b.contacts.list().first_page()
        assert caught.value.limit == "business_rate"
        status = a.quota
        assert status.business_rate.remaining == 0
        assert status.business_day.used == 5 and status.app_day.used == 5
        assert status.in_flight.used == 0
        assert sage.count("GET /contacts") == 5


def test_concurrent_takers_never_exceed_a_window(backend_factory: Any) -> None:
    backends = [backend_factory() for _ in range(4)]
    window = Ask(windows=(Window("scope:biz:rate", 25, 61),))

    def take(index: int) -> bool:
        return backends[index % 4].admit(window, time.time()).full is None

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        taken = sum(pool.map(take, range(60)))
    assert taken == 25
    assert backends[0].read(window, time.time()).windows[0][0] == 25


def test_slots_are_capped_given_back_and_leased(backend_factory: Any) -> None:
    backend = backend_factory()
    two = Ask(slots=Slots("app:in_flight", 2, 60))
    slots = [backend.admit(two, time.time()).slot for _ in range(3)]
    assert slots[0] and slots[1] and slots[2] is None
    backend.settle(two, time.time(), slots[0])
    assert backend.read(two, time.time()).slots == 1
    # A slot whose process died comes back when its lease ends.
    assert backend.admit(Ask(slots=Slots("dead:in_flight", 1, 0.2)), time.time()).slot
    assert backend.admit(Ask(slots=Slots("dead:in_flight", 1, 60)), time.time()).slot is None
    time.sleep(0.3)
    assert backend.admit(Ask(slots=Slots("dead:in_flight", 1, 60)), time.time()).slot


def test_an_unreachable_backend_is_a_typed_error_and_nothing_is_sent() -> None:
    from servers import free_port

    from sage_accounting import QuotaBackendError

    gone = RedisQuotaBackend(f"redis://:hunter2@127.0.0.1:{free_port()}/0", socket_timeout=0.5)
    with SageSandbox(demo_data=False) as sage:
        client = sage.client(quota=Quota(gone, QuotaLimits()))
        with pytest.raises(QuotaBackendError, match="cannot admit the request") as caught:
            client.contacts.list().first_page()
        assert "hunter2" not in str(caught.value)
        with pytest.raises(QuotaBackendError, match="cannot be read"):
            client.quota  # noqa: B018
        assert sage.count("GET /contacts") == 0


def test_agents_on_two_hosts_share_one_budget(backend_factory: Any, tmp_path: Path) -> None:
    """The agents' budgets are the ledger's windows: two hosts (each its own audit database) with
    one shared backend count one budget."""
    from sage_accounting.agents import BudgetExceeded, parse_policy

    with SageSandbox(demo_data=False) as sage:
        policy = parse_policy(
            f'[businesses]\n"{sage.state.lead_business}" = "Lead"\n\n'
            '[agents.reader]\nareas = { Contacts = "read" }\nbudget = { per_minute = 3 }\n'
        )
        hosts = [
            for_agent(
                sage.client(),
                policy,
                "reader",
                audit=tmp_path / f"audit-{i}.sqlite",
                budgets=backend_factory(),
            )
            for i in range(2)
        ]
        for host in (hosts[0], hosts[1], hosts[0]):
            host.contacts.list().first_page()
        with pytest.raises(BudgetExceeded, match="budget of 3 calls a minute used"):
            hosts[1].contacts.list().first_page()
        assert sage.count("GET /contacts") == 3


def test_concurrent_admissions_of_every_limit_are_all_or_nothing(backend_factory: Any) -> None:
    """Counters, a window and slots in one admission, from 8 threads on 4 backend objects: the
    tightest limit holds exactly, and nothing is counted for a refused call (no deadlock on
    SQL, which locks every key of a step)."""
    backends = [backend_factory() for _ in range(4)]
    ask = Ask(
        counters=(Counter("s:b:day", 30, 3600), Counter("s:day", 1000, 3600)),
        windows=(Window("s:b:rate", 40, 61),),
        slots=Slots("s:in_flight", 100, 60),
    )

    def take(index: int) -> bool:
        return backends[index % 4].admit(ask, time.time()).full is None

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        taken = sum(pool.map(take, range(60)))
    reading = backends[1].read(ask, time.time())
    assert taken == 30
    assert reading.counters == (30, 30) and reading.windows[0][0] == 30 and reading.slots == 30


def test_a_redis_that_forgot_the_scripts_loads_them_again(redis_url: str) -> None:
    import redis

    backend = RedisQuotaBackend(redis_url, prefix="forgetful")
    ask = Ask(windows=(Window("w", 2, 61),))
    assert backend.admit(ask, time.time()).full is None
    redis.Redis.from_url(redis_url).script_flush()  # as after a restart without its scripts
    assert backend.admit(ask, time.time()).full is None
    assert backend.admit(ask, time.time()).full == "window"


@pytest.mark.parametrize("kind", ["minute", "day"])
def test_a_429_seen_by_one_host_closes_the_limit_for_the_others(
    backend_factory: Any, kind: str
) -> None:
    from sage_accounting import DailyQuotaExceededError, RateLimitError
    from sage_accounting.testing import SandboxLimits

    sandbox = (
        SandboxLimits(business_per_minute=2)
        if kind == "minute"
        else SandboxLimits(business_per_day=2)
    )
    limits = QuotaLimits(business_rate=RateLimit(50), business_per_day=100)
    with SageSandbox(demo_data=False, limits=sandbox) as sage:
        first = sage.client(quota=Quota(backend_factory(), limits, on_limit="raise"), max_retries=0)
        with pytest.raises(RateLimitError):
            for _ in range(3):
                first.contacts.list().first_page()
        other = sage.client(quota=Quota(backend_factory(), limits, on_limit="raise"))
        expected = QuotaExceededError if kind == "minute" else DailyQuotaExceededError
        with pytest.raises(expected) as caught:  # not sent: the ledger learnt Sage's answer
            other.contacts.list().first_page()
        assert caught.value.limit == ("business_rate" if kind == "minute" else "business_day")
        assert sage.count(f"429 {kind}") == 1
        assert other.quota.in_flight.used == 0  # every slot given back, the 429's too
