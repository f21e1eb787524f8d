"""The quota ledger in one process: Sage's four limits counted before each request, the sandbox's
429s classified, a day's quota raised with its reset time, ``client.quota``.

The shared backends (Redis, SQL) and many processes are in ``test_scale.py``."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest

from sage_accounting import (
    DailyLimitReached,
    DailyQuotaExceededError,
    DailyRateLimitError,
    Quota,
    QuotaExceededError,
    QuotaLimits,
    RateLimit,
    RateLimitError,
)
from sage_accounting._runtime._quota import MemoryBackend
from sage_accounting.testing import Fault, SageSandbox, SandboxLimits


def _next_midnight() -> dt.datetime:
    today = dt.datetime.now(dt.UTC).date()
    return dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), dt.UTC)


def test_a_full_window_fails_fast_when_asked_and_nothing_is_sent() -> None:
    with SageSandbox(demo_data=False) as sage:
        quota = Quota(
            MemoryBackend(),
            QuotaLimits(business_rate=RateLimit(3, per=60)),
            on_limit="raise",
        )
        client = sage.client(quota=quota)
        for _ in range(3):
            client.contacts.list().first_page()
        with pytest.raises(QuotaExceededError) as caught:
            client.contacts.list().first_page()
        assert caught.value.limit == "business_rate"
        assert "per minute" in str(caught.value)
        assert 55 < caught.value.retry_at - time.time() <= 61
        assert sage.count("GET /contacts") == 3
        assert client.quota.business_rate.remaining == 0


def test_a_full_window_is_waited_for() -> None:
    with SageSandbox(demo_data=False) as sage:
        quota = Quota(MemoryBackend(), QuotaLimits(business_rate=RateLimit(2, per=1)))
        client = sage.client(quota=quota)
        started = time.monotonic()
        for _ in range(4):
            client.contacts.list().first_page()
        # 2 per (1 s + the 1 s margin): the third and fourth wait for the first window to pass.
        assert 1.8 < time.monotonic() - started < 4
        assert sage.count("GET /contacts") == 4


def test_a_wait_longer_than_max_wait_raises() -> None:
    with SageSandbox(demo_data=False) as sage:
        quota = Quota(MemoryBackend(), QuotaLimits(business_rate=RateLimit(1)), max_wait=5)
        client = sage.client(quota=quota)
        client.contacts.list().first_page()
        with pytest.raises(QuotaExceededError, match="max_wait=5"):
            client.contacts.list().first_page()


def test_the_days_budget_raises_with_its_reset_time_and_long_jobs_check_it_first() -> None:
    with SageSandbox(demo_data=False) as sage:
        quota = Quota(MemoryBackend(), QuotaLimits(business_per_day=5))
        client = sage.client(quota=quota)
        client.contacts.list().first_page()
        status = client.quota
        assert status.business_day.used == 1 and status.day_remaining == 4
        assert status.business_day.resets_at == _next_midnight()
        with pytest.raises(DailyQuotaExceededError, match="export needs about 10 requests"):
            status.require(10, what="export")
        status.require(4)
        for _ in range(4):
            client.contacts.list().first_page()
        with pytest.raises(DailyQuotaExceededError) as caught:
            client.contacts.list().first_page()
        assert isinstance(caught.value, DailyLimitReached)
        assert caught.value.resets_at == _next_midnight()
        assert sage.count("GET /contacts") == 5
        # Another business has its own day; the app's is shared.
        other = client.with_business("biz-second")
        other.contacts.list().first_page()
        assert other.quota.business_day.used == 1 and other.quota.app_day.used == 6


def test_the_in_flight_cap_holds_across_threads() -> None:
    import concurrent.futures

    with SageSandbox(demo_data=False) as sage:
        sage.inject(Fault.latency(0.05, times=40, path="/contacts"))
        quota = Quota(MemoryBackend(), QuotaLimits(in_flight=3, business_rate=None))
        client = sage.client(quota=quota)
        with concurrent.futures.ThreadPoolExecutor(10) as pool:
            list(pool.map(lambda _: client.contacts.list().first_page(), range(20)))
        assert sage.state.max_in_flight <= 3
        assert client.quota.in_flight.used == 0  # every slot given back


async def test_the_async_client_counts_in_the_same_ledger() -> None:
    with SageSandbox(demo_data=False) as sage:
        quota = Quota(MemoryBackend(), QuotaLimits(business_rate=RateLimit(2)), on_limit="raise")
        client = sage.async_client(quota=quota)
        await client.contacts.list().first_page()
        sage.client(quota=quota).contacts.list().first_page()
        with pytest.raises(QuotaExceededError):
            await client.contacts.list().first_page()
        await client.close()


@pytest.mark.parametrize(
    ("limits", "kind"),
    [
        (SandboxLimits(business_per_minute=2), "minute"),
        (SandboxLimits(in_flight=0), "concurrency"),
    ],
)
def test_sages_429s_are_classified(limits: SandboxLimits, kind: str) -> None:
    with SageSandbox(demo_data=False, limits=limits) as sage:
        # A client that does not know the sandbox's limits meets its 429s.
        client = sage.client(quota=Quota(MemoryBackend(), QuotaLimits.unlimited()), max_retries=0)
        with pytest.raises(RateLimitError) as caught:
            for _ in range(3):
                client.contacts.list().first_page()
        assert caught.value.limit == kind
        assert not isinstance(caught.value, DailyLimitReached)
        assert sage.count(f"429 {kind}") == 1


def test_a_minute_429_closes_the_window_for_every_client_of_the_ledger() -> None:
    with SageSandbox(demo_data=False, limits=SandboxLimits(business_per_minute=2)) as sage:
        quota = Quota(MemoryBackend(), QuotaLimits(business_rate=RateLimit(50)), on_limit="raise")
        client = sage.client(quota=quota, max_retries=0)
        with pytest.raises(RateLimitError):
            for _ in range(3):
                client.contacts.list().first_page()
        assert client.quota.business_rate.remaining == 0
        with pytest.raises(QuotaExceededError):  # the next one is not sent at all
            sage.client(quota=quota).contacts.list().first_page()
        assert sage.count("429 minute") == 1


def test_sages_day_429_is_not_retried_and_says_when_it_resets() -> None:
    with SageSandbox(demo_data=False, limits=SandboxLimits(business_per_day=2)) as sage:
        quota = Quota(MemoryBackend(), QuotaLimits(business_per_day=100))
        client = sage.client(quota=quota)  # retries on: a day's 429 must not use them
        client.contacts.list().first_page()
        client.contacts.list().first_page()
        with pytest.raises(DailyRateLimitError) as caught:
            client.contacts.list().first_page()
        error = caught.value
        assert error.limit == "day" and error.scope == "business"
        assert isinstance(error, DailyLimitReached) and isinstance(error, RateLimitError)
        assert abs((error.resets_at - _next_midnight()).total_seconds()) <= 2
        assert sage.count("429 day") == 1  # once: not retried
        # The ledger closed the business's day: nothing more is sent today.
        assert client.quota.day_remaining == 0
        with pytest.raises(DailyQuotaExceededError):
            client.contacts.list().first_page()
        assert sage.count("429 day") == 1


def test_the_default_ledger_counts_sages_documented_limits_and_quota_adds_the_rest() -> None:
    with SageSandbox(demo_data=False) as sage:
        status = sage.client(max_in_flight=150).quota  # the SDK's default, not the sandbox's
        assert (status.in_flight.limit, status.app_day.limit) == (150, 1_296_000)
        assert (status.business_rate.limit, status.business_day.limit) == (None, None)
        assert status.business_rate.remaining is None
        # Every client of the app shares that ledger: its first client set it.
        with pytest.raises(ValueError, match="set by its first client"):
            sage.client(rate_limit=RateLimit(10))
        status = sage.client(quota=Quota()).quota
        assert (status.business_rate.limit, status.business_day.limit) == (100, 2_500)


def test_rate_limit_sets_the_default_ledgers_business_rate() -> None:
    with SageSandbox(demo_data=False) as sage:
        assert sage.client(rate_limit=RateLimit(10)).quota.business_rate.limit == 10
        assert sage.client().quota.business_rate.limit is None  # sandbox's own quota


def test_quota_arguments_are_checked_before_any_call() -> None:
    with pytest.raises(ValueError, match="on_limit"):
        Quota(on_limit="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="business_per_day"):
        QuotaLimits(business_per_day=0)
    with SageSandbox(demo_data=False) as sage:
        with pytest.raises(ValueError, match="QuotaLimits"):
            sage.client(quota=Quota(), rate_limit=RateLimit(5))


def test_the_cli_export_checks_the_days_budget_before_it_starts(tmp_path: Any) -> None:
    pytest.importorskip("click")
    from sage_accounting._runtime import all_operations
    from sage_accounting.cli import _export
    from sage_accounting.models import Contact

    op = all_operations()["getContacts"]
    target = tmp_path / "contacts.jsonl"
    with SageSandbox(demo_data=False) as sage:
        sage.seed("contacts", 450, contact_type_ids=["CUSTOMER"])
        # 450 contacts are 3 pages and the deletions' list 1 more: with 1 request left after the
        # first page, the export stops once that page has sized it, and leaves no partial file.
        client = sage.client(quota=Quota(MemoryBackend(), QuotaLimits(business_per_day=2)))
        with pytest.raises(DailyQuotaExceededError, match="exporting 450 contacts needs about 3"):
            _export.run(client, op, Contact, target, {}, None, None, False)
        assert sage.count("GET /contacts") == 1
        assert not target.exists() and not list(tmp_path.iterdir())
        with pytest.raises(DailyQuotaExceededError, match="only 0 of 2 are left"):
            _export.run(client, op, Contact, target, {}, None, None, False)
        assert sage.count("GET /contacts") == 2
        with pytest.raises(DailyQuotaExceededError, match="exporting contacts needs about 1"):
            _export.run(client, op, Contact, target, {}, None, None, False)
        assert sage.count("GET /contacts") == 2  # the day is gone: nothing sent
        roomy = sage.client(quota=Quota(MemoryBackend(), QuotaLimits(business_per_day=10)))
        assert "exported 450 contacts" in _export.run(
            roomy, op, Contact, target, {}, None, None, False
        )


class _SlowBackend(MemoryBackend):
    """This process's counts, read as slowly as a backend across a network (local=False: the
    async client must not read it in its loop)."""

    local = False

    def read(self, ask: Any, now: float) -> Any:
        time.sleep(0.3)
        return super().read(ask, now)


async def test_the_async_clients_quota_is_awaited_without_blocking_its_loop() -> None:
    import asyncio

    with SageSandbox(demo_data=False) as sage:
        quota = Quota(_SlowBackend(), QuotaLimits(business_rate=RateLimit(5), business_per_day=9))
        async with sage.async_client(quota=quota) as client:
            await client.contacts.list().first_page()
            ticks = 0

            async def tick() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            ticking = asyncio.create_task(tick())
            status = await client.quota
            ticking.cancel()
        assert status.business_rate.used == 1 and status.business_rate.remaining == 4
        assert status.business_day.used == 1 and status.business_day.remaining == 8
        assert ticks >= 10  # the loop ran on while the ledger was read (0.3 s)


def _at(when: str) -> float:
    return dt.datetime.fromisoformat(when).replace(tzinfo=dt.UTC).timestamp()


def test_a_days_total_starts_again_at_midnight_utc_on_the_ledgers_clock() -> None:
    now = [_at("2026-03-01T23:59:59.999")]
    quota = Quota(
        MemoryBackend(),
        QuotaLimits(None, None, None, business_per_day=2),
        on_limit="raise",
        clock=lambda: now[0],
    )
    for _ in range(2):
        assert quota.try_admit("app", "biz") is not None
    with pytest.raises(DailyQuotaExceededError) as caught:
        quota.try_admit("app", "biz")
    assert caught.value.resets_at == dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    now[0] = _at("2026-03-02T00:00:00.001")  # the next UTC day: a fresh total
    for _ in range(2):
        quota.try_admit("app", "biz")
    with pytest.raises(DailyQuotaExceededError) as caught:
        quota.try_admit("app", "biz")
    assert caught.value.resets_at == dt.datetime(2026, 3, 3, tzinfo=dt.UTC)
    now[0] = _at("2026-03-01T12:00:00")  # a clock set back: that day's count again, still full
    with pytest.raises(DailyQuotaExceededError):
        quota.try_admit("app", "biz")
    assert quota.try_admit("app", "another business") is not None  # counted per business


def test_limits_changed_on_a_ledger_apply_from_its_next_call() -> None:
    quota = Quota(
        MemoryBackend(), QuotaLimits(None, None, None, business_per_day=1), on_limit="raise"
    )
    quota.try_admit("app", "biz")
    with pytest.raises(DailyQuotaExceededError):
        quota.try_admit("app", "biz")
    quota.limits = QuotaLimits(None, None, None, business_per_day=3)
    quota.try_admit("app", "biz")
    quota.try_admit("app", "biz")
    with pytest.raises(DailyQuotaExceededError):
        quota.try_admit("app", "biz")
    quota.limits = QuotaLimits(
        in_flight=1, app_per_day=None, business_rate=None, business_per_day=None
    )
    ticket = quota.try_admit("app", "biz")
    assert quota.status("app", "biz", "biz").in_flight.used == 1
    assert quota.try_admit("app", "biz").limit == "in_flight"  # type: ignore[union-attr]
    quota.release(ticket)  # type: ignore[arg-type]
    assert quota.status("app", "biz", "biz").in_flight.used == 0
